"""A search over movies, and the opaque cursor that resumes it.

A cursor carries where the search resumes (the key of the last movie a year listing read, or a
position in the search index: see ``IndexPosition``) and a fingerprint of the search's filters,
so it cannot be replayed against another search, and a digest over both, so a cursor altered by
hand or in transit is refused. It is not encrypted (a client learns nothing from it
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

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "IndexPosition",
    "MovieKey",
    "MovieQuery",
    "SearchPosition",
    "decode_cursor",
    "encode_cursor",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = MAX_PAGE_SIZE
_CURSOR_VERSION = 2
# DynamoDB's limit on a sort key value, in UTF-8 bytes ("Constraints in Amazon DynamoDB").
_MAX_SORT_KEY_BYTES = 1024
_MAX_INDEX_PARTITIONS = 100
_KEY_CURSOR_FIELDS = {"v", "y", "t", "q", "d"}
_INDEX_CURSOR_FIELDS = {"v", "i", "s", "q", "d"}


@dataclass(frozen=True)
class MovieKey:
    year: int
    title: str


@dataclass(frozen=True)
class IndexPosition:
    """Where a search answered from the search index resumes.

    ``partition`` numbers the index partitions the search reads, in the order it reads them (0
    when it reads one); ``sort_key`` is the last index sort key read there, or None to start
    that partition from its beginning. Only the repository that issued it can interpret it.
    """

    partition: int
    sort_key: str | None


# A year listing (or a listing of everything) resumes after a movie's key; a search answered
# from the search index, at an index position.
SearchPosition = MovieKey | IndexPosition


@dataclass(frozen=True)
class MovieQuery:
    year: int | None = None
    title_prefix: str | None = None
    genre: str | None = None
    actor: str | None = None
    director: str | None = None
    min_rating: float | None = None
    limit: int = DEFAULT_LIMIT

    def fingerprint(self) -> str:
        """Identifies the set of movies this query selects (the page size may change between pages)."""
        filters = [self.year, self.title_prefix, self.genre, self.actor, self.director, self.min_rating]
        return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _is_utf8(text: str) -> bool:
    # JSON text may hold a lone surrogate (\ud800): no stored title can, and DynamoDB refuses it.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _digest(year: object, title: object, fingerprint: object) -> str:
    canonical = json.dumps([_CURSOR_VERSION, year, title, fingerprint])  # ASCII: safe for any decoded text
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _index_digest(partition: object, sort_key: object, fingerprint: object) -> str:
    # Tagged and one element longer than a key cursor's: neither digest can stand for the other.
    canonical = json.dumps([_CURSOR_VERSION, "index", partition, sort_key, fingerprint])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(position: SearchPosition, query: MovieQuery) -> str:
    fingerprint = query.fingerprint()
    payload: dict[str, Any]
    if isinstance(position, IndexPosition):
        payload = {
            "v": _CURSOR_VERSION,
            "i": position.partition,
            "s": position.sort_key,
            "q": fingerprint,
            "d": _index_digest(position.partition, position.sort_key, fingerprint),
        }
    else:
        payload = {
            "v": _CURSOR_VERSION,
            "y": position.year,
            "t": position.title,
            "q": fingerprint,
            "d": _digest(position.year, position.title, fingerprint),
        }
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: MovieQuery) -> SearchPosition:
    """Where to resume; raises :class:`InvalidCursor` for anything we did not issue."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor("not decodable") from None
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise InvalidCursor("unknown format")
    if "i" in payload:
        return _index_position(payload, query)
    if payload.keys() != _KEY_CURSOR_FIELDS:
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


def _index_position(payload: dict[str, Any], query: MovieQuery) -> IndexPosition:
    if payload.keys() != _INDEX_CURSOR_FIELDS:
        raise InvalidCursor("unknown format")
    partition, sort_key, fingerprint = payload.get("i"), payload.get("s"), payload.get("q")
    if payload.get("d") != _index_digest(partition, sort_key, fingerprint):
        raise InvalidCursor("altered")
    if type(partition) is not int or not 0 <= partition < _MAX_INDEX_PARTITIONS:
        raise InvalidCursor("bad position")
    if sort_key is not None and (
        not isinstance(sort_key, str)
        or not sort_key
        or not _is_utf8(sort_key)
        or len(sort_key.encode()) > _MAX_SORT_KEY_BYTES
    ):
        raise InvalidCursor("bad position")
    if fingerprint != query.fingerprint():
        raise InvalidCursor("issued for a different search")
    # Whether the position lies inside this search's partitions and key range is the
    # repository's to check: it alone knows the index's layout.
    return IndexPosition(partition=partition, sort_key=sort_key)
