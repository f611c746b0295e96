"""Admission: whether the service takes a request at all, decided before the resolver reads it.

In this order, on the raw API Gateway event: is the method allowed on the resource (404, 405 with
``Allow``), may the caller call it (401, 403: the scope its operation declares), will we read its
body (413 too large, 400 missing, 415 a media type the operation does not read, 400 not UTF-8). A refusal never
depends on how the resolver would have parsed the request, and no validation detail reaches a
caller without a token.

The request the resolver then gets is normalised: ``Content-Type`` parsed once here and handed
on as ``application/json`` (the resolver only chooses its JSON parser by it; which JSON media type
the operation takes was decided here), and a title's decoded ``/`` kept in its path segment. Its
body is parsed once, by the resolver, with ``read_json``.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

from mvdb.api.auth import authorize
from mvdb.api.media_types import JSON, MediaType
from mvdb.api.operations import Operation, Operations, resource_path
from mvdb.api.paths import normalize_movie_path
from mvdb.api.problems import ProblemError

__all__ = ["Admission", "raw_body", "read_json"]

# The header that names what a refused body could have been (RFC 5789 for PATCH; W3C LDP for POST).
_ACCEPT_HEADERS = {"PATCH": "Accept-Patch", "POST": "Accept-Post"}


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body as bytes (API Gateway base64-encodes bodies it treats as binary)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=False)
    return str(body).encode()


# DynamoDB stores nested attributes up to 32 levels deep (DynamoDB developer guide, "Quotas: nested
# attribute depth"); no body that deep is a movie, and deeper ones break recursive consumers
# (copying, hashing: the idempotency utility) long before Python's parser gives up.
MAX_NESTING_LEVELS = 32


def read_json(text: str | bytes) -> Any:
    """The JSON document of a body (RFC 8259). Raises ProblemError 400 ``malformed-json``.

    Every failure here is the client's: besides syntax errors, nesting deeper than
    ``MAX_NESTING_LEVELS`` objects or arrays below the document, and integers longer than Python's
    digit limit (errors that are not ``JSONDecodeError``, and would otherwise surface as a 500).
    """
    try:
        document = json.loads(text, object_pairs_hook=_object_without_duplicate_members)
    except (ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(":")[0]
        raise ProblemError(HTTPStatus.BAD_REQUEST, "malformed-json", f"The body is not valid JSON: {reason}.") from None
    if _nesting_levels(document) > MAX_NESTING_LEVELS:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "malformed-json",
            f"The body is nested more than {MAX_NESTING_LEVELS} levels deep (DynamoDB's limit for nested attributes).",
        )
    return document


def _nesting_levels(document: Any) -> int:
    """How many levels of objects and arrays lie below the document's top level (iteratively: no recursion)."""
    deepest, stack = 0, [(document, 0)]
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                deepest = max(deepest, level + 1)
                stack.append((child, level + 1))
    return deepest


def _object_without_duplicate_members(members: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 §4: with duplicate names, parsers disagree on which value counts; a log, a WAF or a
    # proxy that reads the first would see another movie than the one written.
    seen: set[str] = set()
    for name, _ in members:
        if name in seen:
            raise ValueError(f"the member {json.dumps(name)} appears more than once")
        seen.add(name)
    return dict(members)


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


class Admission:
    """The checks of one API: its operations, whether scopes are checked, how large a body may be."""

    def __init__(self, operations: Operations, *, require_auth: bool, max_body_bytes: int) -> None:
        self._operations = operations
        self._require_auth = require_auth
        self._max_body_bytes = max_body_bytes

    def admit(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event to resolve, normalised. Raises ProblemError for a request refused here."""
        operation = self._operation(event)
        if self._require_auth:
            authorize(operation, event)
        if operation.media_types:
            event = self._check_body(operation, event)
        return normalize_movie_path(event)

    def _operation(self, event: dict[str, Any]) -> Operation:
        # Methods are case-sensitive (RFC 9110 §9.1): "delete" is not DELETE, and gets 405.
        method = str(event.get("httpMethod") or "")
        # The resource API Gateway matched (the template declares the same operations as the routes).
        path = resource_path(str(event.get("resource") or ""))
        operation = self._operations.find(method, path)
        if operation is not None:
            return operation
        allowed = self._operations.methods(path)
        if allowed:
            raise ProblemError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method-not-allowed",
                f"{method} is not supported here; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ProblemError(HTTPStatus.NOT_FOUND, "route-not-found", f"No resource at {event.get('path')}; see /docs.")

    def _check_body(self, operation: Operation, event: dict[str, Any]) -> dict[str, Any]:
        body = raw_body(event)
        if len(body) > self._max_body_bytes:
            raise ProblemError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "payload-too-large",
                f"The body is {len(body)} bytes; at most {self._max_body_bytes} are accepted.",
            )
        accepted = ", ".join(operation.media_types)
        accept_header = _ACCEPT_HEADERS.get(operation.method)
        if not body:
            # Every operation that reads a body needs one. Left to the resolver, an empty body was
            # parsed by its Content-Type: a form type as {} (a PUT that erased the movie's info),
            # an unknown one as an error of Powertools' own (a 500).
            raise ProblemError(
                HTTPStatus.BAD_REQUEST,
                "body-required",
                f"{operation.method} needs a body: send it as {accepted}.",
                headers={accept_header: accepted} if accept_header else None,
            )
        content_type = _header(event, "content-type")
        media_type = MediaType.parse(content_type)
        if media_type is None or media_type.essence not in operation.media_types:
            raise ProblemError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                f"Send the body as {accepted}; got {content_type or 'no Content-Type'}.",
                headers={accept_header: accepted} if accept_header else None,
            )
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProblemError(
                HTTPStatus.BAD_REQUEST, "malformed-json", "The body is not valid JSON: it is not UTF-8 text (RFC 8259)."
            ) from None
        return _with_content_type(event, JSON)


def _with_content_type(event: dict[str, Any], value: str) -> dict[str, Any]:
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "headers": {**headers, "Content-Type": value},
        "multiValueHeaders": {**multi, "Content-Type": [value]},
    }
