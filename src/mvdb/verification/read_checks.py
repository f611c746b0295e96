"""The read-only checks of the API: what a client that only reads must be able to rely on.

One list (``READ_CHECKS``), run over any transport that can GET a path with a read-scoped
caller (``ReadApi``): the deployed tests (``tests/e2e/test_read_checks.py``) over HTTPS against a
stack, the restore validation function and the local drill in-process, against a restored
table. Each check takes a sample movie the table holds (``first_movie`` finds one) and returns a
``CheckResult``; none writes anything.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from mvdb.domain.models import compute_etag

__all__ = [
    "READ_CHECKS",
    "CheckResult",
    "MovieRef",
    "ReadApi",
    "ReadCheck",
    "Reply",
    "first_movie",
    "run_read_checks",
]

# Pages of one year the year check follows at most (100 movies each): a year holds far fewer.
_MAX_YEAR_PAGES = 50


@dataclass(frozen=True)
class Reply:
    """An HTTP response as a check sees it: status, headers (names lower-cased), parsed JSON body (None if none)."""

    status: int
    headers: Mapping[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ReadApi(Protocol):
    """GETs the API with a caller holding the read scope only."""

    def get(self, target: str) -> Reply:
        """``target`` is a path with its query string, e.g. ``/movies?year=2013&limit=5``."""
        ...


@dataclass(frozen=True)
class MovieRef:
    """The key of a movie the table holds."""

    year: int
    title: str

    @property
    def path(self) -> str:
        return f"/movies/{self.year}/{quote(self.title, safe='')}"


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ReadCheck:
    name: str
    run: Callable[[ReadApi, MovieRef], CheckResult]


def first_movie(api: ReadApi) -> MovieRef | None:
    """The first movie of an unfiltered search (a Scan's first page), or None when the table is empty."""
    reply = api.get("/movies?limit=1")
    if reply.status != 200:
        raise RuntimeError(f"GET /movies?limit=1 answered {reply.status}: {str(reply.body)[:200]}")
    for _ in range(_MAX_YEAR_PAGES):
        items = reply.body.get("items") or []
        if items:
            return MovieRef(int(items[0]["year"]), str(items[0]["title"]))
        cursor = reply.body.get("next_cursor")
        if not cursor:
            return None
        reply = api.get("/movies?" + urlencode({"limit": 1, "cursor": cursor}))
    return None


def _health(api: ReadApi, _: MovieRef) -> CheckResult:
    reply = api.get("/health")
    passed = reply.status == 200 and reply.body == {"status": "ok"}
    return CheckResult("health", passed, f"GET /health: {reply.status} {reply.body}")


def _movie_reads_back_with_its_etag(api: ReadApi, movie: MovieRef) -> CheckResult:
    name = "movie reads back with its ETag"
    reply = api.get(movie.path)
    if reply.status != 200:
        return CheckResult(name, False, f"GET {movie.path}: {reply.status}")
    body = reply.body
    if (body.get("year"), body.get("title")) != (movie.year, movie.title):
        found = f"{body.get('year')} {body.get('title')!r}"
        return CheckResult(name, False, f"GET {movie.path} answered another movie: {found}")
    # The ETag is stored with the item when it is written; a document changed behind the API's back
    # (or damaged in a copy) no longer hashes to it.
    expected = f'"{compute_etag(body)}"'
    if reply.header("ETag") != expected:
        return CheckResult(name, False, f"ETag {reply.header('ETag')} is not the document's {expected}")
    return CheckResult(name, True, f"GET {movie.path}: 200, ETag {expected}")


def _year_lists_the_movie_once_in_key_order(api: ReadApi, movie: MovieRef) -> CheckResult:
    name = "its year lists it once, in key order"
    titles: list[str] = []
    target = "/movies?" + urlencode({"year": movie.year, "limit": 100})
    for _ in range(_MAX_YEAR_PAGES):
        reply = api.get(target)
        if reply.status != 200:
            return CheckResult(name, False, f"GET {target}: {reply.status}")
        for item in reply.body.get("items", []):
            if item.get("year") != movie.year:
                return CheckResult(name, False, f"year {movie.year} listed a movie of {item.get('year')}")
            titles.append(str(item.get("title")))
        cursor = reply.body.get("next_cursor")
        if not cursor:
            break
        target = "/movies?" + urlencode({"year": movie.year, "limit": 100, "cursor": cursor})
    else:
        return CheckResult(name, False, f"year {movie.year} did not end within {_MAX_YEAR_PAGES} pages")
    # DynamoDB orders a partition by the sort key's UTF-8 bytes: strictly ascending means no repeats.
    encoded = [title.encode() for title in titles]
    if any(a >= b for a, b in itertools.pairwise(encoded)):
        return CheckResult(name, False, f"year {movie.year}: titles not in strictly ascending key order")
    if movie.title not in titles:
        return CheckResult(name, False, f"year {movie.year} ({len(titles)} movies) does not list {movie.title!r}")
    return CheckResult(name, True, f"year {movie.year}: {len(titles)} movies, each once, in key order")


def _unknown_movie_is_404(api: ReadApi, movie: MovieRef) -> CheckResult:
    name = "an unknown movie is 404 movie-not-found"
    unknown = MovieRef(movie.year, f"mvdb-read-check {uuid.uuid4().hex}")
    reply = api.get(unknown.path)
    code = reply.body.get("code") if isinstance(reply.body, dict) else None
    passed = reply.status == 404 and code == "movie-not-found"
    return CheckResult(name, passed, f"GET {unknown.path}: {reply.status} {code}")


READ_CHECKS: tuple[ReadCheck, ...] = (
    ReadCheck("health", _health),
    ReadCheck("movie reads back with its ETag", _movie_reads_back_with_its_etag),
    ReadCheck("its year lists it once, in key order", _year_lists_the_movie_once_in_key_order),
    ReadCheck("an unknown movie is 404 movie-not-found", _unknown_movie_is_404),
)


def run_read_checks(api: ReadApi, sample: MovieRef | None = None) -> list[CheckResult]:
    """Every read check against ``sample`` (default: the table's first movie).

    An empty table fails (there is nothing to read); a check that raises fails with the error.
    """
    movie = sample or first_movie(api)
    if movie is None:
        return [CheckResult("the table holds a movie to read", False, "GET /movies found none")]
    results = []
    for check in READ_CHECKS:
        try:
            results.append(check.run(api, movie))
        except Exception as error:  # a broken check is a failed check, with its reason
            results.append(CheckResult(check.name, False, f"{type(error).__name__}: {error}"))
    return results
