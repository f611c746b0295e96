"""CodeDeploy pre-traffic hook: smoke-test the new movies function version before it gets traffic.

CodeDeploy calls this Lambda (``handler.lambda_handler``) after publishing a new version of the
movies function and before moving any of the ``live`` alias's traffic to it. It invokes that
version directly with a few API Gateway REST (v1) events, the way the stage would, checks each
answer, and reports ``Succeeded`` or ``Failed`` to CodeDeploy. ``Failed`` stops the deployment:
the alias keeps pointing at the old version and no caller ever reaches the new one.

A verdict is always reported (even when the hook itself breaks): without one, CodeDeploy would
wait an hour for the hook to time out before rolling back.

Only the standard library, the runtime's boto3, and two small modules of ours that ``make build``
packs beside this file: ``apigateway_events.rest_api`` (the one builder of API Gateway events,
shared with the local stack and the tests) and ``mvdb.api.scopes`` (the API's scope names). The
service itself is not in this zip.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apigateway_events.rest_api import proxy_event
from mvdb.api.scopes import READ_SCOPE

__all__ = [
    "SMOKE_REQUESTS",
    "TARGET_VERSION_VARIABLE",
    "CheckResult",
    "SmokeRequest",
    "evaluate",
    "lambda_handler",
    "run_hook",
    "smoke_event",
    "verdict",
]

TARGET_VERSION_VARIABLE = "TARGET_FUNCTION_VERSION_ARN"
SUCCEEDED, FAILED = "Succeeded", "Failed"

logger = logging.getLogger("pre_traffic_hook")
logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class SmokeRequest:
    """One request of the smoke set and the answers that count as healthy.

    ``accepted`` maps each acceptable status to the problem ``code`` its body must carry, or to
    None when any body will do.
    """

    name: str
    method: str
    resource: str  # the API Gateway resource template the stage would match
    path: str
    accepted: Mapping[int, str | None]
    query: Mapping[str, str] = field(default_factory=dict)
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    scope: str | None = None  # what the Cognito authorizer would vouch for; None on open routes


SMOKE_REQUESTS: tuple[SmokeRequest, ...] = (
    SmokeRequest("health", "GET", "/health", "/health", accepted={200: None}),
    SmokeRequest(
        "list the movies of 2013",
        "GET",
        "/movies",
        "/movies",
        accepted={200: None},
        query={"year": "2013", "limit": "1"},
        scope=READ_SCOPE,
    ),
    # A new stack's table is empty until `mvdb load` runs: "no such movie" is healthy, but a
    # 404 that says the route itself is unknown is not.
    SmokeRequest(
        "get Rush (2013)",
        "GET",
        "/movies/{year}/{title+}",
        "/movies/2013/Rush",
        accepted={200: None, 404: "movie-not-found"},
        path_parameters={"year": "2013", "title": "Rush"},
        scope=READ_SCOPE,
    ),
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def smoke_event(request: SmokeRequest, *, request_id: str | None = None) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event the stage would send the function for ``request``."""
    authorizer = None
    if request.scope is not None:
        # What API Gateway's Cognito authorizer passes on for a client-credentials access token.
        authorizer = {
            "claims": {"scope": request.scope, "client_id": "codedeploy-pre-traffic-hook", "token_use": "access"}
        }
    return proxy_event(
        request.method,
        request.path,
        resource=request.resource,
        path_parameters=request.path_parameters,
        query=request.query,
        headers={"Accept": "application/json", "User-Agent": "mvdb-pre-traffic-hook"},
        authorizer=authorizer,
        stage="pre-traffic",
        request_id=request_id or f"pre-traffic-{uuid.uuid4()}",
    )


def evaluate(request: SmokeRequest, invocation: Mapping[str, Any]) -> CheckResult:
    """Judge one ``lambda.invoke`` response (its ``Payload`` already read into bytes)."""
    if invocation.get("FunctionError"):
        return CheckResult(request.name, False, f"the function raised ({invocation['FunctionError']})")
    try:
        response = json.loads(invocation.get("Payload") or b"null")
        status = int(response["statusCode"])
    except (ValueError, TypeError, KeyError):
        return CheckResult(request.name, False, "the function did not return an API Gateway proxy response")
    if status not in request.accepted:
        return CheckResult(request.name, False, f"status {status}, expected one of {sorted(request.accepted)}")
    required_code = request.accepted[status]
    if required_code is not None:
        code = _problem_code(response.get("body"))
        if code != required_code:
            return CheckResult(request.name, False, f"status {status} with code {code!r}, not {required_code!r}")
    return CheckResult(request.name, True, f"status {status}")


def _problem_code(body: Any) -> str | None:
    try:
        document = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    code = document.get("code") if isinstance(document, dict) else None
    return code if isinstance(code, str) else None


def verdict(results: Sequence[CheckResult]) -> str:
    """Succeeded only when there were checks and every one passed."""
    return SUCCEEDED if results and all(result.passed for result in results) else FAILED


def _run_checks(lambda_client: Any, target_version_arn: str) -> list[CheckResult]:
    results = []
    for request in SMOKE_REQUESTS:
        try:
            invocation = lambda_client.invoke(
                FunctionName=target_version_arn,
                InvocationType="RequestResponse",
                Payload=json.dumps(smoke_event(request)).encode(),
            )
            payload = invocation.get("Payload")
            result = evaluate(request, {**invocation, "Payload": payload.read() if payload is not None else None})
        except Exception as error:  # any failure to ask is a failed check, never a missing verdict
            result = CheckResult(request.name, False, f"could not invoke the function: {type(error).__name__}: {error}")
        logger.info(json.dumps({"check": result.name, "passed": result.passed, "detail": result.detail}))
        results.append(result)
    return results


def run_hook(
    event: Mapping[str, Any], *, lambda_client: Any, codedeploy_client: Any, target_version_arn: str | None
) -> str:
    """Smoke-test ``target_version_arn`` and report the verdict to CodeDeploy; returns the verdict."""
    results: list[CheckResult] = []
    try:
        if not target_version_arn:
            logger.error(json.dumps({"error": f"{TARGET_VERSION_VARIABLE} is not set: nothing to test"}))
        else:
            results = _run_checks(lambda_client, target_version_arn)
    finally:
        status = verdict(results)
        codedeploy_client.put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status,
        )
    logger.info(json.dumps({"deployment": event["DeploymentId"], "target": target_version_arn, "verdict": status}))
    return status


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    import boto3
    from botocore.config import Config

    # The function's own timeout (15 s) bounds each invocation. Retries cover throttling and network
    # errors only: an error the function returns is never retried, so it cannot be masked.
    invoke_config = Config(read_timeout=30, connect_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    status = run_hook(
        event,
        lambda_client=boto3.client("lambda", config=invoke_config),
        codedeploy_client=boto3.client("codedeploy"),
        target_version_arn=os.environ.get(TARGET_VERSION_VARIABLE),
    )
    return {"status": status}
