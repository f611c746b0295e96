"""The audit trail end to end over HTTP: writes through the gateway, records from the stream's own
consumer process (as its Lambda function in AWS), a movie's history read with the auditors' token."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from mvdb.api.scopes import AUDIT_SCOPE
from tests.e2e.support import Api, MovieJanitor, StackUnderTest, Tokens, fetch_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RECORDS_WITHIN_S = 30.0  # the consumer polls the stream every 0.1 s locally, within seconds in AWS


@pytest.fixture(scope="module")
def auditor_token(stack: StackUnderTest) -> str:
    if stack.auditor is None:
        pytest.skip("the stack's outputs name no auditor app client (AuditorClientId)")
    return fetch_token(stack.token_url, stack.auditor, scope=AUDIT_SCOPE)


def history(api: Api, token: str, year: int, title: str, wanted: int) -> list[dict[str, Any]]:
    """The movie's history once it holds ``wanted`` records (the trail is written from the stream)."""
    deadline = time.monotonic() + RECORDS_WITHIN_S
    while True:
        response = api.call("GET", f"/audit/movies/{year}/{quote(title, safe='')}?limit=100", token=token)
        assert response.status_code == 200, response.text[:300]
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= wanted or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_every_write_through_the_api_leaves_one_record_newest_first(
    stack: StackUnderTest, api: Api, tokens: Tokens, movies: MovieJanitor, auditor_token: str
) -> None:
    movie = movies.create("audit")
    patched = api.call(
        "PATCH",
        movie.path,
        token=tokens.full,
        json={"info": {"rating": 7.5}},
        headers={"If-Match": movie.etag, "Content-Type": "application/merge-patch+json"},
    )
    deleted = api.call("DELETE", movie.path, token=tokens.full, headers={"If-Match": patched.headers["ETag"]})
    assert (patched.status_code, deleted.status_code) == (200, 204)

    items = history(api, auditor_token, movie.year, movie.title, wanted=3)

    assert [item["operation"] for item in items] == ["delete", "patch", "create"]
    assert {item["client_id"] for item in items} == {stack.machine.client_id}
    assert items[0]["request_id"] == deleted.headers["X-Request-Id"]
    assert items[1]["after"]["info"]["rating"] == 7.5


def test_the_history_needs_the_audit_scope(api: Api, tokens: Tokens) -> None:
    # The gateway's authorizer refuses a token without the route's scope (401, as API Gateway does).
    response = api.call("GET", "/audit/movies/2013/Rush", token=tokens.full)
    assert response.status_code == 401
