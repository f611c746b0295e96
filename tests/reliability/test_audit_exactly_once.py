"""Exactly one audit record per write that happened, when DynamoDB's responses are lost and clients retry.

The handler in-process, DynamoDB Local behind the fault proxy (a write lands, its response is
lost: botocore retries it), the audit trail function fed the table's stream by the local poller.
A client that never heard back retries the whole request; whatever the retries, the trail holds
one record for each write the table actually took, and none for one it refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvdb.api.scopes import AUDIT_SCOPE, WRITE_SCOPE
from mvdb.domain.query import MovieKey
from mvdb.repository.audit_store import movie_prefix
from tests.conftest import REGION
from tests.integration.lambda_client import LambdaClient, movie_path
from tests.reliability.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

WRITER = {"claims": {"client_id": "retrying-app", "scope": WRITE_SCOPE}}
AUDITOR = {"claims": {"client_id": "auditor-app", "scope": AUDIT_SCOPE}}
RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3}}


@pytest.fixture
def proxy(dynamodb_local: Any) -> Iterator[FaultProxy]:
    with FaultProxy(dynamodb_local.endpoint) as running:
        yield running


@pytest.fixture
def audit_directory(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@pytest.fixture
def movies_table(make_table: Callable[..., str]) -> str:
    """A fresh movies table with its stream, which the audit trail function reads."""
    return make_table(stream=True)


@pytest.fixture
def api(proxy: FaultProxy, movies_table: str, build_app: Callable[..., Any], audit_directory: Path) -> LambdaClient:
    handler = build_app(movies_table, endpoint=proxy.endpoint, require_auth=True, AUDIT_DIRECTORY=str(audit_directory))
    return LambdaClient(handler, authorizer=WRITER)


@pytest.fixture
def drain(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb_client: Any, movies_table: str, audit_directory: Path
) -> Iterator[Callable[[], None]]:
    import boto3

    from mvdb.config import get_settings
    from mvdb.streams.audit_trail import audit_store, lambda_handler
    from mvdb_local.streams import LocalStreamPoller, StreamConsumer

    monkeypatch.setenv("TABLE_NAME", movies_table)
    monkeypatch.setenv("AUDIT_DIRECTORY", str(audit_directory))
    get_settings.cache_clear()
    audit_store.cache_clear()
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name=REGION)
    poller = LocalStreamPoller(
        dynamodb_client,
        streams,
        movies_table,
        [StreamConsumer("audit-trail", lambda_handler)],
        on_failure=lambda *_: None,
    )
    yield poller.drain
    get_settings.cache_clear()
    audit_store.cache_clear()


def records(audit_directory: Path, key: MovieKey) -> list[dict[str, Any]]:
    """Oldest first."""
    folder = audit_directory / movie_prefix(key)
    return [json.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"), reverse=True)]


def test_a_create_whose_response_was_lost_and_a_client_retry_leave_one_record(
    api: LambdaClient, proxy: FaultProxy, drain: Callable[[], None], audit_directory: Path
) -> None:
    proxy.inject("lose-response", times=1)
    first = api.post("/movies", json_body=RUSH)
    retry = api.post("/movies", json_body=RUSH)  # the client heard nothing and tries again
    assert (first.status, retry.status) == (201, 409)
    drain()
    trail = records(audit_directory, MovieKey(2013, "Rush"))
    assert [(r["operation"], r["request_id"]) for r in trail] == [("create", first.headers["X-Request-Id"])]


def test_replaces_and_deletes_whose_responses_were_lost_leave_one_record_per_write_that_landed(
    api: LambdaClient, proxy: FaultProxy, drain: Callable[[], None], audit_directory: Path
) -> None:
    path = movie_path(2013, "Rush")
    created = api.post("/movies", json_body=RUSH)
    proxy.inject("lose-response", times=1)
    replaced = api.put(path, json_body={"info": {"rating": 9.0}}, headers={"If-Match": created.etag or ""})
    stale_retry = api.put(path, json_body={"info": {"rating": 9.0}}, headers={"If-Match": created.etag or ""})
    proxy.inject("lose-response", times=2)  # both steps of the delete: naming the deleter, then removing
    deleted = api.delete(path, headers={"If-Match": replaced.etag or ""})
    delete_retry = api.delete(path, headers={"If-Match": replaced.etag or ""})
    assert [r.status for r in (created, replaced, stale_retry, deleted, delete_retry)] == [201, 200, 412, 204, 404]
    drain()
    trail = records(audit_directory, MovieKey(2013, "Rush"))
    assert [(r["operation"], r["request_id"]) for r in trail] == [
        ("create", created.headers["X-Request-Id"]),
        ("replace", replaced.headers["X-Request-Id"]),
        ("delete", deleted.headers["X-Request-Id"]),
    ]
    assert trail[-1]["client_id"] == "retrying-app"


def test_a_write_refused_after_bounded_throttling_leaves_no_record(
    api: LambdaClient, proxy: FaultProxy, drain: Callable[[], None], audit_directory: Path
) -> None:
    proxy.inject("throttle", times=50)
    assert api.post("/movies", json_body=RUSH).status == 503
    drain()
    assert records(audit_directory, MovieKey(2013, "Rush")) == []


def test_the_history_route_shows_the_one_record_of_a_retried_write(
    api: LambdaClient, proxy: FaultProxy, drain: Callable[[], None]
) -> None:
    proxy.inject("lose-response", times=1)
    created = api.post("/movies", json_body=RUSH)
    drain()
    history = api.get("/audit/movies/2013/Rush", authorizer=AUDITOR).json()
    assert [r["request_id"] for r in history["items"]] == [created.headers["X-Request-Id"]]
