"""HTTP semantics over HTTP, through the gateway: the inputs of tests/integration/test_http_semantics.py
against the local stack (auth on, CORS for BROWSER_ORIGIN, the API under a stage's base path) or a
deployed one.

The gateway's side (infra/template.yaml, which the local stand-in reads): HEAD methods, an ANY
method per resource for the function's 405, and the request id and CORS headers of the
gateway's own responses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.e2e.support import (
    BROWSER_ORIGIN,
    TEST_YEAR,
    Api,
    MovieJanitor,
    MovieRef,
    StackUnderTest,
    Tokens,
    assert_answered_by_gateway,
    assert_problem,
    assert_refused_by_gateway,
    new_movie_title,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

EMOJI = "\U0001f600"  # 4 bytes of UTF-8


@pytest.fixture(scope="module")
def origin(stack: StackUnderTest) -> str:
    """An origin the stack allows: the local stack's, or on AWS the first of CorsAllowOrigins, named in
    E2E_BROWSER_ORIGIN (the gateway's own responses are readable by that one only)."""
    if not stack.on_aws:
        return BROWSER_ORIGIN
    configured = os.environ.get("E2E_BROWSER_ORIGIN", "")
    if not configured:
        pytest.skip("set E2E_BROWSER_ORIGIN to one of the stack's CorsAllowOrigins to test CORS on AWS")
    return configured


def assert_cors(response: requests.Response, origin: str) -> None:
    assert response.headers.get("Access-Control-Allow-Origin") == origin, dict(response.headers)
    assert "Origin" in response.headers.get("Vary", ""), dict(response.headers)


# -- 1. pre-flights and every response to an allowed origin -------------------------------------------


def test_a_browser_pre_flight_without_a_token_gets_cors(api: Api, origin: str, existing_movie: MovieRef) -> None:
    response = api.call(
        "OPTIONS", existing_movie.path, headers={"Origin": origin, "Access-Control-Request-Method": "PUT"}
    )
    assert response.status_code == 204, response.text[:300]
    assert_cors(response, origin)
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body", "status"),
    [
        ("GET", "existing", None, None, 200),
        ("GET", "/movies/2013/No%20Such%20Movie%20Anywhere", None, None, 404),
        ("GET", "/movies?year=abc", None, None, 400),
        ("POST", "/movies", "text/plain", "{}", 415),
        ("POST", "/movies", "application/json", '{"year": 1000}', 422),
    ],
    ids=["200", "404", "400", "415", "422"],
)
def test_every_response_of_the_function_to_an_allowed_origin_carries_cors(
    api: Api,
    tokens: Tokens,
    origin: str,
    existing_movie: MovieRef,
    method: str,
    path: str,
    content_type: str | None,
    body: str | None,
    status: int,
) -> None:
    headers = {"Origin": origin, **({"Content-Type": content_type} if content_type else {})}
    target = existing_movie.path if path == "existing" else path
    response = api._session.request(  # a raw body: api.call sends JSON only
        method,
        api.base_url + target,
        data=body,
        headers={**headers, "Authorization": f"Bearer {tokens.full}"},
        timeout=20,
    )
    assert response.status_code == status, response.text[:300]
    assert_cors(response, origin)
    assert response.headers["X-Request-Id"]


# -- 2. keys bounded in UTF-8 bytes ------------------------------------------------------------------


def test_a_title_past_1024_utf8_bytes_is_400_and_one_at_1024_is_404(api: Api, tokens: Tokens) -> None:
    assert_problem(api.call("GET", f"/movies/2031/{quote(EMOJI * 257)}", token=tokens.read), 400)
    assert_problem(api.call("GET", f"/movies/2031/{quote(EMOJI * 256)}", token=tokens.read), 404, "movie-not-found")


def test_a_body_title_past_1024_utf8_bytes_is_422(api: Api, tokens: Tokens) -> None:
    response = api.call("POST", "/movies", token=tokens.full, json={"year": TEST_YEAR, "title": EMOJI * 257})
    assert_problem(response, 422, "validation-failed")


# -- 3. media types parsed once ---------------------------------------------------------------------


def test_a_json_body_sent_as_application_json_in_capitals_is_created(
    api: Api, tokens: Tokens, movies: MovieJanitor
) -> None:
    title = new_movie_title("media type")
    movies.register(TEST_YEAR, title)
    response = api._session.post(
        api.base_url + "/movies",
        data=f'{{"year": {TEST_YEAR}, "title": "{title}"}}',
        headers={"Content-Type": "Application/JSON", "Authorization": f"Bearer {tokens.full}"},
        timeout=20,
    )
    assert response.status_code == 201, response.text[:300]


# -- 4. HEAD wherever GET is -----------------------------------------------------------------------


def test_head_of_a_movie_has_the_gets_headers_and_no_content(
    api: Api, tokens: Tokens, existing_movie: MovieRef
) -> None:
    head = api.call("HEAD", existing_movie.path, token=tokens.read)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["ETag"] == existing_movie.etag


@pytest.mark.parametrize("path", ["/", "/health", "/docs", "/openapi.json", "/movies?year=2013"])
def test_head_answers_wherever_get_does_with_the_gets_length(api: Api, tokens: Tokens, path: str) -> None:
    head = api.call("HEAD", path, token=tokens.read)
    get = api.call("GET", path, token=tokens.read)

    assert (head.status_code, head.content) == (get.status_code, b"")
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert int(head.headers["Content-Length"]) == len(get.content)


def test_head_needs_the_gets_scope_at_the_gateway(api: Api, existing_movie: MovieRef) -> None:
    response = api.call("HEAD", existing_movie.path)
    assert (response.status_code, response.content) == (401, b"")
    assert_answered_by_gateway(response)


# -- 5. merge patch with null -----------------------------------------------------------------------


def test_a_merge_patch_of_null_info_empties_it(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    movie = movies.create("null info", {"plot": "To be removed.", "rating": 5.0})
    response = api._session.patch(
        api.base_url + movie.path,
        data='{"info": null}',
        headers={
            "Content-Type": "application/merge-patch+json",
            "If-Match": movie.etag,
            "Authorization": f"Bearer {tokens.full}",
        },
        timeout=20,
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["info"] == {}


# -- 6. every URL the API hands out is under the base URL the client used ---------------------------


def test_the_roots_links_are_followed_under_the_stage(api: Api, tokens: Tokens) -> None:
    links = api.call("GET", "/").json()["links"]
    for name, link in links.items():
        response = api.follow(link, token=tokens.read)
        assert response.status_code == 200, f"{name}: {link} -> {response.status_code}"


def test_the_openapi_documents_server_is_the_stage_and_its_paths_answer(api: Api, tokens: Tokens) -> None:
    document = api.call("GET", "/openapi.json").json()
    (server,) = document["servers"]
    assert server["url"] == (urlsplit(api.base_url).path or "/")
    assert api.follow(server["url"].rstrip("/") + "/health").status_code == 200


def test_the_docs_page_loads_its_assets_under_the_stage(api: Api) -> None:
    html = api.call("GET", "/docs").text
    sources = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", html, re.I)
    assert sources
    for source in sources:
        assert api.follow(source).status_code == 200, source


# -- 7. refusals by the gateway carry the request id and CORS ----------------------------------------


@pytest.fixture
def gateway_refusals(api: Api, origin: str) -> Iterator[list[requests.Response]]:
    headers = {"Origin": origin}
    yield [
        api.call("GET", "/movies?year=2013", headers=headers),  # no token: 401
        api.call("GET", "/movies?year=2013", headers=headers, authorization="Bearer not-a-token"),  # 401
        api.call("GET", "/nowhere", headers=headers),  # unknown resource
    ]


def test_refusals_by_the_gateway_carry_a_request_id_and_cors(
    gateway_refusals: list[requests.Response], origin: str
) -> None:
    for response in gateway_refusals:
        assert_answered_by_gateway(response)
        assert_cors(response, origin)
    assert len({response.headers["X-Request-Id"] for response in gateway_refusals}) == len(gateway_refusals)


def test_a_refusal_by_the_gateway_is_not_readable_by_another_origin(api: Api) -> None:
    response = api.call("GET", "/movies?year=2013", headers={"Origin": "https://elsewhere.example"})
    assert_refused_by_gateway(response)
    assert response.headers.get("Access-Control-Allow-Origin") != "https://elsewhere.example"


# -- 8. a known resource, an unsupported method ------------------------------------------------------


def test_delete_of_the_collection_is_405_with_allow_at_the_edge(api: Api, tokens: Tokens) -> None:
    response = api.call("DELETE", "/movies", token=tokens.full)
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "existing", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("PUT", "/movies", "GET, HEAD, OPTIONS, POST"),
        ("DELETE", "/health", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("PATCH", "/openapi.json", "GET, HEAD"),
    ],
)
def test_an_unsupported_method_on_any_known_resource_is_405_with_allow_without_a_token(
    api: Api, existing_movie: MovieRef, method: str, path: str, allow: str
) -> None:
    response = api.call(method, existing_movie.path if path == "existing" else path)
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["Allow"] == allow
