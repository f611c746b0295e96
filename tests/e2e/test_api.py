"""After a deploy: the API is up, refuses callers without the right token, and reads and writes movies."""

from __future__ import annotations

import pytest

from tests.e2e.support import (
    SCOPE_REFUSED,
    TEST_YEAR,
    Api,
    MovieJanitor,
    MovieRef,
    Tokens,
    assert_answered_by_gateway,
    assert_no_movie_data,
    assert_problem,
    assert_refused_by_gateway,
    movie_path,
    new_movie_title,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_health_is_up(api: Api) -> None:
    response = api.call("GET", "/health")

    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"status": "ok"}


def test_request_without_token_is_refused_with_401(api: Api, existing_movie: MovieRef) -> None:
    response = api.call("GET", existing_movie.path)

    assert response.status_code == 401
    assert_no_movie_data(response, existing_movie.title)
    assert_refused_by_gateway(response)


def test_read_only_token_can_read_a_movie(api: Api, tokens: Tokens, existing_movie: MovieRef) -> None:
    response = api.call("GET", existing_movie.path, token=tokens.read)

    assert response.status_code == 200, response.text[:300]
    assert response.json()["title"] == existing_movie.title
    assert response.headers["ETag"] == existing_movie.etag


def test_read_only_token_can_search_movies(api: Api, tokens: Tokens, existing_movie: MovieRef) -> None:
    response = api.call("GET", f"/movies?year={TEST_YEAR}&limit=100", token=tokens.read)

    assert response.status_code == 200, response.text[:300]
    assert existing_movie.title in [movie["title"] for movie in response.json()["items"]]


def test_read_only_token_cannot_create_a_movie(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    title = new_movie_title("read-only create")
    movies.register(TEST_YEAR, title)  # deleted afterwards should the refusal not hold

    response = api.call("POST", "/movies", token=tokens.read, json={"year": TEST_YEAR, "title": title})

    assert response.status_code == SCOPE_REFUSED, response.text[:300]
    assert_no_movie_data(response, title)
    assert api.call("GET", movie_path(TEST_YEAR, title), token=tokens.full).status_code == 404


def test_read_only_token_cannot_delete_a_movie(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    movie = movies.create("read-only delete")

    response = api.call("DELETE", movie.path, token=tokens.read, headers={"If-Match": movie.etag})

    assert response.status_code == SCOPE_REFUSED, response.text[:300]
    assert_no_movie_data(response, movie.title)
    assert api.call("GET", movie.path, token=tokens.full).headers["ETag"] == movie.etag


def test_write_round_trip_create_read_update_delete(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    title = new_movie_title("round trip")
    movies.register(TEST_YEAR, title)
    path = movie_path(TEST_YEAR, title)

    created = api.call(
        "POST", "/movies", token=tokens.full, json={"year": TEST_YEAR, "title": title, "info": {"rating": 6.5}}
    )
    assert created.status_code == 201, created.text[:300]
    assert api.follow(created.headers["Location"], token=tokens.full).json()["title"] == title  # under the stage
    first_etag = created.headers["ETag"]

    read = api.call("GET", path, token=tokens.full)
    assert read.status_code == 200
    assert read.headers["ETag"] == first_etag
    assert {name: value for name, value in read.json().items() if not name.startswith("modified_")} == {
        "year": TEST_YEAR,
        "title": title,
        "info": {"rating": 6.5},
    }

    updated = api.call("PUT", path, token=tokens.full, headers={"If-Match": first_etag}, json={"info": {"rating": 8}})
    assert updated.status_code == 200, updated.text[:300]
    assert updated.json()["info"] == {"rating": 8}
    second_etag = updated.headers["ETag"]
    assert second_etag != first_etag

    stale = api.call("PUT", path, token=tokens.full, headers={"If-Match": first_etag}, json={"info": {"rating": 1}})
    assert_problem(stale, 412, "precondition-failed")
    stale_delete = api.call("DELETE", path, token=tokens.full, headers={"If-Match": first_etag})
    assert_problem(stale_delete, 412, "precondition-failed")
    assert api.call("GET", path, token=tokens.full).json()["info"] == {"rating": 8}

    deleted = api.call("DELETE", path, token=tokens.full, headers={"If-Match": second_etag})
    assert deleted.status_code == 204, deleted.text[:300]
    assert_problem(api.call("GET", path, token=tokens.full), 404, "movie-not-found")


def test_title_with_a_slash_round_trips(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    # The title is one percent-encoded path segment: the gateway's greedy {title+} must pass %2F on.
    title = new_movie_title("AC/DC: Let There Be Rock")
    movies.register(TEST_YEAR, title)

    created = api.call("POST", "/movies", token=tokens.full, json={"year": TEST_YEAR, "title": title})
    read = api.call("GET", movie_path(TEST_YEAR, title), token=tokens.full)

    assert created.status_code == 201, created.text[:300]
    assert read.status_code == 200, read.text[:300]
    assert read.json()["title"] == title


def test_write_without_if_match_is_refused_with_428(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    movie = movies.create("no if-match")

    response = api.call("DELETE", movie.path, token=tokens.full)

    assert_problem(response, 428, "precondition-required")
    assert api.call("GET", movie.path, token=tokens.full).status_code == 200


def test_invalid_movie_gets_a_problem_json_422(api: Api, tokens: Tokens, movies: MovieJanitor) -> None:
    title = new_movie_title("invalid")
    movies.register(TEST_YEAR, title)

    response = api.call(
        "POST", "/movies", token=tokens.full, json={"year": TEST_YEAR, "title": title, "info": {"rating": 11}}
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert [error["location"] for error in problem["errors"]] == [["body", "info", "rating"]]
    assert api.call("GET", movie_path(TEST_YEAR, title), token=tokens.full).status_code == 404


@pytest.mark.parametrize(("method", "path"), [("GET", "/movies/2013"), ("GET", "/nowhere")])
def test_undeclared_route_gets_a_problem_json_404_from_the_gateway(
    api: Api, tokens: Tokens, method: str, path: str
) -> None:
    response = api.call(method, path, token=tokens.full)

    assert_problem(response, 404, "route-not-found")
    assert_answered_by_gateway(response)


def test_unknown_query_parameter_gets_a_problem_json_400(api: Api, tokens: Tokens) -> None:
    response = api.call("GET", "/movies?colour=red", token=tokens.read)

    assert_problem(response, 400, "unknown-parameter")
