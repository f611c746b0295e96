"""The local HTTP server (mvdb_local.server) carries requests to the Lambda handler and its answers back.

Only what the transport can get wrong is tested here: bodies, headers, percent-encoded paths,
query strings, an empty 204. What the service answers is specified in-process
(``test_handler_*.py``, ``test_search.py``) and end to end through the local gateway and Cognito
(``tests/e2e``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

pytestmark = pytest.mark.integration

TIMEOUT_S = 20


@pytest.fixture
def empty_url(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any, serve: Any) -> str:
    """Base URL of the API over a fresh, empty table of this test's own."""
    base: str = serve(build_app(movies_table, endpoint=dynamodb_local.endpoint))
    return base


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_created_movie_is_found_at_its_location(http: requests.Session, empty_url: str) -> None:
    movie = {"year": 2013, "title": "V/H/S/2", "info": {"genres": ["Horror"]}}
    created = http.post(f"{empty_url}/movies", json=movie, timeout=TIMEOUT_S)
    assert created.status_code == 201
    assert created.headers["Location"] == "/movies/2013/V%2FH%2FS%2F2"
    read = http.get(urljoin(empty_url, created.headers["Location"]), timeout=TIMEOUT_S)
    assert read.status_code == 200
    assert {k: v for k, v in read.json().items() if not k.startswith("modified_")} == movie
    assert read.headers["ETag"] == created.headers["ETag"]


def test_delete_is_204_with_no_body(http: requests.Session, empty_url: str) -> None:
    etag = http.post(f"{empty_url}/movies", json={"year": 2013, "title": "Rush"}, timeout=TIMEOUT_S).headers["ETag"]
    response = http.delete(f"{empty_url}/movies/2013/Rush", headers={"If-Match": etag}, timeout=TIMEOUT_S)
    assert (response.status_code, response.content) == (204, b"")


def test_a_204_carries_no_content_length_and_the_connection_serves_the_next_request(serve: Any) -> None:
    # "A server MUST NOT send a Content-Length header field in any response with a status code of
    # 1xx (Informational) or 204 (No Content)" (RFC 9110 §8.6): a DELETE's 204, a CORS preflight's.
    import http.client

    def no_content(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        return {"statusCode": 204, "headers": {"X-Request-Id": "r"}, "body": ""}

    host, port = serve(no_content).removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)
    try:
        answers = []
        for _ in range(2):  # one keep-alive connection: the 204 left nothing unread behind it
            connection.request("DELETE", "/movies/2013/Rush")
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Content-Length"), response.read()))
    finally:
        connection.close()

    assert answers == [(204, None, b""), (204, None, b"")]


def test_query_parameters_reach_the_function_and_its_problem_comes_back(http: requests.Session, empty_url: str) -> None:
    response = http.get(f"{empty_url}/movies", params={"year": 2013, "cursor": "made-up"}, timeout=TIMEOUT_S)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid-cursor"


def test_a_client_gone_mid_response_is_logged_in_one_line_without_a_traceback(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    import struct
    import time

    answered = threading.Event()

    def large(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        answered.wait(timeout=TIMEOUT_S)  # until the client has reset the connection
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "x" * (8 * 1024 * 1024)}

    host, port = serve(large).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as client:
        client.sendall(b"GET /movies HTTP/1.1\r\nHost: local\r\n\r\n")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    answered.set()
    logged = ""
    deadline = time.monotonic() + TIMEOUT_S
    while "went away" not in logged and time.monotonic() < deadline:
        time.sleep(0.05)
        logged += capsys.readouterr().err
    assert "Traceback" not in logged
    [line] = logged.splitlines()
    assert re.fullmatch(
        r"local server: client 127\.0\.0\.1:\d+ went away before its response was sent \(\w+Error\)", line
    )
