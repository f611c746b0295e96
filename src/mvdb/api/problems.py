"""Errors as ``application/problem+json`` (RFC 9457), mapped once for the whole API.

Every problem has ``type``, ``title``, ``status`` and ``detail``, plus ``code`` (a stable,
machine-readable name) and, for invalid input, ``errors``: a list of ``{location, message, code}``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict

from mvdb.domain.errors import (
    DomainError,
    FieldError,
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    MovieNotFound,
    PreconditionFailed,
    PreconditionRequired,
    StorageUnavailable,
    WritesSuspended,
)

__all__ = ["PROBLEM_CONTENT_TYPE", "ProblemDocument", "ProblemError", "problem", "problem_for"]

PROBLEM_CONTENT_TYPE = "application/problem+json"

_DOMAIN_PROBLEMS: dict[type[DomainError], tuple[HTTPStatus, str]] = {
    MovieNotFound: (HTTPStatus.NOT_FOUND, "movie-not-found"),
    MovieAlreadyExists: (HTTPStatus.CONFLICT, "movie-already-exists"),
    PreconditionFailed: (HTTPStatus.PRECONDITION_FAILED, "precondition-failed"),
    PreconditionRequired: (HTTPStatus.PRECONDITION_REQUIRED, "precondition-required"),
    InvalidCursor: (HTTPStatus.BAD_REQUEST, "invalid-cursor"),
    StorageUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "storage-unavailable"),
    WritesSuspended: (HTTPStatus.SERVICE_UNAVAILABLE, "writes-suspended"),
}


class FieldErrorDocument(BaseModel):
    model_config = ConfigDict(defer_build=True)

    location: list[str | int]
    message: str
    code: str


class ProblemDocument(BaseModel):
    """The body of every error response (documentation only: responses are built by ``problem``)."""

    model_config = ConfigDict(defer_build=True)

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldErrorDocument] | None = None


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


def problem_for(error: DomainError | ProblemError) -> Response[str]:
    if isinstance(error, ProblemError):
        return problem(error.status, error.code, error.detail, errors=error.errors, headers=error.headers)
    if isinstance(error, InvalidInput):
        # Bad query or path parameters are a bad request; a well-formed body that breaks
        # a rule is unprocessable content.
        in_body = any(e.location[:1] == ["body"] for e in error.errors)
        status = HTTPStatus.UNPROCESSABLE_ENTITY if in_body else HTTPStatus.BAD_REQUEST
        return problem(status, "validation-failed", error.detail, errors=error.errors)
    status, code = _DOMAIN_PROBLEMS.get(type(error), (HTTPStatus.BAD_REQUEST, "bad-request"))
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, StorageUnavailable) else None
    return problem(status, code, error.detail, headers=headers)
