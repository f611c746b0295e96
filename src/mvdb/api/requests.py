"""Checks on a request's envelope (media type, size, preconditions) and on its path values."""

from __future__ import annotations

import base64
import json
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

from mvdb.api.problems import ProblemError
from mvdb.domain.errors import FieldError, InvalidInput
from mvdb.domain.models import MAX_TITLE_LENGTH
from mvdb.domain.query import MovieKey

__all__ = [
    "JSON_MEDIA_TYPES",
    "check_envelope",
    "movie_key",
    "movie_location",
    "normalize_movie_path",
    "parse_if_match",
]

JSON_MEDIA_TYPES = {"application/json", "application/merge-patch+json"}
_MOVIE_PATH = re.compile(r"^(/movies/[^/]+/)(.+)$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=False)
    return str(body).encode()


def check_envelope(event: dict[str, Any], max_body_bytes: int) -> None:
    """Refuse a body we will not read: too large (413), not JSON (415), not UTF-8 (400). Raises ProblemError."""
    if (event.get("httpMethod") or "").upper() not in _BODY_METHODS:
        return
    body = raw_body(event)
    if len(body) > max_body_bytes:
        raise ProblemError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "payload-too-large",
            f"The body is {len(body)} bytes; at most {max_body_bytes} are accepted.",
        )
    if not body:
        return  # nothing to read: the route itself says that a body is required
    media_type = (_header(event, "content-type") or "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        shown = media_type or "none"
        raise ProblemError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            f"Send the body as application/json (merge patches may use application/merge-patch+json); got {shown}.",
            headers={
                "Accept-Post": "application/json",
                "Accept-Patch": "application/merge-patch+json, application/json",
            },
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST, "malformed-json", "The body is not valid JSON: it is not UTF-8 text (RFC 8259)."
        ) from None
    try:
        # Parsed once here, where every failure is the client's: nesting deeper than the parser's
        # recursion limit and integers past Python's digit limit raise errors that are not
        # JSONDecodeError, and would otherwise surface from the resolver as a 500.
        json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(":")[0]
        raise ProblemError(HTTPStatus.BAD_REQUEST, "malformed-json", f"The body is not valid JSON: {reason}.") from None


def parse_if_match(value: str | None) -> str | None:
    """The one entity tag (or ``*``) of an If-Match header; weak tags never match (RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    if value == "*":
        return "*"
    if "," in value:
        raise ProblemError(HTTPStatus.BAD_REQUEST, "invalid-if-match", "Send one ETag in If-Match, not a list.")
    if value.startswith("W/"):
        raise ProblemError(
            HTTPStatus.PRECONDITION_FAILED,
            "precondition-failed",
            "A weak ETag never matches for a write; send the ETag exactly as GET returned it.",
        )
    tag = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if not tag or '"' in tag:
        raise ProblemError(HTTPStatus.BAD_REQUEST, "invalid-if-match", 'If-Match must be an ETag such as "3f2a...".')
    return tag


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
    """The movie a URL names. Path values arrive percent-encoded: decode them exactly once."""
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
    return f"/movies/{key.year}/{quote(key.title, safe='')}"
