"""Admission: whether the service will read a request's body at all, decided before routing.

Size (413), media type (415), UTF-8 and JSON well-formedness (400) are checked on the raw API
Gateway event, ahead of the resolver, so that a refusal never depends on how the resolver would
have parsed the body.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

from mvdb.api.problems import ProblemError

__all__ = ["JSON_MEDIA_TYPES", "check_envelope", "raw_body"]

JSON_MEDIA_TYPES = {"application/json", "application/merge-patch+json"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body as bytes (API Gateway base64-encodes bodies it treats as binary)."""
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
