"""Searches by genre, actor, director and rating reflect every write within the stated window.

The search index is kept in step from the movies table's stream (in AWS by the search index
function's event source mapping, locally by the stack's stream poller calling the same handler),
so a search sees a write a moment after it. docs/adr/search-index-table-kept-in-step-from-the-stream.md
states the window: SEARCH_WINDOW_S, measured here on every run, on the stack under test.
Every name used is unique to the run, so other runs writing to a deployed table do not interfere.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.support import TEST_YEAR, Api, MovieJanitor, Tokens, movie_path

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SEARCH_WINDOW_S = 10.0


def search(api: Api, tokens: Tokens, **params: Any) -> list[dict[str, Any]]:
    """Every movie the search finds, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {**params, "limit": 100}
    while True:
        response = api.call("GET", f"/movies?{urlencode(query)}", token=tokens.read)
        assert response.status_code == 200, response.text[:300]
        page = response.json()
        items += page["items"]
        if "next_cursor" not in page:
            return items
        query["cursor"] = page["next_cursor"]


def within_window(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check`` held; fails if it did not within SEARCH_WINDOW_S."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < SEARCH_WINDOW_S, f"{what} not seen within {SEARCH_WINDOW_S} s"
        time.sleep(0.1)
    return time.monotonic() - started


def titles(api: Api, tokens: Tokens, **params: Any) -> set[str]:
    return {item["title"] for item in search(api, tokens, **params)}


def test_search_reflects_a_create_a_replace_a_patch_and_a_delete_within_the_window(
    api: Api, tokens: Tokens, movies: MovieJanitor
) -> None:
    run = uuid.uuid4().hex[:10]
    genre, actor, director, new_actor = f"e2e-genre-{run}", f"e2e-actor-{run}", f"e2e-director-{run}", f"e2e-new-{run}"
    movie = movies.create("searched", {"genres": [genre], "actors": [actor], "directors": [director], "rating": 9.95})
    found = within_window(lambda: movie.title in titles(api, tokens, genre=genre), "the created movie by genre")
    assert movie.title in titles(api, tokens, actor=actor)
    assert movie.title in titles(api, tokens, director=director, year=TEST_YEAR)
    assert movie.title in titles(api, tokens, min_rating=9.95, year=TEST_YEAR)

    replaced = api.call(
        "PUT",
        movie.path,
        token=tokens.full,
        headers={"If-Match": movie.etag},
        json={"info": {"genres": [genre], "actors": [new_actor], "rating": 2.5}},
    )
    assert replaced.status_code == 200, replaced.text[:300]
    within_window(lambda: movie.title in titles(api, tokens, actor=new_actor), "the replaced movie by its new actor")
    assert movie.title not in titles(api, tokens, actor=actor)
    assert movie.title not in titles(api, tokens, director=director)

    patched = api.call(
        "PATCH",
        movie.path,
        token=tokens.full,
        headers={"If-Match": replaced.headers["ETag"], "Content-Type": "application/merge-patch+json"},
        json={"info": {"genres": [f"{genre}-patched"], "actors": None}},
    )
    assert patched.status_code == 200, patched.text[:300]
    within_window(lambda: movie.title in titles(api, tokens, genre=f"{genre}-patched"), "the patched genre")
    assert movie.title not in titles(api, tokens, genre=genre)
    assert movie.title not in titles(api, tokens, actor=new_actor)

    deleted = api.call(
        "DELETE", movie_path(movie.year, movie.title), token=tokens.full, headers={"If-Match": patched.headers["ETag"]}
    )
    assert deleted.status_code == 204, deleted.text[:300]
    within_window(lambda: not titles(api, tokens, genre=f"{genre}-patched"), "the deletion")
    print(f"search saw the created movie after {found:.2f} s")  # the window, as measured on this stack
