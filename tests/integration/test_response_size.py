"""No response is too large to leave Lambda: pages of maximal movies and records stay within the byte budget.

Lambda returns at most 6 MB from a synchronous invocation, counted over the whole proxy result,
in which the body's JSON is escaped again; over it API Gateway answers 502 (``mvdb.domain.paging``).
Here every listing, search and history route pages through items as large as a store may hold and
as costly to escape as text can be, on DynamoDB Local, through the handler in-process (whose
client answers a result over the limit with that 502, ``tests.integration.lambda_client``) and
through the local gateway over HTTP.

Slow: the catalog (100 movies of ~60 KB of JSON each, written straight into the table, and their
search index entries) takes ~15 s to build, once per run; the module ~25 s in all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from mvdb.api.movies import page_body
from mvdb.config import default_search_index_table_name
from mvdb.domain.models import compute_etag
from mvdb.domain.paging import LAMBDA_RESPONSE_LIMIT_BYTES, PAGE_BUDGET_BYTES, enveloped_size, json_text
from mvdb.domain.query import MovieKey
from mvdb.repository.audit_store import DirectoryAuditStore, record_key
from mvdb.repository.dynamodb import DynamoDBMovieRepository
from mvdb.repository.index_reconciler import DynamoDBSearchIndex
from mvdb_local.server import function_result_size
from tests.integration.lambda_client import FUNCTION_FAILED, LambdaClient

# One worker builds the catalog for the whole run (tests/build/test_test_scheduling.py).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("response-size")]

YEAR = 2031
MOVIES = 100
# Each character costs more in the response than in the table: a control character is 1 byte
# stored, 6 in the body (\u0001) and 7 in the envelope; '"' and '\' double twice; then 2-, 3- and
# 4-byte UTF-8. ~12 KB per item stored (DynamoDB's 1 MB Query page holds ~80 of them), ~75 KB
# each in the envelope: a page of 100 would be 7.5 MB.
PLOT = "\x01" * 9_000 + '"\\' * 1_500 + "é€🎬" * 50
# What a page may add to its items: {"items": [...], "count": 100, "next_cursor": <2,048 characters>}.
FRAMING_BYTES = 4_096
PATCHES = 60  # the history of one movie of that size, patched this many times: 9 MB in one page of 100


def maximal_movie(number: int) -> dict[str, Any]:
    info = {"genres": ["Escapes"], "rating": float(5 + number % 5), "plot": PLOT}
    return {"year": YEAR, "title": f"Escapes {number:03d}", "info": info}


CATALOG = [maximal_movie(n) for n in range(MOVIES)]


@pytest.fixture(scope="module")
def escapes_table(dynamodb_client: Any, make_module_table: Callable[..., str]) -> str:
    """A table of ``CATALOG`` with its search index entries (as the stream keeps them). Read-only."""
    table = make_module_table(search_index=True)
    repository = DynamoDBMovieRepository(dynamodb_client, table)
    index = DynamoDBSearchIndex(dynamodb_client, table, default_search_index_table_name(table))
    for document in CATALOG:
        repository.create(document, compute_etag(document))
        assert index.reconcile(MovieKey(document["year"], document["title"])) == "indexed"
    return table


def history_record(number: int) -> dict[str, Any]:
    """The record of one patch of ``CATALOG[0]``, shaped as the audit trail writes it."""
    before, after = CATALOG[0], {**CATALOG[0], "info": {**CATALOG[0]["info"], "rank": number + 1}}
    return {
        "version": 1,
        "movie": {"year": YEAR, "title": CATALOG[0]["title"]},
        "operation": "patch",
        "client_id": "writer-app",
        "request_id": f"request-{number}",
        "changed_at": "2026-11-30T12:00:00.000Z",
        "before": before,
        "before_etag": compute_etag(before),
        "after": after,
        "after_etag": compute_etag(after),
        "stream": {"event_id": f"event{number}", "event_name": "MODIFY", "sequence_number": str(1000 + number)},
    }


@pytest.fixture(scope="module")
def audit_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit")
    store = DirectoryAuditStore(directory)
    key = MovieKey(YEAR, CATALOG[0]["title"])
    for number in range(PATCHES):
        record = history_record(number)
        assert store.put_new(record_key(key, record["stream"]["sequence_number"], f"event{number}"), record)
    return directory


@pytest.fixture
def handler(build_app: Callable[..., Any], escapes_table: str, dynamodb_local: Any, audit_directory: Path) -> Any:
    return build_app(escapes_table, endpoint=dynamodb_local.endpoint, AUDIT_DIRECTORY=str(audit_directory))


def pages_of(api: LambdaClient, path: str) -> Iterator[dict[str, Any]]:
    """Every page of a listing, following ``next_cursor``; each one checked to be within the budget."""
    cursor: str | None = None
    for _ in range(100):
        url = path if cursor is None else f"{path}&cursor={quote(cursor, safe='')}"
        response = api.get(url)
        assert response.status == 200, response.body[:300]
        assert function_result_size(response.raw) <= LAMBDA_RESPONSE_LIMIT_BYTES
        assert enveloped_size(response.body) <= PAGE_BUDGET_BYTES + FRAMING_BYTES
        page = response.json()
        yield page
        cursor = page.get("next_cursor")
        if cursor is None:
            return
    raise AssertionError(f"{path}: still paging after 100 pages")


@pytest.mark.parametrize(
    "path",
    [
        f"/movies?year={YEAR}&limit=100",  # one Query of the table: DynamoDB cuts it at 1 MB stored, not at 6 MB sent
        "/movies?genre=Escapes&limit=100",  # the search index: its entries carry the whole movie
        "/movies?min_rating=5&limit=100",  # several index partitions, best rated first
        f"/movies?year={YEAR}&min_rating=5&limit=100",
        "/movies?limit=100",  # a Scan of everything
    ],
    ids=["year", "genre", "min-rating", "year-min-rating", "everything"],
)
def test_every_page_of_maximal_movies_is_within_the_budget_and_every_movie_comes_once(handler: Any, path: str) -> None:
    pages = list(pages_of(LambdaClient(handler), path))

    titles = [movie["title"] for page in pages for movie in page["items"]]
    assert sorted(titles) == sorted(movie["title"] for movie in CATALOG)
    assert len(titles) == len(set(titles))
    assert pages[0]["items"][0]["info"]["plot"] == PLOT  # served as stored


def test_every_page_of_a_large_movies_history_is_within_the_budget_and_every_change_comes_once(handler: Any) -> None:
    path = f"/audit/movies/{YEAR}/{quote(CATALOG[0]['title'])}?limit=100"

    pages = list(pages_of(LambdaClient(handler), path))

    assert len(pages) > 1  # 60 records of ~150 KB: more than one page holds
    requests_seen = [record["request_id"] for page in pages for record in page["items"]]
    assert requests_seen == [f"request-{n}" for n in reversed(range(PATCHES))]  # newest first, each once


# -- a movie too large for any response: stored around the API's limits -----------------------------


@pytest.fixture
def api_with_a_movie_too_large(
    build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any, dynamodb_client: Any
) -> LambdaClient:
    """A table holding "Aa" and, written straight into DynamoDB, "Zz": 60,000 numbers stored as 1E+125."""
    from mvdb.repository.dynamodb import to_item

    repository = DynamoDBMovieRepository(dynamodb_client, movies_table)
    small = {"year": YEAR, "title": "Aa", "info": {"plot": "fits"}}
    repository.create(small, compute_etag(small))
    item = to_item({"year": YEAR, "title": "Zz", "info": {"plot": "x"}}, "0" * 32)
    item["info"]["M"]["counts"] = {"L": [{"N": "1E+125"}] * 60_000}  # ~180 KB stored, 7.7 MB as JSON
    dynamodb_client.put_item(TableName=movies_table, Item=item)
    return LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint))


def test_a_movie_too_large_for_any_response_is_a_conflict_naming_it_not_a_502(
    api_with_a_movie_too_large: LambdaClient,
) -> None:
    response = api_with_a_movie_too_large.get(f"/movies/{YEAR}/Zz")

    assert response.status == 409, response.body[:300]
    assert response.json()["code"] == "movie-too-large"
    assert "'Zz' (2031)" in response.json()["detail"]


def test_a_listing_serves_every_movie_before_one_too_large_then_names_it(
    api_with_a_movie_too_large: LambdaClient,
) -> None:
    first = api_with_a_movie_too_large.get(f"/movies?year={YEAR}")
    assert [movie["title"] for movie in first.json()["items"]] == ["Aa"]

    cursor = quote(first.json()["next_cursor"], safe="")
    refused = api_with_a_movie_too_large.get(f"/movies?year={YEAR}&cursor={cursor}")

    assert (refused.status, refused.json()["code"]) == (409, "movie-too-large")


# -- the gate: a response over Lambda's limit fails as it fails in AWS ----------------------------


def unbudgeted_history(audit_directory: Path) -> dict[str, Any]:
    """What the history route returned before pages had a byte budget: all 60 records in one page of 100."""
    entries, _ = DirectoryAuditStore(audit_directory).history(
        MovieKey(YEAR, CATALOG[0]["title"]), start_after=None, limit=100
    )
    body = page_body(json_text([entry.record for entry in entries])[1:-1], len(entries), None)
    return {"statusCode": 200, "multiValueHeaders": {"Content-Type": ["application/json"]}, "body": body}


def test_a_result_over_lambdas_limit_comes_back_as_api_gateways_502(audit_directory: Path) -> None:
    too_large = unbudgeted_history(audit_directory)
    assert function_result_size(too_large) > LAMBDA_RESPONSE_LIMIT_BYTES  # the broken fixture: ~9 MB

    response = LambdaClient(lambda _event, _context: too_large).get(f"/audit/movies/{YEAR}/x")

    assert (response.status, response.body) == (502, FUNCTION_FAILED)


def test_the_local_gateway_answers_a_result_over_lambdas_limit_with_its_5xx_gateway_response(
    audit_directory: Path, serve_through_gateway: Callable[[Any], str]
) -> None:
    too_large = unbudgeted_history(audit_directory)
    seen_request_ids: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen_request_ids.append(event["requestContext"]["requestId"])
        return too_large

    response = requests.get(serve_through_gateway(handler) + "/health", timeout=30)

    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Internal server error"
    assert response.headers["X-Request-Id"] == seen_request_ids[0]  # the failed invocation's request id


def test_the_local_gateway_passes_a_result_just_within_the_limit(
    serve_through_gateway: Callable[[Any], str],
) -> None:
    empty = {"statusCode": 200, "multiValueHeaders": {}, "body": ""}
    just_within = {**empty, "body": "x" * (LAMBDA_RESPONSE_LIMIT_BYTES - function_result_size(empty))}
    assert function_result_size(just_within) == LAMBDA_RESPONSE_LIMIT_BYTES

    response = requests.get(serve_through_gateway(lambda _event, _context: just_within) + "/health", timeout=30)

    assert (response.status_code, len(response.content)) == (200, len(just_within["body"]))


@pytest.fixture
def serve_through_gateway() -> Iterator[Callable[[Any], str]]:
    """Returns ``serve(handler)``: the base URL of the local server with the template's gateway (no authorizer)."""
    import threading

    from mvdb_local.dynamodb_local import free_port
    from mvdb_local.gateway import LocalGateway
    from mvdb_local.server import make_server

    running: list[tuple[Any, threading.Thread]] = []

    def start(handler: Any) -> str:
        port = free_port()
        server = make_server(handler, "127.0.0.1", port, gateway=LocalGateway.from_template(None))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_catalog_is_as_large_as_this_module_says() -> None:
    # A page of all of it would not leave Lambda: without the budget, every listing above would fail.
    one = enveloped_size(json_text(CATALOG[0]))
    assert 70_000 < one < 80_000
    assert MOVIES * one > LAMBDA_RESPONSE_LIMIT_BYTES
    assert len(json.dumps(CATALOG[0], ensure_ascii=False).encode()) > 60_000
