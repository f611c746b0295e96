"""Every error a client can meet becomes one application/problem+json response (RFC 9457)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from mvdb.api.problems import PROBLEM_CONTENT_TYPE, ProblemError, problem, problem_for
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
)


def body_of(response: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(response.body)
    return decoded


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (MovieNotFound(2013, "Rush"), 404, "movie-not-found"),
        (MovieAlreadyExists(2013, "Rush"), 409, "movie-already-exists"),
        (PreconditionFailed(2013, "Rush"), 412, "precondition-failed"),
        (PreconditionRequired(), 428, "precondition-required"),
        (InvalidCursor("altered"), 400, "invalid-cursor"),
        (StorageUnavailable(), 503, "storage-unavailable"),
    ],
)
def test_domain_error_maps_to_its_status_and_code(error: DomainError, status: int, code: str) -> None:
    response = problem_for(error)
    body = body_of(response)
    assert (response.status_code, body["status"], body["code"]) == (status, status, code)


@pytest.mark.parametrize(
    "error",
    [
        MovieNotFound(2013, "Rush"),
        MovieAlreadyExists(2013, "Rush"),
        PreconditionFailed(2013, "Rush"),
        PreconditionRequired(),
        InvalidCursor(),
        StorageUnavailable(),
        InvalidInput("bad", [FieldError(["body", "year"], "too small", "greater_than_equal")]),
    ],
)
def test_every_problem_has_type_title_status_detail_and_code(error: DomainError) -> None:
    response = problem_for(error)
    body = body_of(response)
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["type"] == f"urn:mvdb:problem:{body['code']}"
    assert body["title"] == HTTPStatus(body["status"]).phrase
    assert body["detail"] == error.detail


def test_storage_unavailable_tells_the_client_when_to_retry() -> None:
    response = problem_for(StorageUnavailable(retry_after_s=5))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("error", [MovieNotFound(2013, "Rush"), PreconditionFailed(2013, "Rush"), InvalidCursor()])
def test_problems_other_than_503_carry_no_retry_after(error: DomainError) -> None:
    assert "Retry-After" not in problem_for(error).headers


def test_invalid_body_is_422_with_each_field_error_and_its_location() -> None:
    errors = [
        FieldError(["body", "info", "rating"], "must be at most 10", "less_than_equal"),
        FieldError(["body", "title"], "must not be blank", "value_error"),
    ]
    response = problem_for(InvalidInput("The movie is not valid.", errors))
    body = body_of(response)
    assert response.status_code == 422
    assert body["code"] == "validation-failed"
    assert body["errors"] == [
        {"location": ["body", "info", "rating"], "message": "must be at most 10", "code": "less_than_equal"},
        {"location": ["body", "title"], "message": "must not be blank", "code": "value_error"},
    ]


def test_invalid_query_or_path_is_400_with_field_errors() -> None:
    response = problem_for(InvalidInput("bad", [FieldError(["query", "title_prefix"], "requires year", "dependency")]))
    assert response.status_code == 400
    assert body_of(response)["errors"][0]["location"] == ["query", "title_prefix"]


def test_problem_without_field_errors_has_no_errors_member() -> None:
    assert "errors" not in body_of(problem_for(MovieNotFound(2013, "Rush")))


def test_problem_error_raised_by_the_http_layer_keeps_its_status_code_and_headers() -> None:
    error = ProblemError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send JSON.", headers={"X": "1"})
    response = problem_for(error)
    assert response.status_code == 415
    assert response.headers["X"] == "1"
    assert body_of(response)["code"] == "unsupported-media-type"


def test_problem_detail_keeps_non_ascii_text_readable() -> None:
    response = problem(HTTPStatus.NOT_FOUND, "movie-not-found", "No movie titled 'Amélie'.")
    assert "Amélie" in response.body
