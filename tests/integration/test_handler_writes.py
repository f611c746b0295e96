"""Create, replace, patch and delete through the Lambda handler, with ETag / If-Match concurrency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient, LambdaResponse, movie_path

pytestmark = pytest.mark.integration

RUSH: dict[str, Any] = {
    "year": 2013,
    "title": "Rush",
    "info": {"rating": 8.3, "genres": ["Action", "Drama"], "release_date": "2013-09-02T00:00:00Z", "rank": 2},
}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def create(api: LambdaClient, movie: dict[str, Any] = RUSH) -> LambdaResponse:
    response = api.post("/movies", json_body=movie)
    assert response.status == 201, response.body
    return response


def current_etag(api: LambdaClient, path: str = "/movies/2013/Rush") -> str:
    etag = api.get(path).etag
    assert etag is not None
    return etag


def content(movie: dict[str, Any]) -> dict[str, Any]:
    """A movie as the client wrote it: without the attribution the service adds (modified_by, modified_at)."""
    return {name: value for name, value in movie.items() if name not in ("modified_by", "modified_at")}


def assert_problem(response: LambdaResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


# -- POST --------------------------------------------------------------------------------------


def test_post_is_201_with_the_movie_its_etag_and_location(api: LambdaClient) -> None:
    response = create(api)
    assert content(response.json()) == RUSH
    assert response.headers["Location"] == "/movies/2013/Rush"
    assert response.etag is not None
    assert response.etag.startswith('"')
    assert response.etag.endswith('"')


def test_location_of_a_created_movie_gets_it_back_with_the_same_etag(api: LambdaClient) -> None:
    created = create(api, {"year": 1997, "title": "Face/Off & Co: 100% #1?", "info": {"rating": 7.3}})
    read = api.get(created.headers["Location"])
    assert read.status == 200
    assert read.json()["title"] == "Face/Off & Co: 100% #1?"
    assert read.etag == created.etag


def test_post_of_an_existing_movie_is_409_and_does_not_overwrite(api: LambdaClient) -> None:
    etag = create(api).etag
    response = api.post("/movies", json_body={**RUSH, "info": {"rating": 1.0}})
    assert_problem(response, 409, "movie-already-exists")
    assert api.get("/movies/2013/Rush").etag == etag


def test_get_of_a_missing_movie_is_404_problem(api: LambdaClient) -> None:
    body = assert_problem(api.get("/movies/2013/Rush"), 404, "movie-not-found")
    assert "Rush" in body["detail"]


def test_post_accepts_a_charset_parameter_on_json(api: LambdaClient) -> None:
    response = api.post("/movies", body=json.dumps(RUSH), headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status == 201


# -- PUT ---------------------------------------------------------------------------------------


def test_put_with_the_current_etag_is_200_with_a_new_etag(api: LambdaClient) -> None:
    old = create(api).etag
    response = api.put("/movies/2013/Rush", json_body={"info": {"rating": 9.1}}, headers={"If-Match": old or ""})
    assert response.status == 200
    assert content(response.json()) == {"year": 2013, "title": "Rush", "info": {"rating": 9.1}}
    assert response.etag not in (None, old)
    assert current_etag(api) == response.etag


def test_put_with_a_stale_etag_is_412_and_keeps_the_other_writers_change(api: LambdaClient) -> None:
    # GIVEN two clients that read the same version
    stale = create(api).etag or ""
    first = api.put("/movies/2013/Rush", json_body={"info": {"rating": 9.0}}, headers={"If-Match": stale})
    assert first.status == 200
    # WHEN the second writes with the ETag it read
    second = api.put("/movies/2013/Rush", json_body={"info": {"rating": 1.0}}, headers={"If-Match": stale})
    # THEN it gets 412 and the first change is not lost
    assert_problem(second, 412, "precondition-failed")
    assert api.get("/movies/2013/Rush").json()["info"] == {"rating": 9.0}


def test_put_with_if_match_star_replaces_whatever_version_exists(api: LambdaClient) -> None:
    create(api)
    response = api.put("/movies/2013/Rush", json_body={"info": {"plot": "New."}}, headers={"If-Match": "*"})
    assert response.status == 200


@pytest.mark.parametrize("if_match", ["*", '"0123456789abcdef0123456789abcdef"'])
def test_put_of_a_missing_movie_is_404(api: LambdaClient, if_match: str) -> None:
    response = api.put("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": if_match})
    assert_problem(response, 404, "movie-not-found")


def test_put_that_changes_the_key_is_422(api: LambdaClient) -> None:
    create(api)
    response = api.put("/movies/2013/Rush", json_body={"title": "Rush 2", "info": {}}, headers={"If-Match": "*"})
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["location"] == ["body", "title"]


def test_put_with_a_weak_etag_is_412(api: LambdaClient) -> None:
    etag = create(api).etag
    response = api.put("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": f"W/{etag}"})
    assert_problem(response, 412, "precondition-failed")


def test_put_with_a_list_of_etags_is_400(api: LambdaClient) -> None:
    etag = create(api).etag
    response = api.put("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": f'{etag}, "other"'})
    assert_problem(response, 400, "invalid-if-match")


# -- PATCH -------------------------------------------------------------------------------------


def test_patch_merges_into_info_and_returns_a_new_etag(api: LambdaClient) -> None:
    old = create(api).etag or ""
    patch = {"info": {"rating": 8.5, "genres": None, "plot": "Hunt vs Lauda."}}
    response = api.patch("/movies/2013/Rush", body=json.dumps(patch), headers={**MERGE_PATCH, "If-Match": old})
    assert response.status == 200
    assert response.json()["info"] == {
        "rating": 8.5,
        "release_date": "2013-09-02T00:00:00Z",
        "rank": 2,
        "plot": "Hunt vs Lauda.",
    }
    assert response.etag != old
    assert api.get("/movies/2013/Rush").json() == response.json()


def test_patch_accepts_plain_application_json(api: LambdaClient) -> None:
    create(api)
    response = api.patch("/movies/2013/Rush", json_body={"info": {"rating": 7.0}}, headers={"If-Match": "*"})
    assert response.status == 200


def test_patch_with_a_stale_etag_is_412(api: LambdaClient) -> None:
    stale = create(api).etag or ""
    api.patch("/movies/2013/Rush", json_body={"info": {"rating": 1.0}}, headers={"If-Match": stale})
    response = api.patch("/movies/2013/Rush", json_body={"info": {"rating": 2.0}}, headers={"If-Match": stale})
    assert_problem(response, 412, "precondition-failed")
    assert api.get("/movies/2013/Rush").json()["info"]["rating"] == 1.0


def test_patch_of_a_missing_movie_is_404(api: LambdaClient) -> None:
    response = api.patch("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": "*"})
    assert_problem(response, 404, "movie-not-found")


def test_patch_that_makes_the_movie_invalid_is_422_with_the_field(api: LambdaClient) -> None:
    create(api)
    response = api.patch("/movies/2013/Rush", json_body={"info": {"rating": 12}}, headers={"If-Match": "*"})
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["location"] == ["body", "info", "rating"]


def test_patch_of_the_key_is_422(api: LambdaClient) -> None:
    create(api)
    response = api.patch("/movies/2013/Rush", json_body={"year": 2014}, headers={"If-Match": "*"})
    assert assert_problem(response, 422, "validation-failed")["errors"][0]["location"] == ["body", "year"]


def test_patch_with_malformed_json_is_400(api: LambdaClient) -> None:
    create(api)
    response = api.patch("/movies/2013/Rush", body='{"info": ', headers={**MERGE_PATCH, "If-Match": "*"})
    assert_problem(response, 400, "malformed-json")


def test_patch_nested_far_deeper_than_the_recursion_limit_is_400_not_500(api: LambdaClient) -> None:
    # 2,000 levels: 10 KB, well under the body limit; merging it used to exhaust the stack. Refused
    # before any merge: deeper than the 32 levels DynamoDB stores.
    create(api)
    body = '{"info":' + '{"a":' * 2000 + "1" + "}" * 2001
    response = api.patch("/movies/2013/Rush", body=body, headers={**MERGE_PATCH, "If-Match": "*"})
    assert_problem(response, 400, "malformed-json")


# -- DELETE ------------------------------------------------------------------------------------


def test_delete_with_the_current_etag_is_204_and_the_movie_is_gone(api: LambdaClient) -> None:
    etag = create(api).etag or ""
    response = api.delete("/movies/2013/Rush", headers={"If-Match": etag})
    assert (response.status, response.body) == (204, "")
    assert api.get("/movies/2013/Rush").status == 404


def test_delete_with_a_stale_etag_is_412_and_keeps_the_movie(api: LambdaClient) -> None:
    stale = create(api).etag or ""
    api.put("/movies/2013/Rush", json_body={"info": {}}, headers={"If-Match": stale})
    assert_problem(api.delete("/movies/2013/Rush", headers={"If-Match": stale}), 412, "precondition-failed")
    assert api.get("/movies/2013/Rush").status == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_change_without_if_match_is_428_and_changes_nothing(api: LambdaClient, method: str) -> None:
    created = create(api)
    body = None if method == "DELETE" else {"info": {}}
    assert_problem(api.request(method, "/movies/2013/Rush", json_body=body), 428, "precondition-required")
    assert api.get("/movies/2013/Rush").etag == created.etag


def test_delete_of_a_missing_movie_is_404(api: LambdaClient) -> None:
    assert_problem(api.delete("/movies/2013/Rush", headers={"If-Match": "*"}), 404, "movie-not-found")


# -- titles special in URLs ----------------------------------------------------------------------

SPECIAL_TITLES = [
    "100% Wolf",
    "%2F is not a slash",
    "#Horror",
    "Romeo + Juliet",
    'Say "Cheese"',
    "It's Complicated",
    "Amélie",
    "千と千尋の神隠し",
    "Crouching Tiger, Hidden Dragon 🐯",
    "V/H/S/2",
    "Who? What? Where?",
    "Tom & Jerry: The Movie",
    "Back\\Slash",
    "[REC]",
    " leading and trailing spaces ",
]


@pytest.mark.parametrize("title", SPECIAL_TITLES)
def test_title_special_in_urls_goes_through_the_whole_lifecycle(api: LambdaClient, title: str) -> None:
    path = movie_path(2013, title)
    created = create(api, {"year": 2013, "title": title, "info": {"rating": 5.0}})
    assert created.headers["Location"] == path
    assert api.get(path).json()["title"] == title
    replaced = api.put(path, json_body={"info": {"rating": 6.0}}, headers={"If-Match": created.etag or ""})
    assert replaced.status == 200
    patched = api.patch(path, json_body={"info": {"rank": 3}}, headers={"If-Match": replaced.etag or ""})
    assert content(patched.json()) == {"year": 2013, "title": title, "info": {"rating": 6.0, "rank": 3}}
    assert api.delete(path, headers={"If-Match": patched.etag or ""}).status == 204
    assert api.get(path).status == 404
