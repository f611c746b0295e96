"""HTTP semantics done once, in-process (the same inputs run over HTTP in tests/e2e/test_http_semantics.py).

Each section is one kind of failure that public bug reports found in services like this one: the
reported input first, then the other members of its kind. Auth and CORS are on, as deployed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from mvdb.domain.query import MovieKey, MovieQuery, encode_cursor
from mvdb_local.gateway import request_event
from tests.integration.lambda_client import FULL_ACCESS, LambdaClient, LambdaResponse, movie_path

pytestmark = pytest.mark.integration

ORIGIN = "https://app.example.com"
READ_ONLY = {"claims": {"scope": "movies/read"}}
RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Action"], "plot": "Hunt vs Lauda."}}
EMOJI = "\U0001f600"  # 4 bytes of UTF-8


@pytest.fixture
def api(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any) -> LambdaClient:
    handler = build_app(movies_table, endpoint=dynamodb_local.endpoint, require_auth=True, CORS_ALLOW_ORIGINS=ORIGIN)
    client = LambdaClient(handler, authorizer=FULL_ACCESS)
    assert client.post("/movies", json_body=RUSH).status == 201
    return client


def assert_finished(response: LambdaResponse) -> None:
    """What every response to an allow-listed origin carries, whoever built it."""
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]
    assert response.headers["X-Request-Id"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# -- 1. responses built outside the resolver miss CORS, security headers, the request id ------------


def test_a_browser_pre_flight_without_a_token_gets_cors(api: LambdaClient) -> None:
    response = api.request(
        "OPTIONS",
        "/movies/2013/Rush",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"},
        authorizer={},  # browsers never send a token with a pre-flight
    )
    assert response.status == 204
    assert_finished(response)
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "If-Match" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "authorizer", "status"),
    [
        ("GET", "/movies/2013/Rush", {}, None, {}, 401),
        ("DELETE", "/movies/2013/Rush", {"If-Match": "*"}, None, READ_ONLY, 403),
        ("POST", "/movies", {"Content-Type": "application/json"}, "x" * 70_000, FULL_ACCESS, 413),
        ("POST", "/movies", {"Content-Type": "text/plain"}, "{}", FULL_ACCESS, 415),
        ("PUT", "/movies/2013/Rush", {"Content-Type": "application/json", "If-Match": "*"}, b"\xff", FULL_ACCESS, 400),
        ("POST", "/movies", {"Content-Type": "application/json"}, "{", FULL_ACCESS, 400),
        ("DELETE", "/movies", {}, None, FULL_ACCESS, 405),
        ("GET", "/nowhere", {}, None, FULL_ACCESS, 404),
        ("GET", "/movies/2013/Nothing", {}, None, FULL_ACCESS, 404),
        ("GET", "/movies?limit=0", {}, None, FULL_ACCESS, 400),
        ("GET", "/movies/2013/Rush", {}, None, FULL_ACCESS, 200),
    ],
    ids=["401", "403", "413", "415", "400-utf8", "400-json", "405", "404-route", "404-movie", "400-query", "200"],
)
def test_every_response_to_an_allowed_origin_is_finished_whoever_built_it(
    api: LambdaClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | bytes | None,
    authorizer: dict[str, Any],
    status: int,
) -> None:
    response = api.request(method, path, headers={**headers, "Origin": ORIGIN}, body=body, authorizer=authorizer)
    assert response.status == status, response.body
    assert_finished(response)


def test_another_origin_gets_no_cors_but_the_response_still_varies_by_origin(api: LambdaClient) -> None:
    response = api.get("/movies/2013/Rush", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"


# -- 2. DynamoDB limits reachable from client input: keys counted in UTF-8 bytes ---------------------


def test_a_path_title_past_1024_utf8_bytes_is_400_and_one_at_1024_is_404(api: LambdaClient) -> None:
    too_long = api.get(f"/movies/2031/{quote(EMOJI * 257)}")
    assert (too_long.status, too_long.json()["errors"][0]["location"]) == (400, ["path", "title"])
    assert api.get(f"/movies/2031/{quote(EMOJI * 256)}").status == 404


@pytest.mark.parametrize("method", ["HEAD", "PUT", "PATCH", "DELETE"])
def test_every_operation_on_a_movie_bounds_its_path_title_in_bytes(api: LambdaClient, method: str) -> None:
    body = '{"info": {}}' if method in {"PUT", "PATCH"} else None
    headers = {"If-Match": "*", "Content-Type": "application/json"}
    assert api.request(method, f"/movies/2031/{quote(EMOJI * 257)}", headers=headers, body=body).status == 400


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("raw_title", ["%C2%88%C2%A1", "Rush%00", "Tab%09Title"])
def test_a_path_title_no_movie_could_have_is_400_for_every_method(
    api: LambdaClient, method: str, raw_title: str
) -> None:
    # Found by the fuzzer: a C1 control character in a PUT's path once reached the model as a 500.
    body = '{"info": {}}' if method in {"PUT", "PATCH"} else None
    headers = {"If-Match": "*", "Content-Type": "application/json"}
    response = api.request(method, f"/movies/2004/{raw_title}", headers=headers, body=body)
    assert (response.status, response.json()["errors"][0]["location"]) == (400, ["path", "title"])


def test_a_body_title_past_1024_utf8_bytes_is_422(api: LambdaClient) -> None:
    response = api.post("/movies", json_body={"year": 2031, "title": EMOJI * 257})
    assert response.status == 422
    assert response.json()["errors"][0]["location"] == ["body", "title"]
    assert api.post("/movies", json_body={"year": 2031, "title": EMOJI * 256}).status == 201


def test_a_title_prefix_past_1024_utf8_bytes_is_400(api: LambdaClient) -> None:
    response = api.get(f"/movies?year=2031&title_prefix={quote(EMOJI * 257)}")
    assert (response.status, response.json()["errors"][0]["location"]) == (400, ["query", "title_prefix"])


def test_a_cursor_resuming_after_a_title_past_1024_bytes_is_400(api: LambdaClient) -> None:
    cursor = encode_cursor(MovieKey(2031, EMOJI * 257), MovieQuery(year=2031))
    assert api.get(f"/movies?year=2031&cursor={cursor}").json()["code"] == "invalid-cursor"


def test_a_cursor_resuming_after_the_longest_title_is_followed(api: LambdaClient) -> None:
    longest = EMOJI * 256  # 1,024 bytes: the cursor that resumes after it must be one the API takes back
    for title in (longest, longest[:-1] + "a"):
        assert api.post("/movies", json_body={"year": 2031, "title": title}).status == 201
    first = api.get("/movies?year=2031&limit=1").json()
    assert first["items"][0]["title"] == longest[:-1] + "a"
    second = api.get(f"/movies?year=2031&limit=1&cursor={first['next_cursor']}")
    assert second.status == 200, second.body
    assert second.json()["items"][0]["title"] == longest


@pytest.mark.parametrize(
    "info", [{"plot": "\ud800"}, {"actors": ["\udfff"]}, {"image_url": "https://example.com/\ud800"}]
)
def test_text_that_is_not_unicode_is_422_not_a_storage_error(api: LambdaClient, info: dict[str, Any]) -> None:
    body = json.dumps({"year": 2031, "title": "Surrogates", "info": info})  # \ud800 stays escaped in JSON
    assert api.post("/movies", body=body, headers={"Content-Type": "application/json"}).status == 422


# -- 3. HTTP tokens parsed in two places -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "APPLICATION/JSON; CHARSET=UTF-8", "application/json;charset=utf-8"]
)
def test_a_json_media_type_in_any_case_with_parameters_is_read(api: LambdaClient, content_type: str) -> None:
    body = json.dumps({"year": 2024, "title": "My Test Movie"})
    assert api.post("/movies", body=body, headers={"Content-Type": content_type}).status == 201


@pytest.mark.parametrize(
    ("method", "content_type"), [("PUT", "Application/Json"), ("PATCH", "Application/Merge-Patch+JSON")]
)
def test_changes_read_their_media_types_in_any_case(api: LambdaClient, method: str, content_type: str) -> None:
    response = api.request(
        method,
        "/movies/2013/Rush",
        body='{"info": {"rank": 1}}',
        headers={"Content-Type": content_type, "If-Match": "*"},
    )
    assert response.status == 200, response.body


# -- 4. HEAD wherever GET is -------------------------------------------------------------------------


def test_head_of_a_movie_has_the_gets_headers_and_no_content(api: LambdaClient) -> None:
    get, head = api.get("/movies/2013/Rush"), api.request("HEAD", "/movies/2013/Rush")
    assert (head.status, head.body) == (200, "")
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Length"] == str(len(get.body.encode()))


@pytest.mark.parametrize("path", ["/", "/health", "/movies?year=2013", "/docs", "/openapi.json"])
def test_every_get_has_its_head(api: LambdaClient, path: str) -> None:
    head = api.request("HEAD", path)
    assert (head.status, head.body) == (200, "")


def test_head_of_a_missing_movie_is_404_without_content(api: LambdaClient) -> None:
    head = api.request("HEAD", "/movies/2013/Nothing")
    assert (head.status, head.body) == (404, "")


def test_allow_lists_head(api: LambdaClient) -> None:
    assert "HEAD" in api.post("/health").headers["Allow"].split(", ")


# -- 5. PATCH with null members (RFC 7396: the patch applies to the whole document) -----------------


def test_patch_of_null_info_empties_it_as_a_put_of_empty_info_would(api: LambdaClient) -> None:
    headers = {"Content-Type": "application/merge-patch+json", "If-Match": "*"}
    patched = api.patch("/movies/2013/Rush", body='{"info": null}', headers=headers)
    assert patched.status == 200
    replaced = api.put("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": "*"})
    # The same content; each write is a version of its own (modified_at, hence the ETag, differ).
    for response in (patched, replaced):
        assert {k: v for k, v in response.json().items() if not k.startswith("modified_")} == {
            "year": 2013,
            "title": "Rush",
            "info": {},
        }


@pytest.mark.parametrize(
    ("patch", "info"),
    [
        ({"info": {"plot": None}}, {"rating": 8.3, "genres": ["Action"]}),
        ({}, RUSH["info"]),
        ({"title": "Rush", "year": 2013}, RUSH["info"]),
        ({"info": {"genres": None, "rating": None, "plot": None}}, {}),
    ],
)
def test_null_removes_a_member_and_what_is_left_out_stays(
    api: LambdaClient, patch: dict[str, Any], info: dict[str, Any]
) -> None:
    response = api.patch("/movies/2013/Rush", json_body=patch, headers={"If-Match": "*"})
    assert (response.status, response.json()["info"]) == (200, info)


@pytest.mark.parametrize(
    "patch", [{"year": None}, {"title": None}, {"info": []}, {"info": {"rating": "8"}}, [], {"plot": "x"}]
)
def test_a_patch_that_breaks_the_movie_is_422(api: LambdaClient, patch: Any) -> None:
    response = api.patch("/movies/2013/Rush", json_body=patch, headers={"If-Match": "*"})
    assert response.status == 422, response.body


# -- 6. URLs the API hands out are under the base path the request came in by ------------------------


def staged(method: str, path: str, body: Any = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    raw = json.dumps(body).encode() if body is not None else None
    return request_event(method, path, headers, raw, authorizer=FULL_ACCESS, base_path="/dev")


def test_location_of_a_created_movie_is_under_the_stage(api: LambdaClient) -> None:
    event = staged("POST", "/movies", {"year": 2024, "title": "My Test Movie"})
    response = api.request("POST", "/movies", event=event)
    assert response.headers["Location"] == "/dev/movies/2024/My%20Test%20Movie"


def test_links_of_the_root_are_under_the_stage(api: LambdaClient) -> None:
    links = api.request("GET", "/", event=staged("GET", "/")).json()["links"]
    assert set(links.values()) == {"/dev/movies", "/dev/health", "/dev/docs", "/dev/openapi.json"}


def test_the_openapi_documents_server_is_the_stage(api: LambdaClient) -> None:
    document = api.request("GET", "/openapi.json", event=staged("GET", "/openapi.json")).json()
    assert [server["url"] for server in document["servers"]] == ["/dev"]


def test_the_docs_page_loads_its_assets_and_document_under_the_stage(api: LambdaClient) -> None:
    html = api.request("GET", "/docs", event=staged("GET", "/docs")).body
    sources = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", html, re.I)
    assert sources and all(source.startswith("/dev/docs/") for source in sources)
    assert '"url": "/dev"' in html


def test_without_a_stage_urls_are_at_the_hosts_root(api: LambdaClient) -> None:
    assert api.post("/movies", json_body={"year": 2024, "title": "At Root"}).headers["Location"] == movie_path(
        2024, "At Root"
    )


# -- 8. an unsupported method on a known resource ----------------------------------------------------


def test_delete_of_the_collection_is_405_problem_with_allow(api: LambdaClient) -> None:
    response = api.delete("/movies", authorizer={})
    assert (response.status, response.content_type) == (405, "application/problem+json")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
