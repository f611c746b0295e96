"""The Lambda entry point: ``mvdb.app.lambda_handler`` (API Gateway REST API, payload v1).

Everything a request needs is built here, once per container: settings (fail fast when
``TABLE_NAME`` is missing), the resolver with its routes, and the DynamoDB client.
"""

from __future__ import annotations

import gc

# Init creates a few hundred thousand objects that live as long as the process (modules, routes,
# models, the client) and frees none: collecting while they are created only costs time. The
# collector is paused for init and resumed at the end of this module, with init's objects frozen
# out of every later collection (docs/performance.md measures both).
gc.disable()

import time
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mvdb.api import health, movies
from mvdb.api.admission import check_envelope
from mvdb.api.auth import authorize
from mvdb.api.docs import register_docs
from mvdb.api.paths import normalize_movie_path
from mvdb.api.problems import ProblemError, problem, problem_for
from mvdb.config import get_settings
from mvdb.dependencies import movie_service
from mvdb.domain.errors import (
    DomainError,
    FieldError,
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    PreconditionFailed,
)
from mvdb.observability import logger, metrics
from mvdb.snapstart import register_hooks as register_snapstart_hooks

__all__ = ["app", "lambda_handler"]


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for an explicit allow-list of browser origins only; none configured, no CORS headers."""
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=["Authorization", "Content-Type", "If-Match"],
        expose_headers=["ETag", "Location", "X-Request-Id", "Retry-After"],
        max_age=600,
        allow_credentials=False,
    )


settings = get_settings()
logger.setLevel(settings.log_level)
metrics.set_default_dimensions(environment=settings.environment)

app = APIGatewayRestResolver(enable_validation=True, cors=_cors(settings.cors_allow_origins))
app.include_router(health.router)
app.include_router(movies.router)
register_docs(app)

_SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


# -- errors: mapped once, here ------------------------------------------------------------


@app.exception_handler([DomainError, ProblemError])
def handle_domain_error(error: DomainError | ProblemError) -> Response[Any]:
    if isinstance(error, (InvalidInput, InvalidCursor)):
        metrics.add_metric(name="ValidationFailures", unit=MetricUnit.Count, value=1)
    elif isinstance(error, (MovieAlreadyExists, PreconditionFailed)):
        metrics.add_metric(name="Conflicts", unit=MetricUnit.Count, value=1)
    return problem_for(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[Any]:
    details = list(error.errors())
    if any(tuple(e.get("loc", ()))[:1] == ("response",) for e in details):
        # Powertools reports our own response not matching its declared model this way: a bug of ours.
        return _internal_error(error)
    metrics.add_metric(name="ValidationFailures", unit=MetricUnit.Count, value=1)
    if any(e.get("type") == "json_invalid" for e in details):
        return problem(HTTPStatus.BAD_REQUEST, "malformed-json", "The body is not valid JSON.")
    field_errors = [
        FieldError(
            location=[str(part) for part in e.get("loc", ())],
            message=e.get("msg", "invalid"),
            code=e.get("type", "invalid"),
        )
        for e in details
    ]
    in_body = any(e.location[:1] == ["body"] for e in field_errors)
    status = HTTPStatus.UNPROCESSABLE_ENTITY if in_body else HTTPStatus.BAD_REQUEST
    return problem(status, "validation-failed", "The request is not valid; see errors.", errors=field_errors)


@app.exception_handler(RequestUnsupportedContentType)
def handle_unsupported_content_type(_: RequestUnsupportedContentType) -> Response[Any]:
    # Admission (see lambda_handler) already refuses non-JSON bodies; this is the resolver's own guard.
    return problem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send the body as application/json.")


@app.exception_handler(UnicodeDecodeError)
def handle_undecodable_body(_: UnicodeDecodeError) -> Response[Any]:
    # Admission (see lambda_handler) already refuses bodies that are not UTF-8; this is a second guard.
    return problem(HTTPStatus.BAD_REQUEST, "malformed-json", "The body is not valid JSON: it is not UTF-8 text.")


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[Any]:
    event = app.current_event
    allowed = allowed_methods(event.path)
    if allowed:
        return problem(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method-not-allowed",
            f"{event.http_method} is not supported here; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
    return problem(HTTPStatus.NOT_FOUND, "route-not-found", f"No resource at {event.path}; see /docs.")


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response[Any]:
    return _internal_error(error)


def _internal_error(error: Exception) -> Response[Any]:
    logger.exception("Unhandled error", extra={"error_type": type(error).__name__})
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal-error",
        "Something went wrong on our side; it has been logged. Quote the X-Request-Id header if you report it.",
    )


def admit(event: dict[str, Any]) -> None:
    """Admission control, before the resolver reads anything: who may call (401/403), then
    whether we will read the body at all (413 too large, 415 not JSON, 400 not UTF-8).

    It runs ahead of routing because the resolver's request validation parses the body first
    (as JSON, form data or multipart, by Content-Type) and a refusal must not depend on that.
    """
    if settings.require_auth:
        authorize(event)
    check_envelope(event, settings.max_body_bytes)


def _proxy_response(response: Response[Any]) -> dict[str, Any]:
    """A Response as the API Gateway REST (v1) proxy result, as the resolver would build it."""
    headers = {name: [value] if isinstance(value, str) else list(value) for name, value in response.headers.items()}
    return {
        "statusCode": response.status_code,
        "body": response.body,
        "isBase64Encoded": False,
        "multiValueHeaders": headers,
    }


# -- routing facts the resolver does not expose --------------------------------------------


def _routes() -> list[Any]:
    # Powertools offers no public route lookup; these two lists are its route table.
    return [*app._static_routes, *app._dynamic_routes]


def allowed_methods(path: str) -> list[str]:
    return sorted({route.method for route in _routes() if route.rule.match(path)})


def route_template(method: str, path: str) -> str:
    for route in _routes():
        if route.method == method and route.rule.match(path):
            return str(route.path)
    return "unmatched"


# -- the handler ----------------------------------------------------------------------------


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    event = normalize_movie_path(event)
    method = (event.get("httpMethod") or "").upper()
    route = route_template(method, event.get("path") or "")
    metrics.add_dimension(name="route", value=f"{method} {route}")
    try:
        admit(event)
        response = app.resolve(event, context)
    except ProblemError as refused:
        response = _proxy_response(problem_for(refused))
    status = int(response["statusCode"])
    latency_ms = round((time.perf_counter() - started) * 1000, 2)

    headers = {**_SECURITY_HEADERS, "Cache-Control": "no-store"}
    headers["Content-Security-Policy"] = _API_CSP  # /docs sets its own, stricter-for-scripts policy
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        headers["X-Request-Id"] = str(correlation_id)
    _add_headers(response, headers)

    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Status{status // 100}xx", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    # One access-log line per request; never headers or bodies (they carry tokens and data).
    logger.info(
        "request",
        extra={"http_method": method, "route": route, "status": status, "latency_ms": latency_ms},
    )
    return response


def _add_headers(response: dict[str, Any], headers: dict[str, str]) -> None:
    multi = response.setdefault("multiValueHeaders", {})
    single = response.get("headers")
    for name, value in headers.items():
        if single is not None and name not in single:
            single[name] = value
        elif name not in multi:
            multi[name] = [value]


movie_service()  # the DynamoDB client, built at init (no network call) and reused by every request
register_snapstart_hooks()

gc.freeze()  # what init built moves to the permanent generation: no collection scans it again
gc.enable()
