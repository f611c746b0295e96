"""A search over movies, and the opaque cursor that resumes it.

A cursor carries the key of the last movie a page returned and a fingerprint of the search's
filters, so it cannot be replayed against another search, and a digest over both, so a cursor
altered by hand or in transit is refused. It is not encrypted (a client learns nothing from it
it did not already see) and the digest is not a secret MAC: a client that recomputes it can only
choose where a search of its own resumes. Everything is checked strictly: a cursor that is not
well-formed for this search is refused with 400, never passed on to DynamoDB unchecked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mvdb.domain.errors import InvalidCursor
from mvdb.domain.models import MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, MAX_YEAR, MIN_YEAR, title_problem

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MovieKey", "MovieQuery", "decode_cursor", "encode_cursor"]

DEFAULT_LIMIT = 20
MAX_LIMIT = MAX_PAGE_SIZE
_CURSOR_VERSION = 2


@dataclass(frozen=True)
class MovieKey:
    year: int
    title: str


@dataclass(frozen=True)
class MovieQuery:
    year: int | None = None
    title_prefix: str | None = None
    genre: str | None = None
    actor: str | None = None
    director: str | None = None
    min_rating: float | None = None
    limit: int = DEFAULT_LIMIT

    @property
    def has_filter(self) -> bool:
        """True when DynamoDB must read items that the page will not return."""
        return any(v is not None for v in (self.genre, self.actor, self.director, self.min_rating))

    def fingerprint(self) -> str:
        """Identifies the set of movies this query selects (the page size may change between pages)."""
        filters = [self.year, self.title_prefix, self.genre, self.actor, self.director, self.min_rating]
        return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _digest(year: object, title: object, fingerprint: object) -> str:
    canonical = json.dumps([_CURSOR_VERSION, year, title, fingerprint])  # ASCII: safe for any decoded text
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(key: MovieKey, query: MovieQuery) -> str:
    fingerprint = query.fingerprint()
    payload = {
        "v": _CURSOR_VERSION,
        "y": key.year,
        "t": key.title,
        "q": fingerprint,
        "d": _digest(key.year, key.title, fingerprint),
    }
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: MovieQuery) -> MovieKey:
    """The key to resume after; raises :class:`InvalidCursor` for anything we did not issue."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor("not decodable") from None
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise InvalidCursor("unknown format")
    year, title, fingerprint = payload.get("y"), payload.get("t"), payload.get("q")
    if payload.get("d") != _digest(year, title, fingerprint):
        raise InvalidCursor("altered")
    if type(year) is not int or not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidCursor("bad position")
    # The title goes to DynamoDB as ExclusiveStartKey: the rules of a stored title (UTF-8 bytes included).
    if not isinstance(title, str) or title_problem(title) is not None:
        raise InvalidCursor("bad position")
    if fingerprint != query.fingerprint():
        raise InvalidCursor("issued for a different search")
    # A Query reads one partition: the position must lie inside it and inside the prefix range,
    # or DynamoDB would reject the request.
    if query.year is not None and year != query.year:
        raise InvalidCursor("bad position")
    if query.title_prefix is not None and not title.startswith(query.title_prefix):
        raise InvalidCursor("bad position")
    return MovieKey(year=year, title=title)
