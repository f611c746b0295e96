"""Idempotency-Key on POST and PATCH through the Lambda handler on DynamoDB Local (IETF httpapi idempotency draft).

"Written once" is read from the movies table's stream: every write of an item is one stream record.
Concurrent requests run in processes of their own, as concurrent invocations run in execution
environments of their own (one request at a time each).
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.integration.lambda_client import FULL_ACCESS, LambdaClient, LambdaResponse, movie_path

pytestmark = pytest.mark.integration

MOVIE: dict[str, Any] = {"year": 2031, "title": "Sequel", "info": {"genres": ["Drama"], "rating": 7.5}}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
OTHER_CLIENT = {"claims": {**FULL_ACCESS["claims"], "client_id": "another-client"}}


def new_key() -> str:
    return f'"{uuid.uuid4()}"'


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


def writes_of(dynamodb_endpoint: str, table: str, year: int, title: str) -> list[str]:
    """The stream records of the movie (``INSERT``, ``MODIFY``, ``REMOVE``), oldest first."""
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, region_name=REGION)
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_endpoint, region_name=REGION)
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    events: list[str] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            for record in page["Records"]:
                keys = record["dynamodb"]["Keys"]
                if keys["year"]["N"] == str(year) and keys["title"]["S"] == title:
                    events.append(record["eventName"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return events


def assert_problem(response: LambdaResponse, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"
    assert response.json()["code"] == code


@pytest.fixture
def movies_table(make_table: Callable[..., str]) -> str:
    """A fresh movies table with its idempotency records' table (every test here sends Idempotency-Key) and its
    stream (the writes a request made are read from it)."""
    return make_table(idempotency_records=True, stream=True)


@pytest.fixture
def client(build_app: Any, movies_table: str, dynamodb_local: Any) -> LambdaClient:
    return LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint), authorizer=FULL_ACCESS)


# -- POST ----------------------------------------------------------------------------------------


def test_a_retried_post_gets_the_original_201_its_etag_and_location_and_writes_once(
    client: LambdaClient, movies_table: str, dynamodb_local: Any
) -> None:
    key = new_key()
    first = client.post("/movies", json_body=MOVIE, headers=keyed(key))
    retry = client.post("/movies", json_body=MOVIE, headers=keyed(key))
    assert first.status == retry.status == 201, retry.body
    replayed = (retry.etag, retry.headers["Location"], retry.json())
    assert replayed == (first.etag, first.headers["Location"], first.json())
    assert {name: first.json()[name] for name in MOVIE} == MOVIE  # plus who wrote it, and when
    assert (first.headers.get("Idempotent-Replayed"), retry.headers["Idempotent-Replayed"]) == (None, "true")
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == ["INSERT"]


def test_a_retry_with_the_body_formatted_differently_is_the_same_request(client: LambdaClient) -> None:
    key = new_key()
    client.post("/movies", json_body=MOVIE, headers=keyed(key))
    reordered = '{"info": {"rating": 7.5, "genres": ["Drama"]},   "title": "Sequel", "year": 2031}'
    retry = client.post("/movies", body=reordered, headers=keyed(key, **{"Content-Type": "application/json"}))
    assert (retry.status, retry.headers["Idempotent-Replayed"]) == (201, "true")


def test_a_key_reused_with_another_body_is_422_and_writes_nothing(
    client: LambdaClient, movies_table: str, dynamodb_local: Any
) -> None:
    key = new_key()
    client.post("/movies", json_body=MOVIE, headers=keyed(key))
    other = {**MOVIE, "title": "Prequel"}
    assert_problem(client.post("/movies", json_body=other, headers=keyed(key)), 422, "idempotency-key-reused")
    assert client.get(movie_path(2031, "Prequel")).status == 404
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Prequel") == []


def test_the_same_key_from_another_client_is_another_request(client: LambdaClient) -> None:
    key = new_key()
    client.post("/movies", json_body=MOVIE, headers=keyed(key))
    other = {**MOVIE, "title": "Prequel"}
    theirs = client.post("/movies", json_body=other, headers=keyed(key), authorizer=OTHER_CLIENT)
    assert theirs.status == 201, theirs.body
    assert "Idempotent-Replayed" not in theirs.headers


def test_the_same_key_on_another_operation_is_another_request(client: LambdaClient) -> None:
    key = new_key()
    created = client.post("/movies", json_body=MOVIE, headers=keyed(key))
    patched = client.patch(
        "/movies/2031/Sequel",
        json_body={"info": {"rating": 8.0}},
        headers=keyed(key, **MERGE_PATCH, **{"If-Match": created.etag or ""}),
    )
    assert (patched.status, patched.json()["info"]["rating"]) == (200, 8.0)


def test_a_failed_request_records_nothing_and_its_retry_runs_again(client: LambdaClient) -> None:
    # The movie exists: the keyed POST fails (409) and changes nothing. Once the movie is gone, the
    # same request with the same key creates it: a failure is not replayed.
    existing = client.post("/movies", json_body=MOVIE)
    key = new_key()
    assert_problem(client.post("/movies", json_body=MOVIE, headers=keyed(key)), 409, "movie-already-exists")
    client.delete("/movies/2031/Sequel", headers={"If-Match": existing.etag or ""})
    retry = client.post("/movies", json_body=MOVIE, headers=keyed(key))
    assert (retry.status, retry.headers.get("Idempotent-Replayed")) == (201, None)


def test_a_post_without_a_key_is_not_recorded(client: LambdaClient) -> None:
    client.post("/movies", json_body=MOVIE)
    assert_problem(client.post("/movies", json_body=MOVIE), 409, "movie-already-exists")


@pytest.mark.parametrize(
    "value",
    [
        "8e03978e-40d5-43e8-bc93-6894a57f9324",  # a token, not a quoted string
        '""',
        '"' + "k" * 256 + '"',
        '"a", "b"',  # a list
        '"a";expires=1',  # parameters
        '"caf\u00e9"',  # sf-strings are ASCII
    ],
    ids=["token", "empty", "too-long", "list", "parameters", "non-ascii"],
)
def test_a_malformed_key_is_400_and_writes_nothing(
    client: LambdaClient, movies_table: str, dynamodb_local: Any, value: str
) -> None:
    assert_problem(client.post("/movies", json_body=MOVIE, headers=keyed(value)), 400, "invalid-idempotency-key")
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == []


def test_a_key_sent_twice_is_400(client: LambdaClient) -> None:
    from mvdb_local.gateway import request_event

    event = request_event("POST", "/movies", {"Content-Type": "application/json"}, b"{}", authorizer=FULL_ACCESS)
    event["multiValueHeaders"]["Idempotency-Key"] = [new_key(), new_key()]
    event["headers"]["Idempotency-Key"] = event["multiValueHeaders"]["Idempotency-Key"][-1]
    event["body"] = '{"year": 2031, "title": "Sequel"}'
    assert_problem(client.request("POST", "/movies", event=event), 400, "invalid-idempotency-key")


def test_the_longest_key_and_escaped_quotes_are_accepted(client: LambdaClient) -> None:
    longest = '"' + "k" * 251 + '\\"\\\\"'  # 255 characters between the quotes, two escapes among them
    assert client.post("/movies", json_body=MOVIE, headers=keyed(longest)).status == 201
    assert client.post("/movies", json_body=MOVIE, headers=keyed(longest)).headers["Idempotent-Replayed"] == "true"


def test_operations_that_are_idempotent_already_ignore_the_header(client: LambdaClient) -> None:
    created = client.post("/movies", json_body=MOVIE)
    malformed = {"Idempotency-Key": "not-a-string", "If-Match": created.etag or ""}
    assert client.get("/movies/2031/Sequel", headers=malformed).status == 200
    assert client.put("/movies/2031/Sequel", json_body={"info": {}}, headers=malformed).status == 200
    assert client.delete("/movies/2031/Sequel", headers={**malformed, "If-Match": "*"}).status == 204


def test_idempotency_records_unavailable_is_503_and_writes_nothing(
    build_app: Any, movies_table: str, dynamodb_local: Any
) -> None:
    missing = LambdaClient(
        build_app(movies_table, endpoint=dynamodb_local.endpoint, IDEMPOTENCY_TABLE_NAME="no-such-table"),
        authorizer=FULL_ACCESS,
    )
    response = missing.post("/movies", json_body=MOVIE, headers=keyed(new_key()))
    assert_problem(response, 503, "storage-unavailable")
    assert response.headers["Retry-After"]
    assert missing.get("/movies/2031/Sequel").status == 404


# -- PATCH ---------------------------------------------------------------------------------------


def test_a_retried_patch_gets_the_original_200_and_is_not_applied_again(
    client: LambdaClient, movies_table: str, dynamodb_local: Any
) -> None:
    etag = client.post("/movies", json_body=MOVIE).etag or ""
    key = new_key()
    headers = keyed(key, **MERGE_PATCH, **{"If-Match": etag})
    first = client.patch("/movies/2031/Sequel", json_body={"info": {"rating": 8.0}}, headers=headers)
    # Applied again, the patch would meet a changed movie: 412 (If-Match names the version before it).
    retry = client.patch("/movies/2031/Sequel", json_body={"info": {"rating": 8.0}}, headers=headers)
    assert first.status == retry.status == 200, retry.body
    assert (retry.etag, retry.json(), retry.headers["Idempotent-Replayed"]) == (first.etag, first.json(), "true")
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == ["INSERT", "MODIFY"]


def test_a_patch_key_reused_on_another_movie_is_422(client: LambdaClient) -> None:
    client.post("/movies", json_body=MOVIE)
    client.post("/movies", json_body={**MOVIE, "title": "Prequel"})
    key = new_key()
    patch = {"info": {"rating": 8.0}}
    client.patch("/movies/2031/Sequel", json_body=patch, headers=keyed(key, **MERGE_PATCH, **{"If-Match": "*"}))
    reused = client.patch(
        "/movies/2031/Prequel", json_body=patch, headers=keyed(key, **MERGE_PATCH, **{"If-Match": "*"})
    )
    assert_problem(reused, 422, "idempotency-key-reused")


# -- concurrency: invocations in processes of their own ---------------------------------------------


def _invoke(
    table: str,
    endpoint: str,
    key: str,
    ready: Any,
    start: Any,
    create_delay_s: float,
    delay_before_s: float,
    results: Any,
) -> None:
    """One execution environment: its own app, one keyed POST of MOVIE (its create slowed by ``create_delay_s``)."""
    from mvdb.api.http_api import create_app, lambda_handler_of
    from mvdb.config import Settings

    api = create_app(Settings.from_env({"TABLE_NAME": table, "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "REGION": REGION}))
    if create_delay_s:
        service = api.service
        original_create = service.create

        def slow_create(movie: Any, **attribution: Any) -> Any:
            time.sleep(create_delay_s)
            return original_create(movie, **attribution)

        service.create = slow_create  # type: ignore[method-assign]
    client = LambdaClient(lambda_handler_of(api), authorizer=FULL_ACCESS)
    warm_up = {**MOVIE, "title": f"Warm-up {uuid.uuid4()}"}  # its clients made: the timings below are the test's
    assert client.post("/movies", json_body=warm_up, headers=keyed(new_key())).status == 201
    ready.put(True)
    start.wait()
    time.sleep(delay_before_s)
    response = client.post("/movies", json_body=MOVIE, headers=keyed(key))
    results.put((response.status, response.headers.get("Idempotent-Replayed"), response.etag, response.json()))


def _run_invocations(table: str, endpoint: str, key: str, plans: list[tuple[float, float]]) -> list[tuple[Any, ...]]:
    """Runs one process per ``(create_delay_s, delay_before_s)`` plan, all released together; their responses."""
    # Spawned, not forked: a fork of this multi-threaded process (xdist, DynamoDB Local's pipes) may deadlock.
    context = multiprocessing.get_context("spawn")
    ready, start, results = context.Queue(), context.Event(), context.Queue()
    processes = [
        context.Process(target=_invoke, args=(table, endpoint, key, ready, start, create_delay, delay_before, results))
        for create_delay, delay_before in plans
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)  # every process has built its app
    start.set()
    responses = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return responses


@pytest.mark.slow
def test_concurrent_retries_write_once_and_the_others_get_the_original_or_409(
    movies_table: str, dynamodb_local: Any
) -> None:
    responses = _run_invocations(movies_table, dynamodb_local.endpoint, new_key(), [(0.0, 0.0)] * 4)
    performed = [r for r in responses if r[0] == 201 and r[1] is None]
    assert len(performed) == 1, responses
    for status, replayed, etag, body in responses:
        original = performed[0][2]
        assert (status, replayed, etag) in {(201, None, original), (201, "true", original), (409, None, None)}
        if status == 409:
            assert body["code"] == "idempotency-key-in-progress"
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == ["INSERT"]


@pytest.mark.slow
def test_a_retry_while_the_first_runs_is_409_and_after_it_the_original(movies_table: str, dynamodb_local: Any) -> None:
    # The first takes 2 s to create; one retry arrives 0.5 s in, another at 5 s.
    responses = _run_invocations(movies_table, dynamodb_local.endpoint, new_key(), [(2.0, 0.0), (0.0, 0.5), (0.0, 5.0)])
    statuses = sorted((status, replayed or "") for status, replayed, _, _ in responses)
    assert statuses == [(201, ""), (201, "true"), (409, "")], responses
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == ["INSERT"]


def test_a_keyed_create_nested_deeper_than_dynamodb_stores_is_400_and_writes_nothing(
    client: LambdaClient, movies_table: str, dynamodb_local: Any
) -> None:
    # An ignored member nested 500 deep broke the idempotency utility's deep copy: a 500.
    nested: Any = []
    for _ in range(499):
        nested = [nested]
    response = client.post("/movies", json_body={**MOVIE, "modified_by": nested}, headers=keyed(new_key()))
    assert_problem(response, 400, "malformed-json")
    assert writes_of(dynamodb_local.endpoint, movies_table, 2031, "Sequel") == []
