"""Fault injection against the local stack: DynamoDB throttling, lost responses, DynamoDB
stopping mid-run, and two clients racing to update one movie."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.lambda_client import FULL_ACCESS, LambdaClient, movie_path
from tests.reliability.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Action"]}}
MAX_ATTEMPTS = 3  # mvdb.config.Settings.dynamodb_max_attempts


@pytest.fixture
def proxy(dynamodb_local: Any) -> Any:
    with FaultProxy(dynamodb_local.endpoint) as running:
        yield running


@pytest.fixture
def client_via_proxy(proxy: FaultProxy, movies_table: str, build_app: Callable[..., Any]) -> LambdaClient:
    client = LambdaClient(build_app(movies_table, endpoint=proxy.endpoint), authorizer=FULL_ACCESS)
    assert client.post("/movies", json_body=RUSH).status == 201
    proxy.seen.clear()
    return client


def test_a_transient_throttle_is_absorbed_by_a_retry(proxy: FaultProxy, client_via_proxy: LambdaClient) -> None:
    proxy.inject("throttle", times=1)
    response = client_via_proxy.get(movie_path(2013, "Rush"))
    assert response.status == 200
    assert proxy.seen["GetItem"] == 2


def test_persistent_throttling_ends_in_503_with_retry_after_after_bounded_retries(
    proxy: FaultProxy, client_via_proxy: LambdaClient
) -> None:
    proxy.inject("throttle", times=50)
    started = time.monotonic()
    response = client_via_proxy.get(movie_path(2013, "Rush"))
    elapsed = time.monotonic() - started
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert response.json()["code"] == "storage-unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert proxy.seen["GetItem"] == MAX_ATTEMPTS
    assert elapsed < 5


def test_throttled_writes_are_not_applied_when_the_client_is_told_503(
    proxy: FaultProxy, client_via_proxy: LambdaClient, dynamodb_client: Any, movies_table: str
) -> None:
    proxy.inject("throttle", times=50)
    response = client_via_proxy.post("/movies", json_body={"year": 2014, "title": "Throttled", "info": {}})
    assert response.status == 503
    item = dynamodb_client.get_item(TableName=movies_table, Key={"year": {"N": "2014"}, "title": {"S": "Throttled"}})
    assert "Item" not in item


def test_a_create_whose_response_was_lost_is_applied_once_and_reported_created(
    proxy: FaultProxy, client_via_proxy: LambdaClient, dynamodb_client: Any, movies_table: str
) -> None:
    proxy.inject("lose-response", times=1)
    response = client_via_proxy.post("/movies", json_body={"year": 2015, "title": "Lost Reply", "info": {"rating": 5}})
    assert response.status == 201
    assert proxy.seen["PutItem"] == 2  # the lost attempt landed; the retry found our own item
    scanned = dynamodb_client.scan(TableName=movies_table)["Items"]
    assert sum(1 for item in scanned if item["title"]["S"] == "Lost Reply") == 1


def test_an_update_whose_response_was_lost_is_applied_once_and_reported_done(
    proxy: FaultProxy, client_via_proxy: LambdaClient
) -> None:
    etag = client_via_proxy.get(movie_path(2013, "Rush")).etag
    proxy.inject("lose-response", times=1)
    response = client_via_proxy.put(
        movie_path(2013, "Rush"), json_body={"info": {"rating": 9.0}}, headers={"If-Match": etag}
    )
    assert response.status == 200
    after = client_via_proxy.get(movie_path(2013, "Rush"))
    assert after.json()["info"] == {"rating": 9.0}
    assert after.etag == response.etag != etag


@pytest.mark.slow  # a DynamoDB Local of its own, stopped and started again
def test_dynamodb_stopping_mid_run_gives_fast_503s_then_recovers_without_a_restart(
    tmp_path: Path, build_app: Callable[..., Any]
) -> None:
    import boto3

    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.table import create_movies_table

    dynamodb = DynamoDBLocal(data_dir=tmp_path / "dynamodb").start()
    try:
        raw = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
        create_movies_table(raw, "mvdb-outage")
        client = LambdaClient(build_app("mvdb-outage", endpoint=dynamodb.endpoint), authorizer=FULL_ACCESS)
        assert client.post("/movies", json_body=RUSH).status == 201

        dynamodb.stop()
        for path in (movie_path(2013, "Rush"), "/health", "/movies?year=2013"):
            started = time.monotonic()
            response = client.get(path)
            assert response.status == 503, path
            assert response.json()["code"] == "storage-unavailable"
            assert "Retry-After" in response.headers
            assert time.monotonic() - started < 10, "a request must not hang while the table is unreachable"

        dynamodb = DynamoDBLocal(port=dynamodb.port, data_dir=tmp_path / "dynamodb").start()
        recovered = client.get(movie_path(2013, "Rush"))  # the same handler, same client: no restart
        assert recovered.status == 200
        assert recovered.json()["info"]["rating"] == 8.3
    finally:
        dynamodb.stop()


def test_two_clients_updating_one_movie_never_lose_an_update(dynamodb_client: Any, movies_table: str) -> None:
    from mvdb.domain.changes import Writer
    from mvdb.domain.models import MovieCreate
    from mvdb.domain.query import MovieKey
    from mvdb.domain.service import MovieService
    from mvdb.repository.dynamodb import DynamoDBMovieRepository

    service = MovieService(DynamoDBMovieRepository(dynamodb_client, movies_table))
    key = MovieKey(2013, "Rush")
    service.create(MovieCreate.model_validate(RUSH), by=Writer("setup", "request-0"))
    for round_number in range(25):
        outcomes = _race_two_writers(service, key, round_number)
        assert sorted(outcomes.values()) == ["412", "won"], outcomes
        winner = next(name for name, outcome in outcomes.items() if outcome == "won")
        assert service.get(key).document["info"]["plot"] == f"{winner} {round_number}"


def _race_two_writers(service: Any, key: Any, round_number: int) -> dict[str, str]:
    """Both writers read the same ETag, then write at the same moment."""
    from mvdb.domain.changes import Writer
    from mvdb.domain.errors import PreconditionFailed
    from mvdb.domain.models import MovieReplace

    etag = service.get(key).etag
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def update(writer: str) -> None:
        body = MovieReplace.model_validate({"info": {"plot": f"{writer} {round_number}"}})
        barrier.wait()
        try:
            service.replace(key, body, etag, by=Writer(writer, f"request-{round_number}"))
            outcomes[writer] = "won"
        except PreconditionFailed:
            outcomes[writer] = "412"

    threads = [threading.Thread(target=update, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
