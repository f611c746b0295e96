"""Movie URLs: the movie a path names, and the URL of a movie.

Titles travel percent-encoded in one path segment (``/movies/2013/V%2FH%2FS``); they are
decoded exactly once, here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from mvdb.domain.errors import FieldError, InvalidInput
from mvdb.domain.models import title_problem
from mvdb.domain.query import MovieKey

__all__ = ["base_path", "movie_key", "movie_location", "normalize_movie_path"]

_MOVIE_PATH = re.compile(r"^((?:/audit)?/movies/[^/]+/)(.+)$")  # a movie, or its history


def normalize_movie_path(event: dict[str, Any]) -> dict[str, Any]:
    """Keep a title containing '/' inside one path segment (of a movie's URL, or of its history's).

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

    Raises InvalidInput (400) when the title does not decode to UTF-8 or breaks the rule of every
    title (``mvdb.domain.models.title_problem``: not blank, at most 300 characters and 1,024 bytes).
    """
    try:
        title = unquote(raw_title, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The URL does not name a valid movie.",
            [FieldError(["path", "title"], "percent-encoding must decode to UTF-8", "encoding")],
        ) from None
    problem = title_problem(title)
    if problem is not None:
        code = "blank" if not title.strip() else "too_long"
        raise InvalidInput("The URL does not name a valid movie.", [FieldError(["path", "title"], problem, code)])
    return MovieKey(year=year, title=title)


def movie_location(base_path: str, key: MovieKey) -> str:
    """The URL path of a movie under the API's base path (e.g. ``/dev``), its title percent-encoded
    into one segment (RFC 3986)."""
    return f"{base_path}/movies/{key.year}/{quote(key.title, safe='')}"


def base_path(event: dict[str, Any]) -> str:
    """The path under which the client reached the API: ``/dev`` on a stage's execute-api URL, a
    custom domain's base path mapping (``/v1``), or ``""`` at a host's root.

    API Gateway's ``path`` is the request path within the API and ``requestContext.path`` the one
    the client called; the base path is what the second has in front of the first.
    """
    path = str(event.get("path") or "")
    called = str((event.get("requestContext") or {}).get("path") or path)
    if path and called.endswith(path):
        return called[: -len(path)].rstrip("/")
    return ""
