"""The whole API over HTTP: the local server (mvdb_local.server) in front of the Lambda handler.

The service's own answers, driven the way curl drives them (no gateway in front: every path
reaches the function, as through a catch-all resource).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.integration.lambda_client import movie_path

pytestmark = pytest.mark.integration

TIMEOUT_S = 20


@pytest.fixture
def catalog_url(build_app: Callable[..., Any], loaded_table: str, dynamodb_local: Any, serve: Any) -> str:
    """Base URL of the API over the shared, fully loaded table. Read-only."""
    base: str = serve(build_app(loaded_table, endpoint=dynamodb_local.endpoint))
    return base


@pytest.fixture
def empty_url(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any, serve: Any) -> str:
    """Base URL of the API over a fresh, empty table of this test's own."""
    base: str = serve(build_app(movies_table, endpoint=dynamodb_local.endpoint))
    return base


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_following_cursors_for_2013_in_pages_of_50_yields_432_unique_movies(
    http: requests.Session, catalog_url: str
) -> None:
    # curl 'http://127.0.0.1:8000/movies?year=2013&limit=50', then each next_cursor
    titles: list[str] = []
    params: dict[str, Any] = {"year": 2013, "limit": 50}
    for _ in range(20):
        response = http.get(f"{catalog_url}/movies", params=params, timeout=TIMEOUT_S)
        assert response.status_code == 200
        page = response.json()
        titles += [item["title"] for item in page["items"]]
        if "next_cursor" not in page:
            break
        params["cursor"] = page["next_cursor"]
    assert len(titles) == len(set(titles)) == 432


def test_get_rush_2013_returns_the_movie_with_an_etag(http: requests.Session, catalog_url: str) -> None:
    response = http.get(f"{catalog_url}/movies/2013/Rush", timeout=TIMEOUT_S)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["info"]["directors"] == ["Ron Howard"]
    assert response.headers["ETag"].startswith('"')


def test_put_with_a_stale_if_match_is_412(
    http: requests.Session, empty_url: str, movie_records: list[dict[str, Any]]
) -> None:
    # GIVEN Rush as the data set has it, read by a client (ETag noted)
    rush = next(r for r in movie_records if (r["year"], r["title"]) == (2013, "Rush"))
    assert http.post(f"{empty_url}/movies", json=rush, timeout=TIMEOUT_S).status_code == 201
    stale = http.get(f"{empty_url}/movies/2013/Rush", timeout=TIMEOUT_S).headers["ETag"]
    # AND somebody else changes it
    changed = http.put(
        f"{empty_url}/movies/2013/Rush", json={"info": {"rating": 9.0}}, headers={"If-Match": stale}, timeout=TIMEOUT_S
    )
    assert changed.status_code == 200
    # WHEN the client writes with its stale ETag THEN 412, as problem+json
    response = http.put(
        f"{empty_url}/movies/2013/Rush", json={"info": {"rating": 1.0}}, headers={"If-Match": stale}, timeout=TIMEOUT_S
    )
    assert response.status_code == 412
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "precondition-failed"


def test_put_without_if_match_is_428(http: requests.Session, empty_url: str) -> None:
    http.post(f"{empty_url}/movies", json={"year": 2013, "title": "Rush"}, timeout=TIMEOUT_S)
    response = http.put(f"{empty_url}/movies/2013/Rush", json={"info": {}}, timeout=TIMEOUT_S)
    assert response.status_code == 428


def test_created_movie_is_found_at_its_location(http: requests.Session, empty_url: str) -> None:
    movie = {"year": 2013, "title": "V/H/S/2", "info": {"genres": ["Horror"]}}
    created = http.post(f"{empty_url}/movies", json=movie, timeout=TIMEOUT_S)
    assert created.status_code == 201
    assert created.headers["Location"] == "/movies/2013/V%2FH%2FS%2F2"
    read = http.get(urljoin(empty_url, created.headers["Location"]), timeout=TIMEOUT_S)
    assert (read.status_code, read.json()) == (200, movie)
    assert read.headers["ETag"] == created.headers["ETag"]


def test_delete_is_204_with_no_body(http: requests.Session, empty_url: str) -> None:
    etag = http.post(f"{empty_url}/movies", json={"year": 2013, "title": "Rush"}, timeout=TIMEOUT_S).headers["ETag"]
    response = http.delete(f"{empty_url}/movies/2013/Rush", headers={"If-Match": etag}, timeout=TIMEOUT_S)
    assert (response.status_code, response.content) == (204, b"")


@pytest.mark.parametrize(("year", "title"), [(2013, "V/H/S/2"), (2011, "What's Your Number?"), (2013, "Pain & Gain")])
def test_url_encoded_titles_are_addressable_over_http(
    http: requests.Session, catalog_url: str, year: int, title: str
) -> None:
    response = http.get(f"{catalog_url}{movie_path(year, title)}", timeout=TIMEOUT_S)
    assert response.status_code == 200
    assert response.json()["title"] == title


def test_unknown_route_is_404_json(http: requests.Session, catalog_url: str) -> None:
    response = http.get(f"{catalog_url}/films", timeout=TIMEOUT_S)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_wrong_method_is_405_with_allow(http: requests.Session, catalog_url: str) -> None:
    response = http.delete(f"{catalog_url}/movies", timeout=TIMEOUT_S)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_health_docs_and_openapi_are_served(http: requests.Session, catalog_url: str) -> None:
    assert http.get(f"{catalog_url}/health", timeout=TIMEOUT_S).json() == {"status": "ok"}
    assert http.get(f"{catalog_url}/docs", timeout=TIMEOUT_S).headers["Content-Type"].startswith("text/html")
    assert "/movies" in http.get(f"{catalog_url}/openapi.json", timeout=TIMEOUT_S).json()["paths"]


def test_invalid_cursor_is_400_over_http(http: requests.Session, catalog_url: str) -> None:
    response = http.get(f"{catalog_url}/movies", params={"year": 2013, "cursor": "made-up"}, timeout=TIMEOUT_S)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-cursor"
