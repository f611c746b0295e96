"""The domain's port to storage: what ``MovieService`` needs, in domain terms.

Adapters in ``mvdb.repository`` implement it (``DynamoDBMovieRepository``); no botocore type
crosses this line, so the domain depends on nothing outside itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mvdb.domain.changes import Change
from mvdb.domain.query import MovieKey, MovieQuery, SearchPosition

__all__ = ["MovieRepository", "ReconcileOutcome", "SearchHit", "SearchIndex", "StoredMovie"]

# What reconciling one movie's index entries did: nothing was out of step, entries written, entries removed.
ReconcileOutcome = Literal["unchanged", "indexed", "removed"]


@dataclass(frozen=True)
class StoredMovie:
    """A movie as stored: its JSON document (``{year, title, info}``) and the ETag of that document."""

    document: dict[str, Any]
    etag: str


@dataclass(frozen=True)
class SearchHit:
    """A movie a search found, and ``position``: where the same search resumes to go on right after it.

    Resuming at a hit's position returns the matches after that movie, none before it and not
    it again: a page cut short after any hit (e.g. by its byte budget) loses and repeats nothing.
    """

    movie: StoredMovie
    position: SearchPosition


class MovieRepository(Protocol):
    """Movies keyed by (year, title). Every method raises StorageUnavailable when the store cannot answer."""

    def get(self, key: MovieKey) -> StoredMovie | None:
        """The movie, or None when there is none under ``key``."""
        ...

    def search(
        self, query: MovieQuery, start_after: SearchPosition | None
    ) -> tuple[list[SearchHit], SearchPosition | None]:
        """Up to ``query.limit`` movies after ``start_after``, each with its position (``SearchHit``),
        and the position to resume at after all of them (None at the end).

        Raises InvalidCursor when ``start_after`` is not a position this search can resume at.
        """
        ...

    # ``change`` (None only for writes made around the service, e.g. by tests of the store) is
    # stored with the item, so that the stream record of the write carries it to the audit trail.

    def create(self, document: dict[str, Any], etag: str, *, change: Change | None = None) -> None:
        """Raises MovieAlreadyExists; never overwrites."""
        ...

    def replace(self, document: dict[str, Any], etag: str, *, if_match: str, change: Change | None = None) -> None:
        """Raises MovieNotFound, or PreconditionFailed unless ``if_match`` is the current ETag or ``*``."""
        ...

    def delete(self, key: MovieKey, *, if_match: str, change: Change | None = None) -> None:
        """Raises MovieNotFound, or PreconditionFailed unless ``if_match`` is the current ETag or ``*``.

        The stream's record of a removal carries the item as it was: the deleter's ``change`` must
        be in that image (the DynamoDB repository writes it onto the item first).
        """
        ...

    def ping(self) -> None:
        """Raises StorageUnavailable unless the table answers."""
        ...


class SearchIndex(Protocol):
    """What keeps the search index in step with the movies: told only *which* movie changed.

    ``reconcile`` makes the index entries of the movie under ``key`` match what the store holds
    for it now (none once it is gone), whatever it was told before, in any order, any number of
    times. Raises StorageUnavailable when the store cannot answer; calling it again is safe.
    """

    def reconcile(self, key: MovieKey) -> ReconcileOutcome:
        """Bring ``key``'s index entries in step with the stored movie; returns what that took."""
        ...
