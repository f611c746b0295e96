"""Refuse a deploy that CloudFormation can only refuse later: ``python -m tools.deploy.stack_state <env>``.

A stack whose creation failed and was rolled back stays in ``ROLLBACK_COMPLETE``: CloudFormation
can then only delete it, and every change set for it fails ("is in ROLLBACK_COMPLETE state and can
not be updated"). ``ROLLBACK_FAILED`` likewise leaves deletion as the only operation. The pipeline's
deploy role may not delete its stack (docs/cicd.md), so ``sam deploy`` would fail after packaging,
with a message that does not say what to do. This check runs before it (``make deploy`` and
``make deploy-artifact``) and exits 1 with the status, where to read why, and who must delete the
stack. Any other status, or no stack yet, passes (exit 0).

It runs in the SAM CLI's environment (boto3 comes with it) and calls only
``cloudformation:DescribeStacks``, which every deploy role holds on its own stack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tools.deploy.stack_teardown import TeardownRefused, stack_name

__all__ = ["ONLY_DELETABLE", "blocked_deploy"]

SAMCONFIG = Path(__file__).resolve().parents[2] / "infra" / "samconfig.toml"
# Stack statuses from which CloudFormation's only operation is DeleteStack.
ONLY_DELETABLE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})


def blocked_deploy(cloudformation: Any, stack: str) -> str | None:
    """Why ``stack`` cannot be deployed to (one message), or None when it can (or does not exist yet)."""
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    status = described[0]["StackStatus"] if described else None
    if status not in ONLY_DELETABLE:
        return None
    return (
        f"the stack {stack} is {status}: its first deploy failed and CloudFormation can now only delete it. "
        f"Read why in its events (aws cloudformation describe-stack-events --stack-name {stack}), fix the cause, "
        f"then have someone allowed to delete stacks (not the pipeline's deploy role) run "
        f"aws cloudformation delete-stack --stack-name {stack}, and deploy again (docs/deploy.md, first deploy)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refuse a deploy to a stack CloudFormation can only delete.")
    parser.add_argument("environment", choices=("dev", "staging", "prod"))
    args = parser.parse_args(argv)
    try:
        stack = stack_name(SAMCONFIG, args.environment)
    except TeardownRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    import boto3

    reason = blocked_deploy(boto3.client("cloudformation"), stack)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
