"""No request of the acceptance checks, nor any malformed variant of one, gets a 5xx while
DynamoDB is up: bad years, junk cursors, huge limits, odd encodings, wrong methods, bad bodies.

Reads run against the shared, fully loaded table; writes against a table of this module's own,
with Rush put back before every request so each one meets the same state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mvdb.loader import load_movies
from mvdb_local.table import create_movies_table
from tests.conftest import unique_table_name
from tests.integration.lambda_client import LambdaClient

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Action"]}}
STALE = {"If-Match": '"0123456789abcdef0123456789abcdef"'}

READS: list[Any] = [
    # the acceptance reads, as they are
    "/movies?year=2013&limit=50",
    "/movies/2013/Rush",
    # years
    *(f"/movies?year={y}" for y in ["-1", "0", "99999", "2013.5", "1e3", "abc", "", "%00", " 2013", "9" * 5000]),
    "/movies?year=2013&year=abc",
    "/movies?year=2013&year=2012",
    *(f"/movies/{y}/Rush" for y in ["-1", "0", "99999", "2013.5", "abc", "%32%30%31%33", "9" * 5000, "%FF"]),
    # limits
    *(f"/movies?year=2013&limit={n}" for n in ["0", "-1", "101", "1e9", "9" * 40, "abc", "", "50.5", "%FF"]),
    # cursors
    *(
        f"/movies?year=2013&limit=50&cursor={c}"
        for c in ["junk", "", "A" * 2000, "%FF%FE", "AAAA", "null", "e30", "W10", "eyJ2IjoyfQ", "%253D", "==", "-_-_"]
    ),
    "/movies?genre=Drama&cursor=eyJ2IjoyLCJ5Ijo5OTk5OTk5OTk5OTk5OTk5OTk5LCJ0IjoiUnVzaCJ9",
    # filters
    *(f"/movies?min_rating={r}" for r in ["-1", "11", "nan", "inf", "-inf", "1e-300", "1e400", "abc", ""]),
    *(f"/movies?{p}=" + "x" * 5000 for p in ["genre", "actor", "director"]),
    "/movies?year=2013&title_prefix=" + "R" * 5000,
    "/movies?title_prefix=R",
    "/movies?genre=%00",
    "/movies?genre=%FF",
    "/movies?genre=%F0%9F%8E%AC",
    "/movies?sort=title",
    "/movies?year=2013&limit=50&cursor=junk&cursor=more",
    # odd encodings of titles
    *(
        f"/movies/2013/{t}"
        for t in [
            "%FF",
            "%",
            "%2",
            "%ZZ",
            "%00",
            "%2F",
            "%252F",
            "Rush%20",
            "%E2%80%AE",
            "%ED%A0%80",
            "%C0%AF",
            "x" * 5000,
            "Rush/extra",
            "Rush%2Fextra",
            "Am%C3%A9lie",
            "Amélie",
            "%20",
            "%09",
            "..",
            "%2E%2E",
            "Rush;x=1",
        ]
    ),
    "/movies/2013/",
    "/movies//Rush",
    "/movies/2013",
    "//movies",
    "/movies/",
    "/movies%2F2013%2FRush",
    "/docs/..%2F..%2Fetc%2Fpasswd",
    "/docs/nothing.js",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("path", READS, ids=lambda p: p[:60])
def test_read_variant_is_never_a_5xx(catalog_api: LambdaClient, path: str) -> None:
    response = catalog_api.get(path)
    assert response.status < 500, response.body


ODD_METHODS = [
    (method, path)
    for path in ["/movies", "/movies/2013/Rush", "/health", "/", "/docs", "/openapi.json"]
    for method in ["DELETE", "PUT", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "FOO", "get"]
    # real writes to a movie of the shared table: those run against a table of their own below
    if not (path.startswith("/movies/") and method in {"DELETE", "PUT", "PATCH"})
]


@pytest.mark.parametrize(("method", "path"), ODD_METHODS)
def test_wrong_or_odd_method_is_never_a_5xx(catalog_api: LambdaClient, method: str, path: str) -> None:
    response = catalog_api.request(method, path, headers=JSON, body="{}")
    assert response.status < 500, response.body


# -- writes --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def write_table(dynamodb_client: Any) -> Iterator[str]:
    name = unique_table_name("sweep")
    create_movies_table(dynamodb_client, name, if_missing=False, stream=False)  # no test here reads it
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def writable(
    build_app: Callable[..., Any], dynamodb_client: Any, dynamodb_local: Any, write_table: str
) -> LambdaClient:
    # Rush exactly as a first POST would store it; anything else a previous request left is removed.
    dynamodb_client.delete_item(TableName=write_table, Key={"year": {"N": "2014"}, "title": {"S": "Rush"}})
    load_movies(dynamodb_client, write_table, [RUSH], workers=1)
    return LambdaClient(build_app(write_table, endpoint=dynamodb_local.endpoint))


EMPTY_BODY_TYPES = [
    "text/plain",
    "APPLICATION/JSON",
    "application/merge-patch+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]
DEEP = '{"year": 2013, "title": "Rush", "info":' + '{"a":' * 10_000 + "1" + "}" * 10_001
WRITES: list[Any] = [
    # the acceptance write: PUT with a stale If-Match
    ("PUT", "/movies/2013/Rush", STALE, json.dumps({"info": {"rating": 1.0}})),
    # bodies
    *(
        ("PUT", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, body)
        for body in ["", "null", "[]", "{", '{"info": null}', '{"info": []}', '{"info": {"rating": "x"}}', '"x"']
    ),
    ("PUT", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, '{"year": 2014, "title": "Rush", "info": {}}'),
    ("PUT", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, json.dumps({"info": {"plot": "x" * 70_000}})),
    *(
        ("POST", "/movies", JSON, body)
        for body in ["", "{}", '{"year": 2013}', '{"title": "x"}', json.dumps({**RUSH, "title": "x" * 5000}), "1"]
    ),
    ("POST", "/movies", JSON, json.dumps(RUSH)),
    ("POST", "/movies", JSON, json.dumps({"year": 2013, "title": "Rush", "info": {"rating": 1e-300}})),
    ("POST", "/movies", JSON, json.dumps({"year": 2013, "title": "\ud800"})),
    ("POST", "/movies", JSON, '{"year": 2013, "title": "Rush", "year": 2014}'),
    ("POST", "/movies", {"Content-Type": ";;;"}, json.dumps(RUSH)),
    ("POST", "/movies", {"Content-Type": "application/json; charset=latin-1"}, json.dumps({**RUSH, "title": "R2"})),
    *(
        ("PATCH", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, body)
        for body in ["", "null", "[]", "{", '{"info": null}', '{"info": {"rating": null}}', '{"title": "Rush"}']
    ),
    ("PATCH", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, '{"info":' + '{"a":' * 2000 + "1" + "}" * 2001),
    ("PATCH", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, '{"info": {"rank": ' + "9" * 5000 + "}}"),
    ("PATCH", "/movies/2013/Rush", {"Content-Type": "text/plain", "If-Match": "*"}, "{}"),
    # If-Match forms
    *(
        ("PUT", "/movies/2013/Rush", {**JSON, "If-Match": tag}, '{"info": {}}')
        for tag in ['W/"x"', '"', "", "*,*", '"a", "b"', "x" * 5000, '"\u00e9"', "%FF"]
    ),
    *(("DELETE", "/movies/2013/Rush", {"If-Match": tag}, None) for tag in ['W/"x"', '"', "", "*,*", "x" * 5000]),
    ("DELETE", "/movies/2014/Rush", {"If-Match": "*"}, None),
    ("DELETE", "/movies/2013/%FF", {"If-Match": "*"}, None),
    # bodies the parser must refuse: not JSON, merge patch outside PATCH, not UTF-8, a 5,000-digit
    # integer, nesting 10,000 deep (each of these was a 500 once)
    ("POST", "/movies", {"Content-Type": "text/plain"}, json.dumps(RUSH)),
    ("PUT", "/movies/2013/Rush", {"Content-Type": "application/merge-patch+json", "If-Match": "*"}, '{"info": {}}'),
    ("POST", "/movies", JSON, b'{"year": 2013, "title": "Caf\xe9"}'),
    ("POST", "/movies", JSON, '{"year": ' + "9" * 5000 + ', "title": "x"}'),
    ("POST", "/movies", JSON, DEEP),
    ("PUT", "/movies/2013/Rush", {**JSON, "If-Match": "*"}, DEEP),
    # empty bodies under every kind of Content-Type (the resolver once parsed them by it: a 500, or {})
    *(
        (method, path, {"Content-Type": content_type, "If-Match": "*"}, "")
        for method, path in [("POST", "/movies"), ("PUT", "/movies/2013/Rush"), ("PATCH", "/movies/2013/Rush")]
        for content_type in EMPTY_BODY_TYPES
    ),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), WRITES, ids=lambda v: str(v)[:40])
def test_write_variant_is_never_a_5xx(
    writable: LambdaClient, method: str, path: str, headers: dict[str, str], body: str | bytes | None
) -> None:
    response = writable.request(method, path, headers=headers, body=body)
    assert response.status < 500, response.body


@pytest.mark.parametrize("content_type", EMPTY_BODY_TYPES)
def test_an_empty_replacement_is_refused_and_the_movie_keeps_its_info(
    writable: LambdaClient, content_type: str
) -> None:
    response = writable.request(
        "PUT", "/movies/2013/Rush", headers={"Content-Type": content_type, "If-Match": "*"}, body=""
    )
    assert (response.status, response.json()["code"]) == (400, "body-required")
    assert writable.get("/movies/2013/Rush").json()["info"] == RUSH["info"]
