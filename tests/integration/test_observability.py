"""What the service emits for operators: one JSON line per request, its EMF metrics carrying the
access-log fields and the correlation id, no credentials in any log line, EMF metrics that parse,
one cold start per container."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.container import Emitted, request, run_in_container
from tests.integration.lambda_client import movie_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a fresh process per container

SECRET_TOKEN = "eyJraWQiOiJzZWNyZXQtdG9rZW4tdGhhdC1tdXN0LW5ldmVyLWJlLWxvZ2dlZCJ9.payload.signature"
DECLARED_METRICS = {
    "Latency",
    "Status2xx",
    "Status4xx",
    "Status5xx",
    "MovieCreated",
    "MovieUpdated",
    "MovieDeleted",
    "Conflicts",
    "ValidationFailures",
    "DynamoDBRetries",
    "ColdStart",
}


@pytest.fixture
def container(dynamodb_local: Any, loaded_table: str) -> Callable[..., list[Emitted]]:
    env = {"TABLE_NAME": loaded_table, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint}

    def run(*requests: dict[str, Any], explode: bool = False) -> list[Emitted]:
        return run_in_container(*requests, env=env, explode=explode)

    return run


@pytest.mark.parametrize(
    ("method", "path", "expected_status"),
    [
        ("GET", movie_path(2013, "Rush"), 200),
        ("GET", "/movies?year=2013&limit=5", 200),
        ("GET", movie_path(2013, "No Such Movie"), 404),
        ("GET", "/movies?limit=0", 400),
        ("DELETE", "/health", 405),
        ("GET", "/nowhere", 404),
    ],
)
def test_every_request_writes_exactly_one_access_log_line_with_its_correlation_id(
    container: Callable[..., list[Emitted]], method: str, path: str, expected_status: int
) -> None:
    (emitted,) = container(request(method, path, request_id="req-123"))
    assert emitted.response["statusCode"] == expected_status
    assert len(emitted.access_lines) == 1
    assert not [line for line in emitted.logs if line.get("message") == "request"]  # one line, not two
    line = emitted.access_lines[0]
    assert line["function_request_id"]  # the invocation: Lambda's REPORT line of the same request
    assert line["correlation_id"] == "req-123" == emitted.header("X-Request-Id")
    assert (line["http_method"], line["status"]) == (method, expected_status)
    assert isinstance(line["latency_ms"], float | int)


def test_access_log_names_the_route_template_not_the_raw_path(container: Callable[..., list[Emitted]]) -> None:
    # The method and the resource API Gateway matched, as its own access log names it
    # ($context.httpMethod, $context.resourcePath): the route dimension of the request's metrics.
    (emitted,) = container(request("GET", movie_path(2013, "Rush")))
    assert emitted.access_lines[0]["route"] == "GET /movies/{year}/{title+}"


def test_a_path_the_api_does_not_have_is_logged_as_unmatched(container: Callable[..., list[Emitted]]) -> None:
    # Metric dimensions stay few: one value for every unknown path, not one per path.
    (emitted,) = container(request("GET", "/no/such/" + "x" * 50))
    assert emitted.access_lines[0]["route"] == "GET unmatched"


def test_no_token_or_authorization_header_is_logged_even_when_requests_fail(
    container: Callable[..., list[Emitted]],
) -> None:
    headers = {"Authorization": f"Bearer {SECRET_TOKEN}", "Content-Type": "application/json"}
    requests = [
        request("GET", movie_path(2013, "Rush"), headers=headers),
        request("POST", "/movies", headers=headers, body="{not json"),
        request("PUT", movie_path(2013, "Rush"), headers={**headers, "If-Match": "stale"}, body='{"info": {}}'),
        request("GET", movie_path(2013, "Rush"), headers=headers, authorizer=None),  # refused: no claims
    ]
    output = "".join(e.raw for e in container(*requests))
    # An unexpected failure is logged with its stack trace: the token must not be in it either.
    (exploded,) = container(request("GET", movie_path(2013, "Rush"), headers=headers), explode=True)
    assert exploded.response["statusCode"] == 500
    assert "storage exploded" in exploded.raw  # the error itself is logged, with its cause
    for text in (output, exploded.raw):
        assert SECRET_TOKEN not in text
        assert "Bearer" not in text
        assert "authorization" not in text.lower()


def test_an_unexpected_error_is_logged_once_and_answered_with_a_problem_without_internals(
    container: Callable[..., list[Emitted]],
) -> None:
    (emitted,) = container(request("GET", movie_path(2013, "Rush")), explode=True)
    errors = [line for line in emitted.logs if line["level"] == "ERROR"]
    body = json.loads(emitted.response["body"])
    assert emitted.response["statusCode"] == 500
    assert body["code"] == "internal-error"
    assert "storage exploded" not in emitted.response["body"]
    assert len(errors) == 1
    assert "RuntimeError: storage exploded" in errors[0]["exception"]


def test_emf_lines_parse_and_carry_only_declared_metrics_with_few_dimensions(
    container: Callable[..., list[Emitted]],
) -> None:
    ok, invalid = container(request("GET", movie_path(2013, "Rush")), request("GET", "/movies?limit=0"))
    for emitted in (ok, invalid):
        requests_emf = [d for d in emitted.emf if "Latency" in d]
        assert len(requests_emf) == 1
        document = requests_emf[0]
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "mvdb"
        names = {metric["Name"] for metric in directive["Metrics"]}
        assert names <= DECLARED_METRICS
        assert "Latency" in names  # one sample per request: its SampleCount counts the requests
        assert all(name in document for name in names)  # each declared metric carries its value
        assert directive["Dimensions"] == [["environment", "route", "service"]]
    assert next(d for d in ok.emf if "Latency" in d)["Status2xx"] == [1.0]
    invalid_emf = next(d for d in invalid.emf if "Latency" in d)
    assert invalid_emf["Status4xx"] == [1.0]
    assert invalid_emf["ValidationFailures"] == [1.0]


def test_business_events_are_counted(dynamodb_local: Any, movies_table: str) -> None:
    movie = {"year": 2030, "title": "Metric Test", "info": {}}
    body = json.dumps(movie)
    json_headers = {"Content-Type": "application/json"}
    emitted = run_in_container(  # writes: on a table of its own, never the shared seed's
        request("POST", "/movies", headers=json_headers, body=body),
        request("POST", "/movies", headers=json_headers, body=body),
        request(
            "PUT",
            movie_path(2030, "Metric Test"),
            headers={**json_headers, "If-Match": "*"},  # the ETag names its writer and time too
            body='{"info": {"rating": 1}}',
        ),
        request("DELETE", movie_path(2030, "Metric Test"), headers={"If-Match": "*"}),
        env={"TABLE_NAME": movies_table, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint},
    )
    assert [e.response["statusCode"] for e in emitted] == [201, 409, 200, 204]
    events = ("MovieCreated", "Conflicts", "MovieUpdated", "MovieDeleted")
    counted = [name for e in emitted for document in e.emf for name in events if name in document]
    assert counted == list(events)


def test_cold_start_metric_appears_once_per_container(container: Callable[..., list[Emitted]]) -> None:
    emitted = container(*[request("GET", "/")] * 3)
    cold_starts = [d for e in emitted for d in e.emf if "ColdStart" in d]
    assert len(cold_starts) == 1
    assert [e.access_lines[0]["cold_start"] for e in emitted] == [True, False, False]
