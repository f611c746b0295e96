"""Who changed a movie, when, and how: the attribution every write carries, and a movie's history.

Every create, replace, patch and delete made through the service is a ``Change``: the client
that made it (the access token's ``client_id``), the API request it came in (API Gateway's
request id), the operation and the time (RFC 3339, UTC, milliseconds). The service sets the
movie's ``modified_by``/``modified_at`` from it (clients cannot: a value they send is ignored),
and the repository stores the whole ``Change`` with the item, so the table's stream carries it
to the audit trail (``mvdb.streams.audit_trail``), which keeps one record per change in storage
that cannot be altered. ``MovieHistory`` reads those records back, newest first, a page at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from mvdb.domain.errors import InvalidCursor, MovieTooLarge
from mvdb.domain.models import MAX_CURSOR_LENGTH
from mvdb.domain.paging import PAGE_BUDGET_BYTES, ItemTooLarge, take_within_budget
from mvdb.domain.query import MovieKey

__all__ = [
    "AUDIT_RECORD_NAME",
    "UNAUTHENTICATED_CLIENT",
    "AuditEntry",
    "AuditLog",
    "Change",
    "HistoryPage",
    "MovieHistory",
    "Operation",
    "Writer",
    "decode_history_cursor",
    "encode_history_cursor",
    "rfc3339_now",
]

Operation = Literal["create", "replace", "patch", "delete"]

# The client a write is attributed to when no authorizer vouched for the caller: only a local run
# with auth switched off (``--no-auth``); in AWS every write route has an authorizer.
UNAUTHENTICATED_CLIENT = "unauthenticated"

# The name of one audit record within a movie's history: the stream record's sequence number,
# inverted so that names sort newest first (S3 lists keys in ascending UTF-8 order), then the
# stream record's eventID. Both are the stream's own, so a redelivered record has the same name.
AUDIT_RECORD_NAME = re.compile(r"^[0-9]{40}-[A-Za-z0-9_-]{1,128}\.json$")

_HISTORY_CURSOR_VERSION = 1
_HISTORY_CURSOR_FIELDS = {"v", "h", "m", "d"}


def rfc3339_now() -> str:
    """Now, as RFC 3339 in UTC with milliseconds: ``2026-11-30T09:41:07.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Writer:
    """Who asks for a write: the access token's ``client_id`` and API Gateway's request id."""

    client_id: str
    request_id: str


@dataclass(frozen=True)
class Change:
    """One write as the audit trail records it. ``at`` is RFC 3339 UTC (``rfc3339_now``)."""

    operation: Operation
    client_id: str
    request_id: str
    at: str

    def as_dict(self) -> dict[str, str]:
        return {"operation": self.operation, "client_id": self.client_id, "request_id": self.request_id, "at": self.at}


@dataclass(frozen=True)
class AuditEntry:
    """One audit record and its name within its movie's history (``AUDIT_RECORD_NAME``): a history
    read with ``start_after`` that name goes on with the next older record."""

    name: str
    record: dict[str, Any]


class AuditLog(Protocol):
    """The audit records of the movies, as stored (``mvdb.repository.audit_store``)."""

    def history(self, key: MovieKey, *, start_after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        """Up to ``limit`` records of ``key``'s history, newest first, after the record named ``start_after``;
        and the name of the last record returned when more may follow (None at the end).

        Raises StorageUnavailable when the store cannot answer.
        """
        ...


@dataclass(frozen=True)
class HistoryPage:
    """Records of one page, as the members of a JSON array (``mvdb.domain.paging.take_within_budget``) too,
    and the next page's cursor."""

    records: list[dict[str, Any]]
    records_json: str
    next_cursor: str | None


class MovieHistory:
    """A movie's audit records, newest first, paginated with opaque cursors bound to that movie.

    ``audit_log`` is called on first use (so a process that never serves a history builds no
    storage client). A page's records, as JSON, stay within ``page_budget_bytes`` as Lambda
    counts a response (``mvdb.domain.paging``).
    """

    def __init__(self, audit_log: Callable[[], AuditLog], *, page_budget_bytes: int = PAGE_BUDGET_BYTES) -> None:
        self._audit_log_factory = audit_log
        self._audit_log: AuditLog | None = None
        self._page_budget_bytes = page_budget_bytes

    def page(self, key: MovieKey, *, limit: int, cursor: str | None) -> HistoryPage:
        """Up to ``limit`` changes of ``key``, after the page ``cursor`` ends.

        A page is short, with a cursor that resumes right after its last record, when the next
        record would take it over the byte budget (it always holds one record when any is left).
        A movie that never had a change has an empty history (not 404: a deleted movie still has
        one). Raises InvalidCursor for a cursor this service did not issue for this movie,
        MovieTooLarge when the next record alone is more than any response can carry.
        """
        start_after = decode_history_cursor(cursor, key) if cursor else None
        if self._audit_log is None:
            self._audit_log = self._audit_log_factory()
        entries, last = self._audit_log.history(key, start_after=start_after, limit=limit)
        try:
            taken, records_json = take_within_budget(entries, _record_of, self._page_budget_bytes)
        except ItemTooLarge as too_large:
            raise MovieTooLarge(key.year, key.title, too_large.size, "A change of the movie") from None
        if taken < len(entries):
            last = entries[taken - 1].name
        records = [entry.record for entry in entries[:taken]]
        return HistoryPage(records, records_json, encode_history_cursor(last, key) if last else None)


def _record_of(entry: AuditEntry) -> dict[str, Any]:
    return entry.record


def _movie_fingerprint(key: MovieKey) -> str:
    return hashlib.sha256(json.dumps([key.year, key.title], ensure_ascii=False).encode()).hexdigest()[:16]


def _history_digest(name: object, fingerprint: object) -> str:
    canonical = json.dumps([_HISTORY_CURSOR_VERSION, "history", name, fingerprint])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_history_cursor(record_name: str, key: MovieKey) -> str:
    """The cursor of the history page that starts after ``record_name``, for ``key``'s history only."""
    fingerprint = _movie_fingerprint(key)
    payload = {"v": _HISTORY_CURSOR_VERSION, "h": record_name, "m": fingerprint}
    payload["d"] = _history_digest(record_name, fingerprint)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_history_cursor(cursor: str, key: MovieKey) -> str:
    """The record name a history page resumes after; raises InvalidCursor for anything not issued for ``key``."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("too long")
    try:
        payload: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("not decodable") from None
    if not isinstance(payload, dict) or payload.keys() != _HISTORY_CURSOR_FIELDS:
        raise InvalidCursor("unknown format")
    if payload["v"] != _HISTORY_CURSOR_VERSION:
        raise InvalidCursor("unknown format")
    name, fingerprint = payload["h"], payload["m"]
    if payload["d"] != _history_digest(name, fingerprint):
        raise InvalidCursor("altered")
    if fingerprint != _movie_fingerprint(key):
        raise InvalidCursor("issued for a different movie")
    if not isinstance(name, str) or not AUDIT_RECORD_NAME.match(name):
        raise InvalidCursor("bad position")
    return name
