"""The auth matrix: every route × every kind of caller, each cell its own test.

A refused cell must also leak nothing (no title, info or page of movies in the body), change
nothing (a refused write leaves the movie as it was), and be refused by the gateway, before the
function runs. Requests are otherwise valid (body, If-Match), so a refusal can only come from auth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.support import (
    TEST_YEAR,
    Api,
    MovieJanitor,
    MovieRef,
    StackUnderTest,
    Tokens,
    assert_no_movie_data,
    assert_refused_by_gateway,
    forge_token,
    new_movie_title,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


class Caller(Enum):
    NO_TOKEN = "no_token"
    MALFORMED = "malformed"  # not a JWT at all
    EXPIRED = "expired"  # signed by the pool (locally) but past its exp
    FORGED = "forged"  # the pool's claims, unexpired, signed with some other key
    UNSIGNED = "unsigned"  # alg "none": the classic JWT bypass
    READ_SCOPE = "read_scope"  # the read-only client: movies/read
    WRITE_SCOPE = "write_scope"  # the machine client narrowed to movies/write

    def authorization(self, stack: StackUnderTest, tokens: Tokens) -> str | None:
        token = {
            Caller.NO_TOKEN: None,
            Caller.MALFORMED: "this.is-not.a-jwt",
            Caller.EXPIRED: stack.expired_token,
            Caller.FORGED: forge_token(stack.issuer, stack.machine.client_id),
            Caller.UNSIGNED: forge_token(stack.issuer, stack.machine.client_id, algorithm="none"),
            Caller.READ_SCOPE: tokens.read,
            Caller.WRITE_SCOPE: tokens.write,
        }[self]
        return None if token is None else f"Bearer {token}"


class Target(Enum):
    NONE = "none"  # an open route: no movie involved
    EXISTING = "existing"  # the session's movie, only ever read
    FRESH = "fresh"  # a movie created for this cell, which the request may change or delete
    NEW = "new"  # a key that does not exist yet, which the request may create


@dataclass(frozen=True)
class Route:
    label: str
    method: str
    target: Target
    path: Callable[[MovieRef], str]
    body: Callable[[MovieRef], dict[str, Any]] | None = None
    content_type: str = "application/json"

    def request(self, api: Api, movie: MovieRef, authorization: str | None) -> Any:
        headers = {"If-Match": movie.etag} if self.target is Target.FRESH else {}
        if self.body is not None:
            headers["Content-Type"] = self.content_type
        body = self.body(movie) if self.body is not None else None
        return api.call(self.method, self.path(movie), authorization=authorization, json=body, headers=headers)


def _fixed(path: str) -> Callable[[MovieRef], str]:
    return lambda _movie: path


ROUTES = {
    "root": Route("GET /", "GET", Target.NONE, _fixed("/")),
    "health": Route("GET /health", "GET", Target.NONE, _fixed("/health")),
    "docs": Route("GET /docs", "GET", Target.NONE, _fixed("/docs")),
    "openapi": Route("GET /openapi.json", "GET", Target.NONE, _fixed("/openapi.json")),
    "list_movies": Route(
        "GET /movies",
        "GET",
        Target.EXISTING,
        lambda movie: f"/movies?year={movie.year}&title_prefix={quote(movie.title, safe='')}",
    ),
    "create_movie": Route(
        "POST /movies",
        "POST",
        Target.NEW,
        _fixed("/movies"),
        body=lambda movie: {"year": movie.year, "title": movie.title, "info": {"plot": "Created by the matrix."}},
    ),
    "get_movie": Route("GET /movies/{year}/{title}", "GET", Target.EXISTING, lambda movie: movie.path),
    "replace_movie": Route(
        "PUT /movies/{year}/{title}",
        "PUT",
        Target.FRESH,
        lambda movie: movie.path,
        body=lambda _movie: {"info": {"plot": "Replaced by the matrix."}},
    ),
    "patch_movie": Route(
        "PATCH /movies/{year}/{title}",
        "PATCH",
        Target.FRESH,
        lambda movie: movie.path,
        body=lambda _movie: {"info": {"rating": 5.5}},
        content_type="application/merge-patch+json",
    ),
    "delete_movie": Route("DELETE /movies/{year}/{title}", "DELETE", Target.FRESH, lambda movie: movie.path),
}

# The specification: the status each caller gets on each route, on AWS and locally alike. A valid
# token lacking the route's scope is refused by the gateway's Cognito authorizer with 401, as AWS
# documents (support.SCOPE_REFUSED).
#                   no_token malformed expired forged unsigned read write
EXPECTED_STATUS = {
    "root":          (200,     200,      200,    200,   200,     200, 200),
    "health":        (200,     200,      200,    200,   200,     200, 200),
    "docs":          (200,     200,      200,    200,   200,     200, 200),
    "openapi":       (200,     200,      200,    200,   200,     200, 200),
    "list_movies":   (401,     401,      401,    401,   401,     200, 401),
    "create_movie":  (401,     401,      401,    401,   401,     401, 201),
    "get_movie":     (401,     401,      401,    401,   401,     200, 401),
    "replace_movie": (401,     401,      401,    401,   401,     401, 200),
    "patch_movie":   (401,     401,      401,    401,   401,     401, 200),
    "delete_movie":  (401,     401,      401,    401,   401,     401, 204),
}  # fmt: skip
CELLS = [
    pytest.param(route, caller, status, id=f"{route}-{caller.value}")
    for route, statuses in EXPECTED_STATUS.items()
    for caller, status in zip(Caller, statuses, strict=True)
]


def test_matrix_covers_every_route_and_caller() -> None:
    assert EXPECTED_STATUS.keys() == ROUTES.keys()
    assert len(CELLS) == len(ROUTES) * len(Caller)


@pytest.mark.parametrize(("route_name", "caller", "expected"), CELLS)
def test_auth_matrix(
    route_name: str,
    caller: Caller,
    expected: int,
    stack: StackUnderTest,
    api: Api,
    tokens: Tokens,
    existing_movie: MovieRef,
    movies: MovieJanitor,
) -> None:
    route = ROUTES[route_name]
    movie = _target(route.target, existing_movie, movies)

    response = route.request(api, movie, caller.authorization(stack, tokens))

    assert response.status_code == expected, (
        f"{route.label} as {caller.value}: {response.status_code}, not {expected}: {response.text[:300]}"
    )
    if response.status_code < 400:
        if route.target is not Target.NONE and route.method != "DELETE":
            assert movie.title in response.text  # what a refusal must not show is really there when allowed
        return
    assert_no_movie_data(response, movie.title)
    assert_refused_by_gateway(response)  # the first line of defence; the service's own is tested by tests/unit
    if route.target is Target.NEW:
        assert _current_etag(api, tokens, movie) is None, "a refused create created the movie"
    elif route.target is Target.FRESH:
        assert _current_etag(api, tokens, movie) == movie.etag, "a refused write changed the movie"


def _target(target: Target, existing: MovieRef, movies: MovieJanitor) -> MovieRef:
    if target is Target.EXISTING:
        return existing
    if target is Target.FRESH:
        return movies.create("matrix")
    if target is Target.NEW:
        title = new_movie_title("matrix create")
        movies.register(TEST_YEAR, title)  # deleted afterwards whether or not the request created it
        return MovieRef(TEST_YEAR, title)
    return MovieRef(TEST_YEAR, "no movie involved")


def _current_etag(api: Api, tokens: Tokens, movie: MovieRef) -> str | None:
    response = api.call("GET", movie.path, token=tokens.full)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text[:300]
    return str(response.headers["ETag"])
