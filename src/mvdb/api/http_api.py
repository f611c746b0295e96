"""The API as one object: ``create_app(settings)`` builds everything a request needs, once per
container: the ``MovieService`` (its DynamoDB client) and the idempotency records, the resolver
with the routes built over them and the error handlers, admission, the response finisher.
Settings are read once, at init, and fail fast when ``TABLE_NAME`` is missing.

A request goes: admission (404/405, scope, body envelope) -> the resolver (validation, the route)
-> the finisher (security headers, CORS, request id, HEAD), whatever answered it; then the
request's metrics, flushed as one EMF line that is also its access-log line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from mvdb.api import health, history, movies
from mvdb.api.admission import Admission, read_json
from mvdb.api.docs import DocumentationConfig, register_docs
from mvdb.api.idempotency import IdempotencyStore
from mvdb.api.operations import Operations, resource_path
from mvdb.api.problems import ProblemError, problem, problem_for
from mvdb.api.responses import ResponseFinisher, cors_config
from mvdb.config import Settings
from mvdb.dependencies import build_movie_service
from mvdb.domain.errors import (
    DomainError,
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    PreconditionFailed,
    field_errors,
)
from mvdb.domain.service import MovieService
from mvdb.observability import logger, metrics

__all__ = ["LambdaHandler", "MoviesApi", "create_app", "lambda_handler_of"]

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class MoviesApi:
    """One configured API. ``handle`` answers one API Gateway REST (v1) proxy event.

    ``resolver`` is Powertools' resolver; ``service`` the ``MovieService`` and ``idempotency`` the
    records its routes close over.
    """

    def __init__(
        self,
        resolver: APIGatewayRestResolver,
        operations: Operations,
        admission: Admission,
        finisher: ResponseFinisher,
        service: MovieService,
        idempotency: IdempotencyStore,
    ) -> None:
        self.resolver = resolver
        self.operations = operations
        self._admission = admission
        self._finisher = finisher
        self.service = service
        self.idempotency = idempotency
        self._cold = True  # until the first request of this container is answered

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        method = str(event.get("httpMethod") or "").upper()
        route = self.route_of(event)
        metrics.add_dimension(name="route", value=f"{method} {route}")
        try:
            admitted = self._admission.admit(event)
            response = self.resolver.resolve(admitted, context)
        except ProblemError as refused:
            response = _proxy_response(problem_for(refused))
        response = self._finisher.finish(response, event)
        status = int(response["statusCode"])
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        metrics.add_metric(name=f"Status{status // 100}xx", unit=MetricUnit.Count, value=1)
        # One Latency sample per request: its SampleCount is the route's request count (no metric of its own).
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
        # One line per request: the request's EMF document carries its access-log fields as metadata
        # (searchable in Logs Insights, not metrics). A log line of its own cost a warm GET more
        # than any other step (docs/performance.md). Never headers or bodies: they carry tokens and data.
        request_context = event.get("requestContext")
        access = {
            "message": "request",
            "http_method": method,
            "status": status,
            "latency_ms": latency_ms,
            "correlation_id": request_context.get("requestId") if isinstance(request_context, dict) else None,
            "function_request_id": getattr(context, "aws_request_id", None),
            "cold_start": self._cold,
            "xray_trace_id": _xray_trace_id(),
        }
        for key, value in access.items():
            metrics.add_metadata(key=key, value=value)
        self._cold = False
        return response

    def route_of(self, event: dict[str, Any]) -> str:
        """The route template for logs and metrics: the resource API Gateway matched, when it is one
        of ours (``unmatched`` otherwise, so a metric's dimension values stay few)."""
        resource = str(event.get("resource") or "")
        return resource if self.operations.methods(resource_path(resource)) else "unmatched"


def create_app(settings: Settings) -> MoviesApi:
    """The API ``settings`` describe (``MovieService`` included: its client makes no call until used).

    Route modules build their routes over the objects they use, here, once: a new module adds its
    ``Routes`` to ``route_sets``.
    """
    service = build_movie_service(settings)
    resolver = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=read_json)
    idempotency = IdempotencyStore(settings)
    route_sets = [
        health.health_routes(service),
        movies.movie_routes(service, idempotency),
        history.history_routes(service),
    ]
    for routes in route_sets:
        resolver.include_router(routes.router)
    docs_operations = Operations()
    register_docs(resolver, docs_operations, DocumentationConfig(settings.token_url, settings.environment))
    operations = Operations.merged(*(routes.operations for routes in route_sets), docs_operations)
    _register_error_handlers(resolver)
    return MoviesApi(
        resolver,
        operations,
        Admission(operations, require_auth=settings.require_auth, max_body_bytes=settings.max_body_bytes),
        ResponseFinisher(operations, cors_config(settings.cors_allow_origins)),
        service,
        idempotency,
    )


def lambda_handler_of(api: MoviesApi, *, publish_metrics: bool = True) -> LambdaHandler:
    """``api.handle`` as a Lambda handler: API Gateway's request id (``correlation_id``) and the
    invocation's (``function_request_id``) on every log line, the request's metrics flushed as one
    EMF document (with the cold-start metric).

    ``publish_metrics=False`` discards each request's metrics instead (``Metrics.clear_metrics``),
    and with them its access-log fields, for the handler called in-process by checks (``mvdb
    verify``, the restore validation): their GETs are no API traffic, and EMF on a terminal is
    noise. POWERTOOLS_METRICS_DISABLED is not enough: Powertools 3 still prints the cold-start
    metric, and keeps each request's dimensions (a warning on the next request's ``route``).
    """

    # POWERTOOLS_LOGGER_SAMPLE_RATE arrives as text: the template's default, "0", is a rate of none, and
    # a draw costs a request a setLevel (which clears every logger's cache). Powertools refused a rate
    # that is not a number when the Logger was made.
    sampled = float(logger.sampling_rate or 0) > 0

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The keys of every log line of the invocation (warnings, errors; the request's own line is
        # its EMF document), in one call: the correlation id Powertools' correlation_paths.API_GATEWAY_REST
        # names, read directly (a JMESPath search per request cost 4% of a warm GET's own
        # instructions), and the invocation's id. inject_lambda_context rebuilt every key of the
        # formatter per request, for lines a request seldom writes (docs/performance.md).
        if sampled:  # a new draw per invocation, as Powertools documents (from the Logger's first level)
            logger.refresh_sample_rate_calculation()
        request_context = event.get("requestContext")
        logger.append_keys(
            correlation_id=request_context.get("requestId") if isinstance(request_context, dict) else None,
            function_request_id=getattr(context, "aws_request_id", None),
        )
        return api.handle(event, context)

    def handle_discarding_metrics(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handle(event, context)
        finally:
            metrics.clear_metrics()

    if publish_metrics:
        with_metrics = metrics.log_metrics(handle, capture_cold_start_metric=True)
    else:
        with_metrics = handle_discarding_metrics
    handler: LambdaHandler = with_metrics
    return handler


# -- errors: mapped once, here ------------------------------------------------------------


def _register_error_handlers(resolver: APIGatewayRestResolver) -> None:
    @resolver.exception_handler([DomainError, ProblemError])
    def handle_domain_error(error: DomainError | ProblemError) -> Response[Any]:
        return _counted_problem(error)

    @resolver.exception_handler(RequestValidationError)
    def handle_validation_error(error: RequestValidationError) -> Response[Any]:
        details = list(error.errors())
        if any(tuple(e.get("loc", ()))[:1] == ("response",) for e in details):
            # Powertools reports our own response not matching its declared model this way: a bug of ours.
            return _internal_error(error)
        return _counted_problem(InvalidInput("The request is not valid; see errors.", field_errors(details)))

    @resolver.not_found
    def handle_not_found(_: NotFoundError) -> Response[Any]:
        # Admission already answered unknown resources and methods: this is a path that is not
        # one of its resource's (e.g. /movies/2013 under /movies/{year}/{title+}).
        path = resolver.current_event.path
        return problem(HTTPStatus.NOT_FOUND, "route-not-found", f"No resource at {path}; see /docs.")

    @resolver.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response[Any]:
        return _internal_error(error)


def _counted_problem(error: DomainError | ProblemError) -> Response[Any]:
    if isinstance(error, (InvalidInput, InvalidCursor)):
        metrics.add_metric(name="ValidationFailures", unit=MetricUnit.Count, value=1)
    elif isinstance(error, (MovieAlreadyExists, PreconditionFailed)):
        metrics.add_metric(name="Conflicts", unit=MetricUnit.Count, value=1)
    return problem_for(error)


def _internal_error(error: Exception) -> Response[Any]:
    logger.exception("Unhandled error", extra={"error_type": type(error).__name__})
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal-error",
        "Something went wrong on our side; it has been logged. Quote the X-Request-Id header if you report it.",
    )


def _xray_trace_id() -> str | None:
    """The X-Ray trace id of this invocation: the ``Root`` of ``_X_AMZN_TRACE_ID``, which the Lambda
    runtime sets per invocation (``Root=1-...;Parent=...;Sampled=1``; AWS Lambda developer guide,
    "Defined runtime environment variables"), as Powertools' Logger reports it."""
    header = os.environ.get("_X_AMZN_TRACE_ID")
    if not header:
        return None
    for field in header.split(";"):
        name, _, value = field.partition("=")
        if name.strip() == "Root":
            return value.strip()
    return None


def _proxy_response(response: Response[Any]) -> dict[str, Any]:
    """A refusal made before the resolver, as the API Gateway REST (v1) proxy result it would build."""
    headers = {name: [value] if isinstance(value, str) else list(value) for name, value in response.headers.items()}
    return {
        "statusCode": response.status_code,
        "body": response.body,
        "isBase64Encoded": False,
        "multiValueHeaders": headers,
    }
