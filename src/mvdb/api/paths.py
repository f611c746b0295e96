"""Movie URLs: the movie a path names, and the path of a movie.

Titles travel percent-encoded in one path segment (``/movies/2013/V%2FH%2FS``); they are
decoded exactly once, here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from mvdb.domain.errors import FieldError, InvalidInput
from mvdb.domain.models import MAX_TITLE_LENGTH
from mvdb.domain.query import MovieKey

__all__ = ["movie_key", "movie_location", "normalize_movie_path"]

_MOVIE_PATH = re.compile(r"^(/movies/[^/]+/)(.+)$")


def normalize_movie_path(event: dict[str, Any]) -> dict[str, Any]:
    """Keep a title containing '/' inside one path segment.

    API Gateway forwards the path still percent-encoded, but may have routed a decoded
    ``/`` (the template's ``{title+}`` accepts it). Re-encoding it lets the router match
    ``/movies/<year>/<title>`` and the route decode the title once.
    """
    match = _MOVIE_PATH.match(event.get("path") or "")
    if not match or "/" not in match.group(2):
        return event
    return {**event, "path": match.group(1) + match.group(2).replace("/", "%2F")}


def movie_key(year: int, raw_title: str) -> MovieKey:
    """The movie a URL names. Path values arrive percent-encoded: decode them exactly once.

    Raises InvalidInput (400) when the title does not decode to UTF-8, is blank, or is longer
    than ``MAX_TITLE_LENGTH`` characters.
    """
    try:
        title = unquote(raw_title, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The URL does not name a valid movie.",
            [FieldError(["path", "title"], "percent-encoding must decode to UTF-8", "encoding")],
        ) from None
    if not title.strip():
        raise InvalidInput(
            "The URL does not name a valid movie.", [FieldError(["path", "title"], "must not be blank", "blank")]
        )
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidInput(
            "The URL does not name a valid movie.",
            [FieldError(["path", "title"], f"must be at most {MAX_TITLE_LENGTH} characters", "too_long")],
        )
    return MovieKey(year=year, title=title)


def movie_location(key: MovieKey) -> str:
    """The URL path of a movie, its title percent-encoded into one segment (RFC 3986)."""
    return f"/movies/{key.year}/{quote(key.title, safe='')}"
