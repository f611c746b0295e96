"""An in-memory MovieRepository for unit tests of the service.

It is only trusted because the same contract suite runs against it and against the DynamoDB
repository (tests/integration/test_repository_contract.py): if the two ever disagree, that
suite fails for one of them.
"""

from __future__ import annotations

import copy
from typing import Any

from mvdb.domain.changes import Change
from mvdb.domain.errors import MovieAlreadyExists, MovieNotFound, PreconditionFailed, StorageUnavailable
from mvdb.domain.ports import SearchHit, StoredMovie
from mvdb.domain.query import MovieKey, MovieQuery

__all__ = ["InMemoryMovieRepository"]


class InMemoryMovieRepository:
    def __init__(self) -> None:
        self._movies: dict[tuple[int, str], StoredMovie] = {}
        self.available = True

    def get(self, key: MovieKey) -> StoredMovie | None:
        self._check_available()
        stored = self._movies.get((key.year, key.title))
        return copy.deepcopy(stored)

    def search(self, query: MovieQuery, start_after: MovieKey | None) -> tuple[list[SearchHit], MovieKey | None]:
        self._check_available()
        # Python compares str by code point, which is the order of DynamoDB's UTF-8 byte sort.
        ordered = sorted(self._movies.items())
        if start_after is not None:
            ordered = [(k, m) for k, m in ordered if k > (start_after.year, start_after.title)]
        matching = [m for _, m in ordered if _matches(m.document, query)]
        page = matching[: query.limit]
        more = len(matching) > query.limit
        resume = MovieKey(page[-1].document["year"], page[-1].document["title"]) if more else None
        hits = [SearchHit(m, MovieKey(m.document["year"], m.document["title"])) for m in page]
        return copy.deepcopy(hits), resume

    def create(self, document: dict[str, Any], etag: str, *, change: Change | None = None) -> None:
        self._check_available()
        key = (document["year"], document["title"])
        if key in self._movies:
            raise MovieAlreadyExists(*key)
        self._movies[key] = StoredMovie(copy.deepcopy(document), etag)

    def replace(self, document: dict[str, Any], etag: str, *, if_match: str, change: Change | None = None) -> None:
        self._check_available()
        key = (document["year"], document["title"])
        self._check_precondition(key, if_match)
        self._movies[key] = StoredMovie(copy.deepcopy(document), etag)

    def delete(self, key: MovieKey, *, if_match: str, change: Change | None = None) -> None:
        self._check_available()
        self._check_precondition((key.year, key.title), if_match)
        del self._movies[(key.year, key.title)]

    def ping(self) -> None:
        self._check_available()

    def _check_precondition(self, key: tuple[int, str], if_match: str) -> None:
        current = self._movies.get(key)
        if current is None:
            raise MovieNotFound(*key)
        if if_match != "*" and if_match != current.etag:
            raise PreconditionFailed(*key)

    def _check_available(self) -> None:
        if not self.available:
            raise StorageUnavailable()


def _matches(document: dict[str, Any], query: MovieQuery) -> bool:
    info = document.get("info", {})
    if query.year is not None and document["year"] != query.year:
        return False
    if query.title_prefix is not None and not document["title"].startswith(query.title_prefix):
        return False
    for field, wanted in (("genres", query.genre), ("actors", query.actor), ("directors", query.director)):
        if wanted is not None and wanted not in info.get(field, []):
            return False
    rating = info.get("rating")
    return query.min_rating is None or (rating is not None and rating >= query.min_rating)
