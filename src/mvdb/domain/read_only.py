"""The read-only switch, enforced at the domain's port to storage.

While a table is restored and the service is cut over to it (docs/operations.md, "Restoring the
movies table"), writes must stop: a write to the old table after its last backup would be lost,
and one to the new table before the cut-over is verified could be rolled back. ``ReadOnlyRepository``
wraps any ``MovieRepository``: reads pass through, and every method that changes the store raises
``WritesSuspended`` before the store is touched. Because it sits on the port, no write path of
the service (today's or a later one) can get past it.
"""

from __future__ import annotations

from typing import Any, Final

from mvdb.domain.changes import Change
from mvdb.domain.errors import WritesSuspended
from mvdb.domain.ports import MovieRepository, SearchHit, StoredMovie
from mvdb.domain.query import MovieKey, MovieQuery, SearchPosition

__all__ = ["READ_METHODS", "WRITE_METHODS", "ReadOnlyRepository"]

# Every method of the MovieRepository port, by whether it changes the store. A method added to the
# port must be added to one of these (tests/unit/domain/test_read_only.py fails until it is).
READ_METHODS: Final = frozenset({"get", "search", "ping"})
WRITE_METHODS: Final = frozenset({"create", "replace", "delete"})


class ReadOnlyRepository:
    """A ``MovieRepository`` that serves reads from ``inner`` and refuses every write.

    Writes raise ``WritesSuspended`` (503 with ``Retry-After: retry_after_s`` over HTTP) without
    calling ``inner``.
    """

    def __init__(self, inner: MovieRepository, *, retry_after_s: int) -> None:
        self._inner = inner
        self._retry_after_s = retry_after_s

    def get(self, key: MovieKey) -> StoredMovie | None:
        return self._inner.get(key)

    def search(
        self, query: MovieQuery, start_after: SearchPosition | None
    ) -> tuple[list[SearchHit], SearchPosition | None]:
        return self._inner.search(query, start_after)

    def ping(self) -> None:
        self._inner.ping()

    def create(self, document: dict[str, Any], etag: str, *, change: Change | None = None) -> None:
        raise WritesSuspended(retry_after_s=self._retry_after_s)

    def replace(self, document: dict[str, Any], etag: str, *, if_match: str, change: Change | None = None) -> None:
        raise WritesSuspended(retry_after_s=self._retry_after_s)

    def delete(self, key: MovieKey, *, if_match: str, change: Change | None = None) -> None:
        raise WritesSuspended(retry_after_s=self._retry_after_s)
