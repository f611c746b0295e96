"""The pre-traffic hook's decisions: which answers pass, and that CodeDeploy always gets a verdict.

Lambda and CodeDeploy are botocore clients with a Stubber: every call the hook makes must be
one the test expects, with the parameters it expects, and the network is switched off.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from pytest_socket import disable_socket, enable_socket

from functions.pre_traffic_hook import handler as hook
from mvdb.api.scopes import READ_SCOPE

pytestmark = pytest.mark.infra

TARGET = "arn:aws:lambda:eu-west-1:111122223333:function:mvdb-dev-MoviesFunction-abc:7"
EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "hook-execution-1"}


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()


def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1")


@pytest.fixture
def lambda_client() -> Iterator[tuple[Any, Stubber]]:
    client = _session().client("lambda")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def codedeploy_client() -> Iterator[tuple[Any, Stubber]]:
    client = _session().client("codedeploy")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _proxy_response(
    status: int, body: dict[str, Any] | None = None, function_error: str | None = None
) -> dict[str, Any]:
    payload = json.dumps({"statusCode": status, "body": json.dumps(body or {})}).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))}
    if function_error:
        response["FunctionError"] = function_error
    return response


def _expect_invocations(stubber: Stubber, *responses: dict[str, Any]) -> None:
    for response in responses:
        stubber.add_response(
            "invoke", response, {"FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": ANY}
        )


def _expect_verdict(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
        {
            "deploymentId": EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )


def _healthy() -> list[dict[str, Any]]:
    """Fresh answers of a healthy version, one per smoke request (a payload stream reads only once)."""
    return [
        _proxy_response(200, {"status": "ok"}),
        _proxy_response(200, {"items": []}),
        _proxy_response(404, {"code": "movie-not-found"}),  # a new stack's table is empty
    ]


def _run(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber], target: str | None = TARGET
) -> str:
    return hook.run_hook(
        EVENT, lambda_client=lambda_client[0], codedeploy_client=codedeploy_client[0], target_version_arn=target
    )


def test_a_healthy_version_is_reported_succeeded(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    _expect_invocations(lambda_client[1], *_healthy())
    _expect_verdict(codedeploy_client[1], "Succeeded")

    assert _run(lambda_client, codedeploy_client) == "Succeeded"


def test_a_server_error_fails_the_deployment(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    health, _, movie = _healthy()
    _expect_invocations(lambda_client[1], health, _proxy_response(500, {"code": "internal-error"}), movie)
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_a_crashing_function_fails_the_deployment(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    def crashed() -> dict[str, Any]:
        payload = json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode()
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        }

    _expect_invocations(lambda_client[1], crashed(), crashed(), crashed())
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_a_movie_route_refusing_the_read_scope_fails_the_deployment(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    health, _, movie = _healthy()
    _expect_invocations(lambda_client[1], health, _proxy_response(401, {"code": "unauthenticated"}), movie)
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_an_unknown_route_fails_the_deployment_though_a_missing_movie_does_not(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    health, movies, _ = _healthy()
    _expect_invocations(lambda_client[1], health, movies, _proxy_response(404, {"code": "route-not-found"}))
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_an_invocation_that_cannot_be_made_fails_the_deployment(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    lambda_client[1].add_client_error("invoke", "ResourceNotFoundException", "Function not found", 404)
    _expect_invocations(lambda_client[1], *_healthy()[1:])
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_an_answer_that_is_not_a_proxy_response_fails_the_deployment(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    not_a_response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(b"null"), 4)}
    _expect_invocations(lambda_client[1], not_a_response, *_healthy()[1:])
    _expect_verdict(codedeploy_client[1], "Failed")

    assert _run(lambda_client, codedeploy_client) == "Failed"


def test_without_a_target_version_nothing_is_invoked_and_the_deployment_fails(
    lambda_client: tuple[Any, Stubber], codedeploy_client: tuple[Any, Stubber]
) -> None:
    _expect_verdict(codedeploy_client[1], "Failed")  # and no invoke: the lambda Stubber has no responses

    assert _run(lambda_client, codedeploy_client, target=None) == "Failed"


def test_a_function_error_fails_a_check_whatever_the_payload_says() -> None:
    health = hook.SMOKE_REQUESTS[0]
    looks_fine = json.dumps({"statusCode": 200, "body": "{}"}).encode()

    result = hook.evaluate(health, {"FunctionError": "Unhandled", "Payload": looks_fine})

    assert not result.passed
    assert "raised" in result.detail
    assert hook.evaluate(health, {"Payload": looks_fine}).passed


def test_the_verdict_of_no_checks_is_failed() -> None:
    assert hook.verdict([]) == "Failed"
    assert hook.verdict([hook.CheckResult("health", True, "status 200")]) == "Succeeded"


def test_smoke_events_carry_read_scope_claims_on_movie_routes_only() -> None:
    events = {request.path: hook.smoke_event(request) for request in hook.SMOKE_REQUESTS}

    assert set(events) == {"/health", "/movies", "/movies/2013/Rush"}
    assert events["/health"]["requestContext"]["authorizer"]["claims"] is None
    for path in ("/movies", "/movies/2013/Rush"):
        claims = events[path]["requestContext"]["authorizer"]["claims"]
        assert claims["scope"] == READ_SCOPE
    assert events["/movies"]["queryStringParameters"] == {"year": "2013", "limit": "1"}
    assert events["/movies/2013/Rush"]["resource"] == "/movies/{year}/{title+}"
    assert all(event["httpMethod"] == "GET" for event in events.values())
