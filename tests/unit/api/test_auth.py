"""Scope checks behind the API Gateway authorizer: reads need movies/read, writes movies/write."""

from __future__ import annotations

from typing import Any

import pytest

from mvdb.api.auth import authorize, granted_scopes, required_scope
from mvdb.api.problems import ProblemError
from mvdb.api.scopes import READ_SCOPE, WRITE_SCOPE


def event(method: str, path: str, claims: dict[str, Any] | None = None) -> dict[str, Any]:
    authorizer = {"claims": claims} if claims is not None else None
    return {"httpMethod": method, "path": path, "requestContext": {"authorizer": authorizer}}


@pytest.mark.parametrize("path", ["/", "/health", "/docs", "/openapi.json", "/docs/swagger-ui.min.css"])
def test_open_paths_need_no_scope(path: str) -> None:
    assert required_scope("GET", path) is None
    authorize(event("GET", path))  # no claims at all, and no error


@pytest.mark.parametrize(("method", "path"), [("GET", "/movies"), ("GET", "/movies/2013/Rush"), ("HEAD", "/movies")])
def test_reads_need_the_read_scope(method: str, path: str) -> None:
    assert required_scope(method, path) == READ_SCOPE


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/movies"),
        ("PUT", "/movies/2013/Rush"),
        ("PATCH", "/movies/2013/Rush"),
        ("DELETE", "/movies/2013/Rush"),
    ],
)
def test_writes_need_the_write_scope(method: str, path: str) -> None:
    assert required_scope(method, path) == WRITE_SCOPE


@pytest.mark.parametrize("path", ["/healthz", "/Health", "/docsx", "/openapi.json/x", "/movies/../health"])
def test_paths_that_only_resemble_open_ones_need_a_scope(path: str) -> None:
    assert required_scope("GET", path) == READ_SCOPE


def test_read_with_the_read_scope_is_allowed() -> None:
    authorize(event("GET", "/movies", {"scope": "movies/read"}))


def test_write_with_both_scopes_is_allowed() -> None:
    authorize(event("POST", "/movies", {"scope": "movies/read movies/write"}))


def test_request_without_claims_is_unauthenticated() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(event("GET", "/movies"))
    assert (error.value.status, error.value.code) == (401, "unauthenticated")
    assert error.value.headers["WWW-Authenticate"] == 'Bearer scope="movies/read"'


def test_request_without_a_request_context_is_unauthenticated() -> None:
    with pytest.raises(ProblemError) as error:
        authorize({"httpMethod": "GET", "path": "/movies"})
    assert error.value.status == 401


def test_write_with_only_the_read_scope_is_forbidden() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(event("DELETE", "/movies/2013/Rush", {"scope": "movies/read"}))
    assert (error.value.status, error.value.code) == (403, "insufficient-scope")
    assert 'error="insufficient_scope"' in error.value.headers["WWW-Authenticate"]
    assert 'scope="movies/write"' in error.value.headers["WWW-Authenticate"]


def test_the_refusal_names_the_missing_scope_and_the_tokens_scopes() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(event("POST", "/movies", {"scope": READ_SCOPE}))
    assert (
        error.value.detail == f"This operation needs an access token with the {WRITE_SCOPE} scope; it has {READ_SCOPE}."
    )


def test_read_with_only_the_write_scope_is_forbidden() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(event("GET", "/movies", {"scope": "movies/write"}))
    assert error.value.status == 403


@pytest.mark.parametrize("scope", ["movies/reader", "movies/read/extra", "MOVIES/READ", "movies", ""])
def test_scope_must_match_exactly(scope: str) -> None:
    with pytest.raises(ProblemError) as error:
        authorize(event("GET", "/movies", {"scope": scope}))
    assert error.value.status == 403


def test_claims_without_a_scope_grant_nothing() -> None:
    assert granted_scopes(event("GET", "/movies", {"sub": "client"})) == set()


def test_scope_claim_is_split_on_whitespace() -> None:
    assert granted_scopes(event("GET", "/movies", {"scope": "movies/read  movies/write"})) == {READ_SCOPE, WRITE_SCOPE}
