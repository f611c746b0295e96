"""What the service needs from storage, in domain terms (no botocore types cross this line)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mvdb.domain.query import MovieKey, MovieQuery

__all__ = ["MovieRepository", "StoredMovie"]


@dataclass(frozen=True)
class StoredMovie:
    document: dict[str, Any]
    etag: str


class MovieRepository(Protocol):
    def get(self, key: MovieKey) -> StoredMovie | None: ...

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
