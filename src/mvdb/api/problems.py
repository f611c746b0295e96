"""Errors as ``application/problem+json`` (RFC 9457), mapped once for the whole API.

Every problem has ``type``, ``title``, ``status`` and ``detail``, plus ``code`` (a stable,
machine-readable name) and, for invalid input, ``errors``: a list of ``{location, message, code}``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

from mvdb.domain.errors import (
    DomainError,
    FieldError,
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    MovieNotFound,
    MovieTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    StorageUnavailable,
    WritesSuspended,
)

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "ProblemDocument",
    "ProblemError",
    "documented_responses",
    "invalid_input_status",
    "problem",
    "problem_for",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DOMAIN_PROBLEMS: dict[type[DomainError], tuple[HTTPStatus, str]] = {
    MovieNotFound: (HTTPStatus.NOT_FOUND, "movie-not-found"),
    MovieAlreadyExists: (HTTPStatus.CONFLICT, "movie-already-exists"),
    # Not a 5xx: nothing failed, the movie's stored state conflicts with sending it (RFC 9110 §15.5.10:
    # "a conflict with the current state of the target resource" that a writer can resolve by replacing it).
    MovieTooLarge: (HTTPStatus.CONFLICT, "movie-too-large"),
    PreconditionFailed: (HTTPStatus.PRECONDITION_FAILED, "precondition-failed"),
    PreconditionRequired: (HTTPStatus.PRECONDITION_REQUIRED, "precondition-required"),
    InvalidCursor: (HTTPStatus.BAD_REQUEST, "invalid-cursor"),
    StorageUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "storage-unavailable"),
    WritesSuspended: (HTTPStatus.SERVICE_UNAVAILABLE, "writes-suspended"),
}


class FieldErrorDocument(BaseModel):
    model_config = ConfigDict(defer_build=True)

    location: list[Annotated[str, Field(max_length=300)] | Annotated[int, Field(ge=0, le=100_000)]] = Field(
        max_length=64, description='Where the invalid value is, e.g. ["body", "info", "rating"]'
    )
    message: str = Field(max_length=2000)
    code: str = Field(max_length=100, pattern=r"^[a-z0-9_]+$")


class ProblemDocument(BaseModel):
    """The body of every error response (documentation only: responses are built by ``problem``)."""

    model_config = ConfigDict(defer_build=True)

    type: str = Field(max_length=200, pattern=r"^urn:mvdb:problem:[a-z0-9-]+$", description="URN of the problem type")
    title: str = Field(max_length=200, description="The HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(max_length=2000, description="What went wrong, for a person")
    code: str = Field(max_length=100, pattern=r"^[a-z0-9_-]+$", description="Stable, machine-readable name")
    errors: list[FieldErrorDocument] | None = Field(default=None, max_length=1000)


class ProblemError(Exception):
    """Raised by the HTTP layer itself for a request it refuses (wrong media type, too large...)."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem(
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body: dict[str, Any] = {
        "type": f"urn:mvdb:problem:{code}",
        "title": status.phrase,
        "status": status.value,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = [error.as_dict() for error in errors]
    return Response(
        status_code=status.value,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(body, ensure_ascii=False, default=str),
        headers=headers or {},
    )


def invalid_input_status(errors: list[FieldError]) -> HTTPStatus:
    """The one 400-vs-422 rule: a well-formed body that breaks a rule is 422 Unprocessable Content
    (RFC 9110 §15.5.21); anything else wrong with the request (path, query, headers) is 400."""
    return (
        HTTPStatus.UNPROCESSABLE_ENTITY if any(e.location[:1] == ["body"] for e in errors) else HTTPStatus.BAD_REQUEST
    )


def problem_for(error: DomainError | ProblemError) -> Response[str]:
    if isinstance(error, ProblemError):
        return problem(error.status, error.code, error.detail, errors=error.errors, headers=error.headers)
    if isinstance(error, InvalidInput):
        return problem(invalid_input_status(error.errors), "validation-failed", error.detail, errors=error.errors)
    status, code = _DOMAIN_PROBLEMS.get(type(error), (HTTPStatus.BAD_REQUEST, "bad-request"))
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, StorageUnavailable) else None
    return problem(status, code, error.detail, headers=headers)


# -- how problems are documented in the OpenAPI document -------------------------------------

_MEANINGS = {
    400: "Invalid parameters, cursor, If-Match or Idempotency-Key; malformed JSON",
    401: "No valid access token",
    403: "The token lacks the scope this operation needs",
    404: "No such movie",
    405: "The resource does not support this method; Allow lists those it does",
    409: (
        "The movie already exists (POST), a request with this Idempotency-Key is still in progress, or a movie "
        "stored around the API's limits is too large to send (movie-too-large: replace or delete it)"
    ),
    412: "If-Match does not name the current version",
    413: "Body too large",
    415: "Body is not of a media type this operation reads",
    422: "Body is well-formed but invalid (see errors), or the Idempotency-Key was used with another request",
    428: "If-Match is required",
    429: "Too many requests (the API's throttling or the per-client rate limit); retry after Retry-After seconds",
    500: "Something went wrong on our side; quote X-Request-Id",
    503: "The table is unavailable; retry after Retry-After seconds",
}
_RETRY_AFTER: dict[str, Any] = {
    "description": "Seconds to wait before retrying (RFC 9110 §10.2.3)",
    "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 3600},
}
_ALLOW_ORIGIN: dict[str, Any] = {
    "description": "CORS: the request's Origin, when it is one of the API's allow-listed browser origins",
    "schema": {"type": "string", "format": "uri", "maxLength": 300},
}
_REQUEST_ID: dict[str, Any] = {
    "description": "The id of this request in the API's logs; quote it when you report a problem",
    "schema": {"type": "string", "maxLength": 100, "pattern": "^[A-Za-z0-9-]+$"},
}
# Every operation may meet these: throttling at the edge, and a failure of ours.
_EVERY_OPERATION = (429, 500)
_SECURED = (401, 403)


def documented_responses(
    success: dict[int, dict[str, Any]], *problems: int, secured: bool = True
) -> dict[int, dict[str, Any]]:
    """The OpenAPI ``responses`` of an operation: its successes, its own problems, and those any
    operation may return (401/403 when it needs a token, 429, 500)."""
    every_response = {"X-Request-Id": _REQUEST_ID, "Access-Control-Allow-Origin": _ALLOW_ORIGIN}
    documented: dict[int, dict[str, Any]] = {
        status: {**response, "headers": {**every_response, **response.get("headers", {})}}
        for status, response in success.items()
    }
    for status in sorted({*_EVERY_OPERATION, *(_SECURED if secured else ()), *problems}):
        headers: dict[str, Any] = dict(every_response)
        if status in (429, 503):
            headers["Retry-After"] = _RETRY_AFTER
        documented[status] = {
            "description": _MEANINGS[status],
            "headers": headers,
            "content": {PROBLEM_CONTENT_TYPE: {"model": ProblemDocument}},
        }
    return documented
