"""With REQUIRE_AUTH on (the default), the service checks the authorizer's scopes itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mvdb.api.scopes import READ_SCOPE
from tests.integration.lambda_client import FULL_ACCESS, LambdaClient

pytestmark = pytest.mark.integration

READ_ONLY = {"claims": {"scope": READ_SCOPE, "client_id": "reader"}}
RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3}}


@pytest.fixture
def secured(build_app: Callable[..., Any], dynamodb_local: Any, movies_table: str) -> LambdaClient:
    """The handler with scope checks on; requests carry no claims unless a test adds them."""
    return LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint, require_auth=True))


def test_auth_is_on_when_require_auth_is_unset(
    build_app: Callable[..., Any], dynamodb_local: Any, movies_table: str
) -> None:
    handler = build_app(movies_table, endpoint=dynamodb_local.endpoint, REQUIRE_AUTH=None)
    assert LambdaClient(handler).get("/movies?year=2013").status == 401


@pytest.mark.parametrize("path", ["/", "/health", "/docs", "/openapi.json"])
def test_open_paths_answer_without_a_token(secured: LambdaClient, path: str) -> None:
    assert secured.get(path).status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/movies?year=2013"), ("GET", "/movies/2013/Rush"), ("POST", "/movies"), ("DELETE", "/movies/2013/Rush")],
)
def test_request_without_claims_is_401_problem_with_www_authenticate(
    secured: LambdaClient, method: str, path: str
) -> None:
    response = secured.request(method, path, json_body=RUSH if method == "POST" else None)
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_read_with_the_read_scope_is_served(secured: LambdaClient) -> None:
    assert secured.post("/movies", json_body=RUSH, authorizer=FULL_ACCESS).status == 201
    response = secured.get("/movies/2013/Rush", authorizer=READ_ONLY)
    assert response.status == 200
    assert {k: v for k, v in response.json().items() if not k.startswith("modified_")} == RUSH


def test_write_with_only_the_read_scope_is_403_and_writes_nothing(secured: LambdaClient) -> None:
    response = secured.post("/movies", json_body=RUSH, authorizer=READ_ONLY)
    assert response.status == 403
    assert response.json()["code"] == "insufficient-scope"
    assert secured.get("/movies/2013/Rush", authorizer=READ_ONLY).status == 404


def test_delete_with_only_the_read_scope_is_403_and_the_movie_stays(secured: LambdaClient) -> None:
    secured.post("/movies", json_body=RUSH, authorizer=FULL_ACCESS)
    response = secured.delete("/movies/2013/Rush", headers={"If-Match": "*"}, authorizer=READ_ONLY)
    assert response.status == 403
    assert secured.get("/movies/2013/Rush", authorizer=READ_ONLY).status == 200


def test_missing_token_outranks_an_invalid_body(secured: LambdaClient) -> None:
    # Who may call is decided before what is wrong with the request: no validation detail leaks.
    response = secured.post("/movies", json_body={"year": "not a year"})
    assert response.status == 401
    assert "errors" not in response.json()


def test_missing_token_outranks_an_invalid_path(secured: LambdaClient) -> None:
    assert secured.get("/movies/abc/Rush").status == 401
