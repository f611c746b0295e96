"""The audit trail: every write through the API makes exactly one record, from the table's stream.

The handler in-process over DynamoDB Local; the audit trail function (``mvdb.streams.audit_trail``)
fed the table's stream by the local poller, as its event source mapping feeds it in AWS, writing to
a directory laid out like the bucket; the history route reading it back.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from mvdb.api.scopes import AUDIT_SCOPE, READ_SCOPE, WRITE_SCOPE
from mvdb.domain.query import MovieKey
from mvdb.repository.audit_store import movie_prefix
from tests.conftest import REGION
from tests.integration.lambda_client import LambdaClient, movie_path

pytestmark = pytest.mark.integration

RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Action"]}}


def claims(client_id: str, *scopes: str) -> dict[str, Any]:
    """What API Gateway's Cognito authorizer passes on for a client-credentials token."""
    return {"claims": {"client_id": client_id, "scope": " ".join(scopes)}}


WRITER = claims("writer-app", READ_SCOPE, WRITE_SCOPE)
AUDITOR = claims("auditor-app", AUDIT_SCOPE)


class AuditTrail:
    """The audit trail function on one table's stream; every event it was given is kept, to give again."""

    def __init__(self, poller: Any, directory: Path, events: list[dict[str, Any]]) -> None:
        self.poller = poller
        self.directory = directory
        self.events = events

    def drain(self) -> None:
        self.poller.drain()

    def records(self, key: MovieKey) -> list[dict[str, Any]]:
        """The movie's records, in name order (newest first), read straight from the store."""
        folder = self.directory / movie_prefix(key)
        return [json.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))]

    def files(self) -> set[Path]:
        return {path for path in self.directory.rglob("*") if path.is_file()}


@pytest.fixture
def audit_directory(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@pytest.fixture
def movies_table(make_table: Callable[..., str]) -> str:
    """A fresh movies table with its stream, which the audit trail function reads."""
    return make_table(stream=True)


@pytest.fixture
def audit_trail(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb_client: Any, movies_table: str, audit_directory: Path
) -> Iterator[AuditTrail]:
    import boto3

    from mvdb.config import get_settings
    from mvdb.streams.audit_trail import audit_store, lambda_handler
    from mvdb_local.streams import LocalStreamPoller, StreamConsumer

    monkeypatch.setenv("TABLE_NAME", movies_table)
    monkeypatch.setenv("AUDIT_DIRECTORY", str(audit_directory))
    get_settings.cache_clear()
    audit_store.cache_clear()
    events: list[dict[str, Any]] = []

    def recorded(event: dict[str, Any], context: Any) -> Any:
        events.append(json.loads(json.dumps(event)))
        return lambda_handler(event, context)

    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name=REGION)
    consumer = StreamConsumer("audit-trail", recorded)
    poller = LocalStreamPoller(dynamodb_client, streams, movies_table, [consumer], on_failure=lambda *_: None)
    yield AuditTrail(poller, audit_directory, events)
    poller.stop()
    get_settings.cache_clear()
    audit_store.cache_clear()


@pytest.fixture
def api(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any, audit_directory: Path) -> LambdaClient:
    handler = build_app(
        movies_table, endpoint=dynamodb_local.endpoint, require_auth=True, AUDIT_DIRECTORY=str(audit_directory)
    )
    return LambdaClient(handler, authorizer=WRITER)


def history_path(year: int, title: str, **query: str) -> str:
    path = f"/audit/movies/{year}/{quote(title, safe='')}"
    return path + ("?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()) if query else "")


def write_rush_four_ways(api: LambdaClient) -> list[str]:
    """Create, replace, patch and delete Rush; the request id of each write."""
    path = movie_path(2013, "Rush")
    created = api.post("/movies", json_body=RUSH)
    replaced = api.put(path, json_body={"info": {"rating": 9.0}}, headers={"If-Match": created.etag or ""})
    patched = api.patch(
        path,
        json_body={"info": {"plot": "Hunt vs Lauda."}},
        headers={"If-Match": replaced.etag or "", "Content-Type": "application/merge-patch+json"},
    )
    deleted = api.delete(path, headers={"If-Match": patched.etag or ""}, authorizer=claims("janitor-app", WRITE_SCOPE))
    assert [r.status for r in (created, replaced, patched, deleted)] == [201, 200, 200, 204]
    return [r.headers["X-Request-Id"] for r in (created, replaced, patched, deleted)]


# -- one record per write ---------------------------------------------------------------------


def test_create_replace_patch_and_delete_each_make_exactly_one_record(
    api: LambdaClient, audit_trail: AuditTrail
) -> None:
    request_ids = write_rush_four_ways(api)
    audit_trail.drain()
    records = list(reversed(audit_trail.records(MovieKey(2013, "Rush"))))  # oldest first
    assert [r["operation"] for r in records] == ["create", "replace", "patch", "delete"]
    assert [r["request_id"] for r in records] == request_ids
    assert [r["client_id"] for r in records] == ["writer-app", "writer-app", "writer-app", "janitor-app"]


def test_a_record_holds_the_movie_before_and_after_with_their_etags(api: LambdaClient, audit_trail: AuditTrail) -> None:
    created = api.post("/movies", json_body=RUSH)
    replaced = api.put(movie_path(2013, "Rush"), json_body={"info": {"rating": 9.0}}, headers={"If-Match": "*"})
    audit_trail.drain()
    create, replace = reversed(audit_trail.records(MovieKey(2013, "Rush")))
    assert (create["before"], create["after"], create["after_etag"]) == (None, created.json(), created.etag.strip('"'))
    assert (replace["before"], replace["after"]) == (created.json(), replaced.json())
    assert replace["changed_at"] == replaced.json()["modified_at"]
    assert replace["stream"]["event_name"] == "MODIFY"


def test_a_delete_is_recorded_with_its_deleter_not_the_movies_last_writer(
    api: LambdaClient, audit_trail: AuditTrail
) -> None:
    created = api.post("/movies", json_body=RUSH)
    deleted = api.delete(
        movie_path(2013, "Rush"), headers={"If-Match": "*"}, authorizer=claims("janitor-app", WRITE_SCOPE)
    )
    audit_trail.drain()
    delete = audit_trail.records(MovieKey(2013, "Rush"))[0]
    assert (delete["operation"], delete["client_id"], delete["request_id"]) == (
        "delete",
        "janitor-app",
        deleted.headers["X-Request-Id"],
    )
    assert delete["before"] == created.json()  # the movie as it was: modified_by is still its writer
    assert delete["before"]["modified_by"] == "writer-app"
    assert delete["after"] is None


def test_a_rejected_write_makes_no_record(api: LambdaClient, audit_trail: AuditTrail) -> None:
    api.post("/movies", json_body=RUSH)
    assert api.post("/movies", json_body=RUSH).status == 409
    assert api.delete(movie_path(2013, "Rush"), headers={"If-Match": '"' + "0" * 32 + '"'}).status == 412
    audit_trail.drain()
    assert [r["operation"] for r in audit_trail.records(MovieKey(2013, "Rush"))] == ["create"]


def test_modified_by_and_modified_at_sent_by_a_client_are_ignored(api: LambdaClient, audit_trail: AuditTrail) -> None:
    forged = {**RUSH, "modified_by": "someone-else", "modified_at": "1999-01-01T00:00:00.000Z"}
    created = api.post("/movies", json_body=forged)
    assert created.status == 201
    assert created.json()["modified_by"] == "writer-app"
    assert created.json()["modified_at"] > "2026"
    audit_trail.drain()
    assert audit_trail.records(MovieKey(2013, "Rush"))[0]["after"]["modified_by"] == "writer-app"


def test_a_patch_that_changes_nothing_writes_nothing(api: LambdaClient, audit_trail: AuditTrail) -> None:
    created = api.post("/movies", json_body=RUSH)
    same = api.patch(movie_path(2013, "Rush"), json_body={"info": {"rating": 8.3}}, headers={"If-Match": created.etag})
    assert (same.status, same.etag) == (200, created.etag)
    audit_trail.drain()
    assert len(audit_trail.records(MovieKey(2013, "Rush"))) == 1


# -- at-least-once delivery: redelivered and reordered records --------------------------------


def test_redelivered_stream_records_leave_one_record_per_change(api: LambdaClient, audit_trail: AuditTrail) -> None:
    from mvdb.streams.audit_trail import lambda_handler
    from mvdb_local.streams import _Context

    write_rush_four_ways(api)
    audit_trail.drain()
    before = {path: path.read_bytes() for path in audit_trail.files()}
    for event in audit_trail.events:  # Lambda redelivers whole batches after a failure or timeout
        assert lambda_handler(event, _Context("audit-trail")) == {"batchItemFailures": []}
    assert {path: path.read_bytes() for path in audit_trail.files()} == before
    assert len(before) == 4


def test_records_delivered_out_of_order_give_the_same_history(
    api: LambdaClient, audit_trail: AuditTrail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mvdb.streams.audit_trail import audit_store, lambda_handler
    from mvdb_local.streams import _Context

    write_rush_four_ways(api)
    audit_trail.drain()
    in_order = [(r["stream"]["sequence_number"], r["operation"]) for r in audit_trail.records(MovieKey(2013, "Rush"))]
    records = [record for event in audit_trail.events for record in event["Records"]]
    monkeypatch.setenv("AUDIT_DIRECTORY", str(tmp_path / "reordered"))
    audit_store.cache_clear()
    from mvdb.config import get_settings

    get_settings.cache_clear()
    for record in reversed(records):
        lambda_handler({"Records": [record]}, _Context("audit-trail"))
    reordered = AuditTrail(None, tmp_path / "reordered", [])
    assert [(r["stream"]["sequence_number"], r["operation"]) for r in reordered.records(MovieKey(2013, "Rush"))] == (
        in_order
    )
    assert [operation for _, operation in in_order] == ["delete", "patch", "replace", "create"]


def test_concurrent_writers_each_get_their_own_record(
    api: LambdaClient, audit_trail: AuditTrail, movies_table: str, dynamodb_local: Any
) -> None:
    import boto3

    from mvdb.domain.changes import Writer
    from mvdb.domain.models import MovieReplace
    from mvdb.domain.service import MovieService
    from mvdb.repository.dynamodb import DynamoDBMovieRepository

    api.post("/movies", json_body=RUSH)
    writers = [f"writer-{n}" for n in range(6)]
    statuses: dict[str, int] = {}
    # A service (and DynamoDB client) per writer, as each concurrent request has an execution
    # environment of its own in Lambda (one process serves one request at a time: the local
    # server holds a lock around the handler, so the race is run below HTTP).
    services = {
        writer: MovieService(
            DynamoDBMovieRepository(
                boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name=REGION), movies_table
            )
        )
        for writer in writers
    }
    barrier = threading.Barrier(len(writers))

    def replace(client_id: str) -> None:
        body = MovieReplace.model_validate({"info": {"plot": f"by {client_id}"}})
        barrier.wait()
        services[client_id].replace(MovieKey(2013, "Rush"), body, "*", by=Writer(client_id, f"request-{client_id}"))
        statuses[client_id] = 200

    threads = [threading.Thread(target=replace, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses.values()) == {200}
    audit_trail.drain()
    replaces = [r for r in audit_trail.records(MovieKey(2013, "Rush")) if r["operation"] == "replace"]
    assert sorted(r["client_id"] for r in replaces) == writers
    # Each record's before is the after of the one before it: no change is missing between them.
    chain = list(reversed(audit_trail.records(MovieKey(2013, "Rush"))))
    assert all(older["after"] == newer["before"] for older, newer in itertools.pairwise(chain))


# -- the history route -----------------------------------------------------------------------


def test_history_needs_the_audit_scope(api: LambdaClient, audit_trail: AuditTrail) -> None:
    response = api.get(history_path(2013, "Rush"))  # read and write, no audit
    assert response.status == 403
    assert response.json()["code"] == "insufficient-scope"
    assert AUDIT_SCOPE in response.json()["detail"]


def test_history_lists_changes_newest_first(api: LambdaClient, audit_trail: AuditTrail) -> None:
    request_ids = write_rush_four_ways(api)
    audit_trail.drain()
    response = api.get(history_path(2013, "Rush"), authorizer=AUDITOR)
    assert response.status == 200
    page = response.json()
    assert [r["request_id"] for r in page["items"]] == list(reversed(request_ids))
    assert page["count"] == 4
    assert "next_cursor" not in page


def test_history_pages_follow_the_cursor_to_the_oldest_change(api: LambdaClient, audit_trail: AuditTrail) -> None:
    request_ids = write_rush_four_ways(api)
    audit_trail.drain()
    auditor = LambdaClient(api._handler, authorizer=AUDITOR)
    items, sizes = auditor.follow_pages(history_path(2013, "Rush", limit="3"))
    assert sizes == [3, 1]
    assert [r["request_id"] for r in items] == list(reversed(request_ids))


def test_a_history_cursor_is_refused_for_another_movie(api: LambdaClient, audit_trail: AuditTrail) -> None:
    write_rush_four_ways(api)
    audit_trail.drain()
    cursor = api.get(history_path(2013, "Rush", limit="1"), authorizer=AUDITOR).json()["next_cursor"]
    other = api.get(history_path(2014, "Rush", cursor=cursor), authorizer=AUDITOR)
    assert (other.status, other.json()["code"]) == (400, "invalid-cursor")


def test_history_of_a_title_with_a_slash_is_that_movies_own(api: LambdaClient, audit_trail: AuditTrail) -> None:
    for title in ("V/H/S", "V", "V/H/S/history"):
        assert api.post("/movies", json_body={"year": 2012, "title": title}).status == 201
    audit_trail.drain()
    response = api.get(history_path(2012, "V/H/S"), authorizer=AUDITOR)
    assert [r["movie"]["title"] for r in response.json()["items"]] == ["V/H/S"]


def test_a_movie_never_changed_has_an_empty_history(api: LambdaClient, audit_trail: AuditTrail) -> None:
    response = api.get(history_path(1999, "Never Written"), authorizer=AUDITOR)
    assert (response.status, response.json()) == (200, {"items": [], "count": 0})


def _cursor(payload: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/audit/movies/-1/Rush",
        "/audit/movies/abc/Rush",
        "/audit/movies/2013/%FF",
        "/audit/movies/2013/" + "R" * 1100,
        "/audit/movies/2013/Rush?limit=0",
        "/audit/movies/2013/Rush?limit=101",
        "/audit/movies/2013/Rush?limit=abc",
        "/audit/movies/2013/Rush?cursor=junk",
        "/audit/movies/2013/Rush?cursor=" + "A" * 3000,
        "/audit/movies/2013/Rush?cursor=" + _cursor({"v": 1, "h": "../../etc/passwd", "m": "x", "d": "y"}),
        "/audit/movies/2013/Rush?cursor=" + _cursor({"v": 1, "h": 5, "m": None, "d": None}),
        "/audit/movies/2013/Rush?cursor=" + _cursor({"v": 2}),
        "/audit/movies/2013/Rush?cursor=" + _cursor([1, 2]),
        "/audit/movies/2013/Rush?sort=newest",
    ],
)
def test_hostile_history_requests_get_a_4xx_never_a_5xx(api: LambdaClient, path: str) -> None:
    response = api.get(path, authorizer=AUDITOR)
    assert 400 <= response.status < 500, (response.status, response.body[:300])
    assert response.content_type == "application/problem+json"


def test_a_history_cursor_that_names_a_path_outside_the_movie_is_refused(api: LambdaClient) -> None:
    from mvdb.domain.changes import encode_history_cursor

    # Well-formed and correctly digested (the digest is no secret): only the name's shape is wrong.
    forged = encode_history_cursor("../../other/" + "0" * 40 + "-e.json", MovieKey(2013, "Rush"))
    response = api.get(history_path(2013, "Rush", cursor=forged), authorizer=AUDITOR)
    assert (response.status, response.json()["code"]) == (400, "invalid-cursor")
