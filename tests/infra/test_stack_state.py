"""A deploy to a stack CloudFormation can only delete is refused before sam deploy, with what to do."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.deploy.stack_state import blocked_deploy

pytestmark = pytest.mark.infra

STACK = "mvdb-prod"


def _cloudformation(status: str | None) -> Any:
    client = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="eu-west-1").client(
        "cloudformation"
    )
    stub = Stubber(client)
    if status is None:
        stub.add_client_error(
            "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist", 400, {"StackName": STACK}
        )
    else:
        stack = {"StackName": STACK, "CreationTime": "2026-11-30T07:00:00Z", "StackStatus": status}
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
    stub.activate()
    return client


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED"])
def test_a_stack_only_deletable_is_refused_with_what_to_do(status: str) -> None:
    reason = blocked_deploy(_cloudformation(status), STACK)

    assert reason is not None
    assert f"the stack {STACK} is {status}" in reason
    assert f"aws cloudformation delete-stack --stack-name {STACK}" in reason


@pytest.mark.parametrize("status", [None, "CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_a_missing_or_updatable_stack_passes(status: str | None) -> None:
    assert blocked_deploy(_cloudformation(status), STACK) is None


def test_the_makefile_checks_the_stack_before_both_deploys() -> None:
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    for target in ("deploy", "deploy-artifact"):
        recipe = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
        assert recipe.index("tools.deploy.stack_state $(ENV)") < recipe.index("$(SAM) deploy"), target
