"""When the table cannot be reached: a quick 503 problem+json with Retry-After, never a hang or a 500."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient, LambdaResponse

pytestmark = pytest.mark.integration

# Well inside API Gateway's 29 s, and far from what an unbounded retry loop would take.
QUICKLY_S = 10.0


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def unreachable(build_app: Callable[..., Any], closed_port: int) -> LambdaClient:
    return LambdaClient(build_app("mvdb-movies", endpoint=f"http://127.0.0.1:{closed_port}"))


def timed(call: Callable[[], LambdaResponse]) -> tuple[LambdaResponse, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: LambdaResponse) -> None:
    assert response.status == 503, response.body
    assert response.content_type == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (503, "storage-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.body


def test_health_is_503_with_retry_after_quickly(unreachable: LambdaClient) -> None:
    response, elapsed = timed(lambda: unreachable.get("/health"))
    assert_unavailable(response)
    assert elapsed < QUICKLY_S


def test_get_movie_is_503_with_retry_after_quickly(unreachable: LambdaClient) -> None:
    response, elapsed = timed(lambda: unreachable.get("/movies/2013/Rush"))
    assert_unavailable(response)
    assert elapsed < QUICKLY_S


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/movies?year=2013&limit=50", None),
        ("GET", "/movies?genre=Drama", None),
        ("POST", "/movies", {"year": 2013, "title": "Rush"}),
        ("PUT", "/movies/2013/Rush", {"info": {}}),
        ("PATCH", "/movies/2013/Rush", {"info": {"rating": 1}}),
        ("DELETE", "/movies/2013/Rush", None),
    ],
)
def test_every_movie_operation_is_503_not_500(
    unreachable: LambdaClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response, elapsed = timed(lambda: unreachable.request(method, path, json_body=body, headers={"If-Match": "*"}))
    assert_unavailable(response)
    assert elapsed < QUICKLY_S


def test_requests_that_need_no_table_are_still_served(unreachable: LambdaClient) -> None:
    assert unreachable.get("/").status == 200
    assert unreachable.get("/openapi.json").status == 200


def test_invalid_requests_are_refused_without_waiting_for_the_table(unreachable: LambdaClient) -> None:
    # Validation comes first: a bad request is a 4xx even while storage is down.
    response, elapsed = timed(lambda: unreachable.get("/movies/abc/Rush"))
    assert response.status == 400
    assert elapsed < 2.0


@pytest.mark.parametrize("query", ["genre=Drama", "year=2013&actor=Daniel%20Br%C3%BChl", "min_rating=7"])
def test_a_search_with_no_search_index_table_is_503_never_an_empty_page(api: LambdaClient, query: str) -> None:
    # The `api` fixture's table has no search index table (tests make one only where they search):
    # a search there must fail, so a test that needs the index and lacks it cannot pass on "no matches".
    assert_unavailable(api.get(f"/movies?{query}"))
