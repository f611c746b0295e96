"""The read checks pass on an API that answers as the movies API does, and each fails on the
answer it exists to catch. (The real API passes them: tests/e2e/test_read_checks.py over HTTP,
tests/integration/test_drill.py in-process.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mvdb.domain.models import compute_etag
from mvdb.verification.read_checks import READ_CHECKS, MovieRef, Reply, first_movie, run_read_checks

MOVIES = [
    {"year": 2013, "title": "Prisoners", "info": {"rating": 8.2}},
    {"year": 2013, "title": "Rush", "info": {"rating": 8.3}},
    {"year": 2013, "title": "Été", "info": {}},
    {"year": 2014, "title": "Interstellar", "info": {}},
]
RUSH = MovieRef(2013, "Rush")


@dataclass
class FakeApi:
    """Answers like the movies API over ``movies``; ``tamper`` may rewrite any reply."""

    movies: list[dict[str, Any]] = field(default_factory=lambda: [dict(m) for m in MOVIES])
    tamper: Callable[[str, Reply], Reply] = lambda _target, reply: reply
    page_size: int = 2

    def get(self, target: str) -> Reply:
        return self.tamper(target, self._answer(target))

    def _answer(self, target: str) -> Reply:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/health":
            return Reply(200, {}, {"status": "ok"})
        if parts.path == "/movies":
            found = [m for m in self.movies if "year" not in query or m["year"] == int(query["year"])]
            start = int(query.get("cursor", "0"))
            limit = min(int(query.get("limit", "20")), self.page_size)
            page = found[start : start + limit]
            more = start + limit < len(found)
            return Reply(200, {}, {"items": page, **({"next_cursor": str(start + limit)} if more else {})})
        _, _, year, title = parts.path.split("/", 3)
        for movie in self.movies:
            if (movie["year"], movie["title"]) == (int(year), unquote(title)):
                return Reply(200, {"etag": f'"{compute_etag(movie)}"'}, movie)
        return Reply(404, {}, {"code": "movie-not-found"})


def results(api: FakeApi, sample: MovieRef | None = RUSH) -> dict[str, bool]:
    return {result.name: result.passed for result in run_read_checks(api, sample)}


def only_failure(api: FakeApi) -> set[str]:
    return {name for name, passed in results(api).items() if not passed}


def test_every_check_passes_on_an_api_that_answers_as_the_movies_api_does() -> None:
    assert results(FakeApi()) == {check.name: True for check in READ_CHECKS}


def test_the_sample_is_the_tables_first_movie_unless_given() -> None:
    assert first_movie(FakeApi()) == MovieRef(2013, "Prisoners")


def test_an_empty_table_fails_the_checks() -> None:
    assert results(FakeApi(movies=[]), sample=None) == {"the table holds a movie to read": False}


def test_an_unhealthy_api_fails_health() -> None:
    def down(target: str, reply: Reply) -> Reply:
        return Reply(503, {}, {"code": "storage-unavailable"}) if target == "/health" else reply

    assert only_failure(FakeApi(tamper=down)) == {"health"}


def test_a_document_that_no_longer_hashes_to_its_etag_fails() -> None:
    def stale_etag(target: str, reply: Reply) -> Reply:
        return Reply(reply.status, {"etag": '"0000"'}, reply.body) if target == RUSH.path else reply

    assert only_failure(FakeApi(tamper=stale_etag)) == {"movie reads back with its ETag"}


def test_another_movie_answered_for_the_key_fails() -> None:
    def wrong_movie(target: str, reply: Reply) -> Reply:
        other = MOVIES[0]
        if target == RUSH.path:
            return Reply(200, {"etag": f'"{compute_etag(other)}"'}, other)
        return reply

    assert only_failure(FakeApi(tamper=wrong_movie)) == {"movie reads back with its ETag"}


@pytest.mark.parametrize(
    "titles",
    [["Rush", "Prisoners", "Été"], ["Prisoners", "Rush", "Rush", "Été"], ["Prisoners", "Été"]],
    ids=["out of key order", "listed twice", "missing"],
)
def test_a_year_that_lists_movies_wrongly_fails(titles: list[str]) -> None:
    movies = [{"year": 2013, "title": t, "info": {}} for t in titles]
    api = FakeApi(movies=[*movies, {"year": 2013, "title": "Rush", "info": {}}] if "Rush" not in titles else movies)

    def listing(target: str, reply: Reply) -> Reply:
        return Reply(200, {}, {"items": movies}) if target.startswith("/movies?year=") else reply

    api.tamper = listing
    assert only_failure(api) == {"its year lists it once, in key order"}


def test_a_year_that_lists_another_years_movie_fails() -> None:
    def mixed(target: str, reply: Reply) -> Reply:
        if target.startswith("/movies?year=2013"):
            return Reply(200, {}, {"items": [*reply.body["items"], MOVIES[3]]})
        return reply

    assert only_failure(FakeApi(tamper=mixed)) == {"its year lists it once, in key order"}


def test_an_unknown_movie_that_is_not_404_fails() -> None:
    def everything_exists(target: str, reply: Reply) -> Reply:
        return Reply(200, {}, MOVIES[1]) if "mvdb-read-check" in target else reply

    assert only_failure(FakeApi(tamper=everything_exists)) == {"an unknown movie is 404 movie-not-found"}


def test_a_check_that_breaks_fails_with_the_reason() -> None:
    def garbage(target: str, reply: Reply) -> Reply:
        return Reply(200, {}, "not json") if target == RUSH.path else reply

    (broken,) = [r for r in run_read_checks(FakeApi(tamper=garbage), RUSH) if not r.passed]
    assert broken.name == "movie reads back with its ETag"
    assert "AttributeError" in broken.detail
