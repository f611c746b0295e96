"""The search index's layout: which index items a movie has, and which of them a search reads.

The index is a second DynamoDB table, partition key ``pk`` (S) and sort key ``sk`` (S). For a
movie of year ``Y`` (four digits), title ``T`` and rating ``R`` it holds:

=====================  ===================  ===========================================
``pk``                 ``sk``               answers
=====================  ===================  ===========================================
``genre#<genre>``      ``Y#T``              genre; with year (and title_prefix)
``actor#<name>``       ``Y#T``              actor; with year (and title_prefix)
``director#<name>``    ``Y#T``              director; with year (and title_prefix)
``rating#<floor(R)>``  ``R#Y#T``            min_rating: buckets 10 down to floor(min)
``year-rating#Y``      ``R#T``              year and min_rating
``manifest#Y``         ``T``                the reconciler's record of the items above
=====================  ===================  ===========================================

Every entry (all but the manifest) carries the movie's ``year``, ``title``, ``info`` and
``etag``, so a page of results is one Query and nothing else. ``sk`` sorts by year then title
(titles in DynamoDB's UTF-8 byte order), ratings by value: ``R`` is written with two integer
digits and no trailing zeros (``07.2``, ``10``), and ``#`` sorts below ``.`` and every digit,
so comparing these strings compares the ratings (``08#`` < ``08.5#`` < ``08.55#``).

Keys are bounded as DynamoDB bounds them, in UTF-8 bytes: 2,048 for a partition key, 1,024 for
a sort key ("Constraints in Amazon DynamoDB", developer guide). A name or title that would not
fit is cut at a character boundary and suffixed with a digest of the whole (``fit``): still one
item per movie, still found by its exact name, and a ``title_prefix`` longer than the part kept
is checked by a filter on the entry's ``title`` instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mvdb.domain.query import MovieQuery

__all__ = [
    "INDEX_LAYOUT_VERSION",
    "IndexPlan",
    "IndexTerms",
    "fit",
    "manifest_key",
    "plan_search",
    "rating_key",
    "terms_of",
]

# Bumped whenever terms_of() or IndexTerms.keys() change: a movie indexed under another layout is rebuilt.
INDEX_LAYOUT_VERSION = 1

MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
_DIGEST_CHARACTERS = 16
# What fit() keeps of a value too long for its key, at most: the digest and its "~" take the rest.
_FIT_MARGIN = _DIGEST_CHARACTERS + 1
# The list attributes of info that each have a family of partitions, in the order a search
# prefers them when it names several (a name usually matches fewer movies than a genre).
LIST_FAMILIES = (("actors", "actor"), ("directors", "director"), ("genres", "genre"))
RATING_BUCKETS = range(0, 11)  # floor(rating) for ratings 0..10, the model's range


def fit(text: str, budget: int) -> str:
    """``text`` if its UTF-8 encoding fits in ``budget`` bytes; else a prefix of it, ``~`` and a digest of it.

    Deterministic, so the search for a name computes the same key as the entry written for it;
    two different values never share a result (the digest is of the whole value).
    """
    encoded = text.encode()
    if len(encoded) <= budget:
        return text
    kept = encoded[: budget - _FIT_MARGIN].decode(errors="ignore")  # never half a character
    return f"{kept}~{hashlib.sha256(encoded).hexdigest()[:_DIGEST_CHARACTERS]}"


def rating_key(value: Decimal) -> str:
    """A rating from 0 to 10 as a string that sorts as the number does: ``7.2`` -> ``07.2``, ``10`` -> ``10``."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return whole.zfill(2) + (f".{fraction}" if fraction else "")


def _rating_of(info: dict[str, Any]) -> Decimal | None:
    """The movie's rating as DynamoDB stores it (exact), when it is a number from 0 to 10."""
    raw = info.get("rating", {}).get("N")
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if 0 <= value <= 10 else None


def _year_key(year: int) -> str:
    return f"{year:04d}#"


def _partition(family: str, value: str) -> str:
    prefix = f"{family}#"
    return prefix + fit(value, MAX_PARTITION_KEY_BYTES - len(prefix.encode()))


def _sort_key(prefix: str, title: str) -> str:
    return prefix + fit(title, MAX_SORT_KEY_BYTES - len(prefix.encode()))


def manifest_key(year: int, title: str) -> dict[str, dict[str, str]]:
    """The key of the manifest item of the movie (year, title): its sort key is the title itself."""
    return {"pk": {"S": f"manifest#{year:04d}"}, "sk": {"S": title}}


@dataclass(frozen=True)
class IndexTerms:
    """What a movie is indexed under: the partitions of its name and genre entries, and its rating keys.

    Together with the movie's key these determine every entry (``keys``). A manifest records
    terms rather than entry keys because they are what varies between versions of a movie and
    they stay small: at most the size of the movie's own lists, whatever its title's length.
    """

    partitions: frozenset[str] = frozenset()
    ratings: frozenset[str] = frozenset()

    def keys(self, year: int, title: str) -> set[tuple[str, str]]:
        """The (pk, sk) of each entry of the movie (year, title) under these terms."""
        by_year = _sort_key(_year_key(year), title)
        keys = {(partition, by_year) for partition in self.partitions}
        for rated in self.ratings:
            bucket = int(rated.partition(".")[0])
            keys.add((f"rating#{bucket}", _sort_key(f"{rated}#{_year_key(year)}", title)))
            keys.add((f"year-rating#{year:04d}", _sort_key(f"{rated}#", title)))
        return keys

    def __or__(self, other: IndexTerms) -> IndexTerms:
        return IndexTerms(self.partitions | other.partitions, self.ratings | other.ratings)


def terms_of(item: dict[str, Any]) -> IndexTerms:
    """The terms the movie stored as ``item`` (a DynamoDB attribute map) is indexed under."""
    info = item.get("info", {}).get("M", {})
    partitions = {
        _partition(family, name)
        for attribute, family in LIST_FAMILIES
        for element in info.get(attribute, {}).get("L", [])
        if (name := element.get("S"))
    }
    rating = _rating_of(info)
    return IndexTerms(frozenset(partitions), frozenset({rating_key(rating)} if rating is not None else ()))


@dataclass(frozen=True)
class IndexPlan:
    """How a search reads the index: the partitions in order, one key condition for each, and filters.

    ``sort_key_prefix`` (begins_with) or ``sort_key_from`` (>=) narrows every partition read;
    ``forward`` is the direction (ratings are read best first). The remaining fields are the
    parts of the query no key serves, applied as a filter on the entries read:
    ``list_filters`` (attribute, value) pairs, ``min_rating``, and ``title_prefix``.
    """

    partitions: tuple[str, ...]
    sort_key_prefix: str | None = None
    sort_key_from: str | None = None
    forward: bool = True
    list_filters: tuple[tuple[str, str], ...] = ()
    min_rating: float | None = None
    title_prefix: str | None = None

    @property
    def filtered(self) -> bool:
        """True when some entries read may not match, so a page may hold fewer than ``limit``."""
        return bool(self.list_filters) or self.min_rating is not None or self.title_prefix is not None

    def admits(self, sort_key: str) -> bool:
        """Whether ``sort_key`` lies inside the key range this plan reads (a cursor's, say)."""
        if self.sort_key_prefix is not None and not sort_key.startswith(self.sort_key_prefix):
            return False
        return self.sort_key_from is None or sort_key >= self.sort_key_from


def _title_range(prefix: str, title_prefix: str | None) -> tuple[str, str | None]:
    """The sort key prefix for ``prefix`` + ``title_prefix``, and the title prefix left to a filter.

    A title too long for its sort key keeps only its first bytes (``fit``); a title prefix longer
    than what every title keeps is matched on those bytes by the key and in full by the filter.
    """
    if not title_prefix:
        return prefix, None
    always_kept = MAX_SORT_KEY_BYTES - len(prefix.encode()) - _FIT_MARGIN - 3  # fit() may drop 3 more bytes
    encoded = title_prefix.encode()
    if len(encoded) <= always_kept:
        return prefix + title_prefix, None
    return prefix + encoded[:always_kept].decode(errors="ignore"), title_prefix


def plan_search(query: MovieQuery) -> IndexPlan | None:
    """How the index answers ``query``; None when the movies table answers it better (no filter at all)."""
    named = [(attribute, family, value) for attribute, family, value in _named_lists(query) if value is not None]
    if named:
        _, family, value = named[0]
        year_prefix = _year_key(query.year) if query.year is not None else ""
        sort_key_prefix, title_filter = _title_range(year_prefix, query.title_prefix)
        return IndexPlan(
            partitions=(_partition(family, value),),
            sort_key_prefix=sort_key_prefix or None,
            list_filters=tuple((a, v) for a, _, v in named[1:]),
            min_rating=query.min_rating,
            title_prefix=title_filter,
        )
    if query.min_rating is None:
        return None
    minimum = Decimal(str(max(query.min_rating, 0.0)))
    sort_key_from = rating_key(minimum) if minimum > 0 else None
    if query.year is not None:
        return IndexPlan(
            partitions=(f"year-rating#{query.year:04d}",),
            sort_key_from=sort_key_from,
            forward=False,
            title_prefix=query.title_prefix,
        )
    lowest = min(int(minimum), RATING_BUCKETS[-1])
    return IndexPlan(
        partitions=tuple(f"rating#{bucket}" for bucket in reversed(RATING_BUCKETS) if bucket >= lowest),
        sort_key_from=sort_key_from,
        forward=False,
    )


def _named_lists(query: MovieQuery) -> list[tuple[str, str, str | None]]:
    values = {"actors": query.actor, "directors": query.director, "genres": query.genre}
    return [(attribute, family, values[attribute]) for attribute, family in LIST_FAMILIES]
