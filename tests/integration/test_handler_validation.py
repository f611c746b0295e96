"""Invalid requests get a 4xx problem+json naming what is wrong, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient, LambdaResponse

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


def problem_of(response: LambdaResponse, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    return body


def locations(body: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {tuple(error["location"]) for error in body.get("errors", [])}


# -- bodies that break the rules: 422 with every field error -----------------------------------


def test_invalid_movie_is_422_listing_every_field_error_with_its_location(api: LambdaClient) -> None:
    body = problem_of(
        api.post(
            "/movies",
            json_body={"year": 1000, "title": " ", "info": {"rating": 11, "ratign": 1}, "id": 7},
        ),
        422,
    )
    assert body["code"] == "validation-failed"
    assert locations(body) == {
        ("body", "year"),
        ("body", "title"),
        ("body", "info", "rating"),
        ("body", "info", "ratign"),
        ("body", "id"),
    }
    assert all({"location", "message", "code"} <= set(error) for error in body["errors"])


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"genres": "Drama"}, "genres"),
        ({"actors": [1, 2]}, "actors"),
        ({"directors": [""]}, "directors"),
        ({"release_date": "yesterday"}, "release_date"),
        ({"release_date": 1378080000}, "release_date"),
        ({"running_time_secs": -1}, "running_time_secs"),
        ({"rating": -0.5}, "rating"),
        ({"rating": 1e-300}, "rating"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
    ],
)
def test_invalid_info_field_is_422_located_at_the_field(api: LambdaClient, info: dict[str, Any], field: str) -> None:
    body = problem_of(api.post("/movies", json_body={"year": 2013, "title": "Rush", "info": info}), 422)
    assert {location[:3] for location in locations(body)} == {("body", "info", field)}


@pytest.mark.parametrize("title", ["", "   ", "a" * 301, "Rush\n", "Tab\there", "Bell\x07"])
def test_invalid_title_is_422(api: LambdaClient, title: str) -> None:
    body = problem_of(api.post("/movies", json_body={"year": 2013, "title": title}), 422)
    assert locations(body) == {("body", "title")}


@pytest.mark.parametrize("year", [1869, 2101, "2013", 2013.5, None])
def test_invalid_year_in_the_body_is_422(api: LambdaClient, year: Any) -> None:
    assert locations(problem_of(api.post("/movies", json_body={"year": year, "title": "Rush"}), 422)) == {
        ("body", "year")
    }


@pytest.mark.parametrize("body", ["[]", '"movie"', "42", "null"])
def test_body_that_is_not_an_object_is_422(api: LambdaClient, body: str) -> None:
    problem_of(api.post("/movies", body=body, headers=JSON), 422)


def test_date_only_release_date_is_stored_and_returned_as_a_date(api: LambdaClient) -> None:
    response = api.post("/movies", json_body={"year": 2013, "title": "Rush", "info": {"release_date": "2013-09-02"}})
    assert response.status == 201
    assert api.get("/movies/2013/Rush").json()["info"]["release_date"] == "2013-09-02"


# -- malformed requests: 400 --------------------------------------------------------------------


@pytest.mark.parametrize("body", ['{"year": 2013,', "{'year': 2013}", "{", "year=2013", '{"year": 2013}}'])
def test_malformed_json_is_400(api: LambdaClient, body: str) -> None:
    assert problem_of(api.post("/movies", body=body, headers=JSON), 400)["code"] == "malformed-json"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/movies/abc/Rush", ("path", "year")),
        ("/movies/1869/Rush", ("path", "year")),
        ("/movies/2101/Rush", ("path", "year")),
        ("/movies/2013/%FF", ("path", "title")),
        ("/movies/2013/%C3%28", ("path", "title")),
        ("/movies/2013/%20", ("path", "title")),
        ("/movies/2013/" + "x" * 301, ("path", "title")),
        ("/movies?year=abc", ("query", "year")),
        ("/movies?year=1800", ("query", "year")),
        ("/movies?limit=0", ("query", "limit")),
        ("/movies?limit=101", ("query", "limit")),
        ("/movies?limit=ten", ("query", "limit")),
        ("/movies?min_rating=11", ("query", "min_rating")),
        ("/movies?min_rating=nan", ("query", "min_rating")),
        ("/movies?min_rating=inf", ("query", "min_rating")),
        ("/movies?genre=", ("query", "genre")),
        ("/movies?cursor=", ("query", "cursor")),
        ("/movies?title_prefix=R", ("query", "title_prefix")),
    ],
)
def test_invalid_path_or_query_value_is_400_naming_it(api: LambdaClient, path: str, location: tuple[str, ...]) -> None:
    body = problem_of(api.get(path), 400)
    assert location in locations(body)


# Each change of one movie, valid but for its path: the resolver validates them, GET checks its path itself.
_CHANGES: dict[str, dict[str, Any]] = {
    "DELETE": {"headers": {"If-Match": "*"}},
    "PUT": {"json_body": {"year": 2013, "title": "Rush"}, "headers": {"If-Match": "*"}},
    "PATCH": {"body": "{}", "headers": {"If-Match": "*", "Content-Type": "application/merge-patch+json"}},
}


_BAD_PATHS = {
    "year-not-a-number": "/movies/abc/Rush",
    "year-too-early-title-blank": "/movies/1869/%20",
    "year-too-late": "/movies/2101/Rush",
    "both-wrong": "/movies/-1/" + "x" * 3100,
    "year-with-a-fraction": "/movies/2013.5/Rush",
    "year-minus-zero": "/movies/-0/Rush",
    "year-in-exponent-form": "/movies/1e3/Rush",
    "year-of-5000-digits": "/movies/" + "9" * 5000 + "/Rush",  # past Python's 4,300-digit limit on int()
    "year-in-arabic-indic-digits": "/movies/%D9%A2%D9%A0%D9%A1%D9%A3/Rush",
    "year-in-fullwidth-digits": "/movies/%EF%BC%92%EF%BC%90%EF%BC%91%EF%BC%93/Rush",
    "title-nul": "/movies/2013/%00",
    "title-ending-in-a-newline": "/movies/2013/Rush%0A",
    "title-not-utf-8": "/movies/2013/%C3%28",
    "title-a-surrogate": "/movies/2013/%ED%A0%80",  # UTF-8 may not carry one
    "title-of-1028-bytes": "/movies/2013/" + "%F0%9F%98%80" * 257,  # 257 characters, 4 bytes each
}


@pytest.mark.parametrize("method", list(_CHANGES))
@pytest.mark.parametrize("path", list(_BAD_PATHS.values()), ids=list(_BAD_PATHS))
def test_a_get_names_a_bad_path_exactly_as_the_resolver_does_for_the_other_methods(
    api: LambdaClient, path: str, method: str
) -> None:
    # GET checks its key itself (mvdb.api.movies.validated_path); the changes through the resolver's validation.
    got, changed = api.get(path), api.request(method, path, **_CHANGES[method])
    assert (got.status, got.headers["Content-Type"], got.body) == (400, "application/problem+json", changed.body)
    assert problem_of(changed, 400)["code"] == "validation-failed"


def test_unknown_query_parameter_is_400_listing_the_known_ones(api: LambdaClient) -> None:
    body = problem_of(api.get("/movies?year=2013&sort=title"), 400)
    assert body["code"] == "unknown-parameter"
    assert "sort" in body["detail"]


# -- envelope: 415 and 413 ----------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_patch_with_a_body_that_is_not_json_is_415(api: LambdaClient, content_type: str) -> None:
    response = api.patch(
        "/movies/2013/Rush", body='{"info": {}}', headers={"Content-Type": content_type, "If-Match": "*"}
    )
    assert problem_of(response, 415)["code"] == "unsupported-media-type"


def test_post_without_a_content_type_is_415(api: LambdaClient) -> None:
    assert problem_of(api.post("/movies", body=json.dumps({"year": 2013, "title": "Rush"})), 415)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_post_or_put_with_a_body_that_is_not_json_is_415(api: LambdaClient, method: str) -> None:
    path = "/movies" if method == "POST" else "/movies/2013/Rush"
    response = api.request(
        method, path, body='{"year": 2013, "title": "Rush"}', headers={"Content-Type": "text/plain", "If-Match": "*"}
    )
    assert problem_of(response, 415)["code"] == "unsupported-media-type"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_post_or_put_with_merge_patch_content_type_is_415(api: LambdaClient, method: str) -> None:
    # Merge patches are for PATCH only: a POST or PUT body must be a whole application/json document.
    api.post("/movies", json_body={"year": 2013, "title": "Rush"})
    path = "/movies" if method == "POST" else "/movies/2013/Rush"
    response = api.request(
        method,
        path,
        body='{"year": 2013, "title": "Rush", "info": {}}',
        headers={"Content-Type": "application/merge-patch+json", "If-Match": "*"},
    )
    assert problem_of(response, 415)["code"] == "unsupported-media-type"


def test_body_larger_than_max_body_bytes_is_413(api: LambdaClient) -> None:
    movie = {"year": 2013, "title": "Rush", "info": {"plot": "x" * (64 * 1024)}}
    assert problem_of(api.post("/movies", json_body=movie), 413)["code"] == "payload-too-large"


def test_max_body_bytes_is_read_from_the_environment(
    build_app: Callable[..., Any], dynamodb_local: Any, movies_table: str
) -> None:
    api = LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint, MAX_BODY_BYTES="100"))
    small = {"year": 2013, "title": "Rush"}
    assert api.post("/movies", json_body=small).status == 201
    large = {"year": 2013, "title": "Rush 2", "info": {"plot": "x" * 100}}
    assert problem_of(api.post("/movies", json_body=large), 413)


def test_oversized_body_is_refused_before_its_json_is_read(api: LambdaClient) -> None:
    assert problem_of(api.post("/movies", body="{" * (70 * 1024), headers=JSON), 413)


# -- bodies that break the parser: must be 4xx, not 500 ------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_body_that_is_not_utf8_is_400(api: LambdaClient, method: str) -> None:
    path = "/movies" if method == "POST" else "/movies/2013/Rush"
    body = '{"year": 2013, "title": "Caf\xe9"}'.encode("latin-1")
    response = api.request(method, path, body=body, headers={**JSON, "If-Match": "*"})
    assert problem_of(response, 400)["code"] == "malformed-json"


def test_patch_body_that_is_not_utf8_is_400(api: LambdaClient) -> None:
    api.post("/movies", json_body={"year": 2013, "title": "Rush"})
    body = '{"info": {"plot": "Caf\xe9"}}'.encode("latin-1")
    response = api.patch("/movies/2013/Rush", body=body, headers={**JSON, "If-Match": "*"})
    assert problem_of(response, 400)["code"] == "malformed-json"


def test_json_with_a_huge_integer_is_400(api: LambdaClient) -> None:
    body = '{"year": ' + "9" * 5000 + ', "title": "Rush"}'
    assert problem_of(api.post("/movies", body=body, headers=JSON), 400)["code"] == "malformed-json"


def test_patch_with_a_huge_integer_is_400(api: LambdaClient) -> None:
    api.post("/movies", json_body={"year": 2013, "title": "Rush"})
    body = '{"info": {"rank": ' + "9" * 5000 + "}}"
    response = api.patch("/movies/2013/Rush", body=body, headers={**JSON, "If-Match": "*"})
    assert problem_of(response, 400)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_json_nested_deeper_than_the_parser_allows_is_400(api: LambdaClient, method: str) -> None:
    api.post("/movies", json_body={"year": 2013, "title": "Rush"})
    body = '{"info":' + '{"a":' * 10_000 + "1" + "}" * 10_001
    assert len(body) < 64 * 1024
    path = "/movies" if method == "POST" else "/movies/2013/Rush"
    response = api.request(method, path, body=body, headers={**JSON, "If-Match": "*"})
    assert problem_of(response, 400)["code"] == "malformed-json"
