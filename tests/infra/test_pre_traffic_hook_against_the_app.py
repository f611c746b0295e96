"""The hook's smoke events are requests the real service answers as the hook expects.

The hook is useless if its events are not what the service understands: here they go to the
real ``mvdb.app.lambda_handler`` (scope checks on, as deployed) over a table in DynamoDB Local,
through a stand-in for ``lambda.invoke`` that calls the handler in-process. CodeDeploy is still
a Stubber that must receive the verdict.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.pre_traffic_hook import handler as hook
from mvdb_local.server import LambdaContext

pytestmark = [pytest.mark.infra, pytest.mark.integration]

EVENT = {"DeploymentId": "d-APP", "LifecycleEventHookExecutionId": "hook-execution-app"}


class InProcessLambda:
    """``invoke`` as the Lambda service answers it, with the handler running in this process."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.handler = handler
        self.invoked: list[str] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        self.invoked.append(FunctionName)
        response = self.handler(json.loads(Payload), LambdaContext())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(response).encode())}


def _verdict_of(lambda_client: InProcessLambda) -> str:
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    codedeploy = session.client("codedeploy")
    with Stubber(codedeploy) as stubber:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
        )
        verdict = hook.run_hook(
            EVENT, lambda_client=lambda_client, codedeploy_client=codedeploy, target_version_arn="arn:version:1"
        )
        stubber.assert_no_pending_responses()
    return verdict


def test_the_service_passes_the_smoke_set_over_a_new_empty_table(
    build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any
) -> None:
    service = InProcessLambda(build_app(movies_table, endpoint=dynamodb_local.endpoint, require_auth=True))

    assert _verdict_of(service) == "Succeeded"
    assert service.invoked == ["arn:version:1"] * len(hook.SMOKE_REQUESTS)


def test_a_service_that_cannot_read_its_table_fails_the_smoke_set(
    build_app: Callable[..., Any], dynamodb_local: Any
) -> None:
    service = InProcessLambda(build_app("mvdb-no-such-table", endpoint=dynamodb_local.endpoint, require_auth=True))

    assert _verdict_of(service) == "Failed"
