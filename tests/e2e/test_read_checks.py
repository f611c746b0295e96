"""The read-only checks the restore validation runs (``mvdb.verification.read_checks``), here over
HTTPS against the stack, with the read-only client's token: one list of checks, so a restored
table is held to what the deployed API is held to."""

from __future__ import annotations

import pytest

from mvdb.verification.read_checks import READ_CHECKS, MovieRef, ReadCheck, Reply
from tests.e2e.support import Api, Tokens

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


class HttpReadApi:
    def __init__(self, api: Api, token: str) -> None:
        self._api = api
        self._token = token

    def get(self, target: str) -> Reply:
        response = self._api.call("GET", target, token=self._token)
        body = response.json() if response.content else None
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)


@pytest.mark.parametrize("check", READ_CHECKS, ids=[check.name for check in READ_CHECKS])
def test_read_check(check: ReadCheck, api: Api, tokens: Tokens, existing_movie: MovieRef) -> None:
    result = check.run(HttpReadApi(api, tokens.read), MovieRef(existing_movie.year, existing_movie.title))

    assert result.passed, result.detail
