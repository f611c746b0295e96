"""The service's own scope check: each operation's declared scope, behind the gateway's authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from mvdb.api.auth import authorize, granted_scopes
from mvdb.api.operations import Operation
from mvdb.api.problems import ProblemError
from mvdb.api.scopes import READ_SCOPE, WRITE_SCOPE

READ = Operation("GET", "/movies", READ_SCOPE)
WRITE = Operation("DELETE", "/movies/{year}/{title}", WRITE_SCOPE)
OPEN = Operation("GET", "/health", None)


def event(claims: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"claims": claims} if claims is not None else None}}


def test_an_open_operation_needs_no_claims() -> None:
    authorize(OPEN, event())


def test_the_declared_scope_admits() -> None:
    authorize(READ, event({"scope": "movies/read"}))
    authorize(WRITE, event({"scope": "movies/read movies/write"}))


def test_request_without_claims_is_unauthenticated() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(READ, event())
    assert (error.value.status, error.value.code) == (401, "unauthenticated")
    assert error.value.headers["WWW-Authenticate"] == 'Bearer scope="movies/read"'


def test_request_without_a_request_context_is_unauthenticated() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(READ, {})
    assert error.value.status == 401


def test_a_token_without_the_declared_scope_is_forbidden() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(WRITE, event({"scope": "movies/read"}))
    assert (error.value.status, error.value.code) == (403, "insufficient-scope")
    assert 'error="insufficient_scope"' in error.value.headers["WWW-Authenticate"]
    assert 'scope="movies/write"' in error.value.headers["WWW-Authenticate"]


def test_the_refusal_names_the_missing_scope_and_the_tokens_scopes() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(WRITE, event({"scope": READ_SCOPE}))
    assert (
        error.value.detail == f"This operation needs an access token with the {WRITE_SCOPE} scope; it has {READ_SCOPE}."
    )


def test_the_write_scope_does_not_grant_reads() -> None:
    with pytest.raises(ProblemError) as error:
        authorize(READ, event({"scope": WRITE_SCOPE}))
    assert error.value.status == 403


@pytest.mark.parametrize("scope", ["movies/reader", "movies/read/extra", "MOVIES/READ", "movies", ""])
def test_scope_must_match_exactly(scope: str) -> None:
    with pytest.raises(ProblemError) as error:
        authorize(READ, event({"scope": scope}))
    assert error.value.status == 403


def test_claims_without_a_scope_grant_nothing() -> None:
    assert granted_scopes(event({"sub": "client"})) == set()


def test_scope_claim_is_split_on_whitespace() -> None:
    assert granted_scopes(event({"scope": "movies/read  movies/write"})) == {READ_SCOPE, WRITE_SCOPE}
