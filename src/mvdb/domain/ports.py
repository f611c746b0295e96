"""The domain's port to storage: what ``MovieService`` needs, in domain terms.

Adapters in ``mvdb.repository`` implement it (``DynamoDBMovieRepository``); no botocore type
crosses this line, so the domain depends on nothing outside itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mvdb.domain.query import MovieKey, MovieQuery

__all__ = ["MovieRepository", "StoredMovie"]


@dataclass(frozen=True)
class StoredMovie:
    """A movie as stored: its JSON document (``{year, title, info}``) and the ETag of that document."""

    document: dict[str, Any]
    etag: str


class MovieRepository(Protocol):
    """Movies keyed by (year, title). Every method raises StorageUnavailable when the store cannot answer."""

    def get(self, key: MovieKey) -> StoredMovie | None:
        """The movie, or None when there is none under ``key``."""
        ...

    def search(self, query: MovieQuery, start_after: MovieKey | None) -> tuple[list[StoredMovie], MovieKey | None]:
        """Up to ``query.limit`` movies after ``start_after``, and the key to resume after (None at the end)."""
        ...

    def create(self, document: dict[str, Any], etag: str) -> None:
        """Raises MovieAlreadyExists; never overwrites."""
        ...

    def replace(self, document: dict[str, Any], etag: str, *, if_match: str) -> None:
        """Raises MovieNotFound, or PreconditionFailed unless ``if_match`` is the current ETag or ``*``."""
        ...

    def delete(self, key: MovieKey, *, if_match: str) -> None:
        """Raises MovieNotFound, or PreconditionFailed unless ``if_match`` is the current ETag or ``*``."""
        ...

    def ping(self) -> None:
        """Raises StorageUnavailable unless the table answers."""
        ...
