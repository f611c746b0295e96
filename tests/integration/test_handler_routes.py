"""The Lambda handler, called in-process with API Gateway REST (v1) events: meta routes and routing."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from mvdb_local.gateway import request_event
from mvdb_local.server import LambdaContext
from tests.integration.lambda_client import LambdaClient

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def test_root_names_the_api_and_links_its_resources(api: LambdaClient) -> None:
    response = api.get("/")
    assert response.status == 200
    body = response.json()
    assert (body["name"], body["version"]) == ("mvdb", version("mvdb"))  # the installed distribution's
    assert body["links"] == {"movies": "/movies", "health": "/health", "docs": "/docs", "openapi": "/openapi.json"}


def test_health_is_200_when_the_table_answers(api: LambdaClient) -> None:
    response = api.get("/health")
    assert (response.status, response.json()) == (200, {"status": "ok"})


def test_health_is_503_when_the_table_does_not_exist(build_app: Callable[..., Any], dynamodb_local: Any) -> None:
    client = LambdaClient(build_app("mvdb-no-such-table", endpoint=dynamodb_local.endpoint))
    response = client.get("/health")
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()


def test_openapi_document_is_json_describing_every_movie_operation(api: LambdaClient) -> None:
    response = api.get("/openapi.json")
    assert (response.status, response.content_type) == (200, "application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]["/movies"]) >= {"get", "post"}
    assert set(document["paths"]["/movies/{year}/{title}"]) >= {"get", "put", "patch", "delete"}
    parameters = {p["name"] for p in document["paths"]["/movies"]["get"]["parameters"]}
    assert parameters >= {"year", "title_prefix", "genre", "actor", "director", "min_rating", "limit", "cursor"}


def test_an_app_serves_the_document_it_would_generate_alone_whatever_app_generated_it_first(
    build_app: Callable[..., Any], dynamodb_local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process keeps one document per token URL, environment and base path (mvdb.api.docs): the
    # settings outside that key must not change the document, or a second app would serve the wrong one.
    from mvdb.api import docs

    def document_generated_by(**env: str) -> str:
        monkeypatch.setattr(docs, "_documents", {})  # as in a process that built no app before
        client = LambdaClient(build_app("mvdb-docs-only", endpoint=dynamodb_local.endpoint, **env))
        return client.get("/openapi.json").body

    other_settings = {"REQUIRE_AUTH": "true", "MAX_BODY_BYTES": "100", "CORS_ALLOW_ORIGINS": "https://example.com"}
    assert document_generated_by(**other_settings) == document_generated_by()


def test_apps_of_other_environments_token_urls_or_base_paths_serve_their_own_documents(
    build_app: Callable[..., Any], dynamodb_local: Any
) -> None:
    def document(base_path: str, **env: str) -> Any:
        client = LambdaClient(build_app("mvdb-docs-only", endpoint=dynamodb_local.endpoint, **env))
        event = request_event("GET", "/openapi.json", {}, None, base_path=base_path)
        return client.request("GET", "/openapi.json", event=event).json()

    def token_url(document: dict[str, Any]) -> str:
        return str(document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"])

    other_pool = "https://two.auth.example.com/oauth2/token"
    default = document("")  # the test environment's, with the default token URL
    of_other_pool, prod, staged = document("", TOKEN_URL=other_pool), document("", ENVIRONMENT="prod"), document("/dev")
    assert (token_url(default), token_url(of_other_pool)) == ("/oauth2/token", other_pool)
    assert ["production" in d["servers"][0]["description"] for d in (default, prod)] == [False, True]
    assert [d["servers"][0]["url"] for d in (default, staged)] == ["/", "/dev"]


def test_docs_page_is_html_that_loads_nothing_from_the_internet(api: LambdaClient) -> None:
    response = api.get("/docs")
    assert (response.status, response.content_type) == (200, "text/html")
    html = response.body
    assert "swagger" in html.lower()
    sources = re.findall(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", html, re.I)
    assert sources, "the page should load Swagger UI's script and style"
    assert not [s for s in sources if re.match(r"(?:https?:)?//", s, re.I)]
    assert not re.search(r"""@import\s+(?:url\()?\s*["']?(?:https?:)?//""", html, re.I)


def test_docs_page_assets_are_served_by_the_api_itself(api: LambdaClient) -> None:
    html = api.get("/docs").body
    sources = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)""", html, re.I)
    for source in sources:
        asset = api.get(urljoin("/docs", source))
        assert asset.status == 200, source
        assert len(asset.body) > 1000


def test_unknown_route_is_404_problem_json(api: LambdaClient) -> None:
    response = api.get("/actors")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert response.json()["code"] == "route-not-found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/movies", "GET, HEAD, OPTIONS, POST"),
        ("PUT", "/movies", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/movies/2013/Rush", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
        ("DELETE", "/health", "GET, HEAD"),
        ("PATCH", "/", "GET, HEAD"),
        ("OPTIONS", "/health", "GET, HEAD"),
        ("TRACE", "/movies/2013/Rush", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
    ],
)
def test_wrong_method_is_405_problem_with_allow(api: LambdaClient, method: str, path: str, allow: str) -> None:
    headers = {"Content-Type": "application/json"} if method in {"POST", "PUT", "PATCH"} else {}
    response = api.request(method, path, headers=headers, body="{}" if headers else None)
    assert response.status == 405
    assert response.headers["Allow"] == allow
    assert response.json()["code"] == "method-not-allowed"


def test_post_to_health_without_a_body_is_405(api: LambdaClient) -> None:
    response = api.post("/health")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_response_carries_the_api_gateway_request_id(api: LambdaClient) -> None:
    event = request_event("GET", "/health", request_id="6f1e6b8a-2c1d-4c5e-9f3a-0b7d2e4c8a91")
    response = api.request("GET", "/health", event=event)
    assert response.headers["X-Request-Id"] == "6f1e6b8a-2c1d-4c5e-9f3a-0b7d2e4c8a91"


def test_recorded_api_gateway_events_create_and_read_a_title_with_a_slash(
    build_app: Callable[..., Any], dynamodb_local: Any, movies_table: str
) -> None:
    # GIVEN events shaped exactly as API Gateway REST sends them (Cognito claims, stage, greedy
    # resource, decoded pathParameters, still-encoded path) and the scope checks on
    handler = build_app(movies_table, endpoint=dynamodb_local.endpoint, require_auth=True)
    # WHEN the movie is created and then read
    created = handler(load_event("post_movie_rest_v1.json"), LambdaContext())
    read = handler(load_event("get_movie_rest_v1.json"), LambdaContext())
    # THEN both succeed and the path, not pathParameters, decides the title
    assert created["statusCode"] == 201
    assert read["statusCode"] == 200
    assert json.loads(read["body"])["title"] == "V/H/S"
    assert read["multiValueHeaders"]["X-Request-Id"] == ["6f1e6b8a-2c1d-4c5e-9f3a-0b7d2e4c8a91"]


def test_recorded_event_with_the_title_slash_decoded_in_the_path_is_routed_to_the_movie(
    build_app: Callable[..., Any], dynamodb_local: Any, movies_table: str
) -> None:
    handler = build_app(movies_table, endpoint=dynamodb_local.endpoint, require_auth=True)
    assert handler(load_event("post_movie_rest_v1.json"), LambdaContext())["statusCode"] == 201
    event = copy.deepcopy(load_event("get_movie_rest_v1.json"))
    event["path"] = "/movies/2013/V/H/S"
    response = handler(event, LambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["title"] == "V/H/S"
