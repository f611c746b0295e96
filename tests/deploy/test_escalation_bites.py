"""The escalation tests bite: against the bootstrap the review found open, they fail on each escalation it listed.

tests/deploy/test_escalation.py runs in a pytest process of its own with ``MVDB_BOOTSTRAP_SOURCE``
naming tests/deploy/fixtures/bootstrap-before-sealing.yaml (the single-template bootstrap as it
was before the environments were sealed). It must fail, and fail at least on every escalation of
the review (a dev execution role reaching prod or the account, a dev deploy role reaching prod's
secrets, signing and artifacts); on infra/bootstrap/ the same suite passes in check-bootstrap.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.bootstrap_model import FIXTURE_BEFORE_SEALING

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUITE_TIMEOUT_S = 240

REVIEWED_ESCALATIONS = {
    "create a role without the permissions boundary",
    "give a dev role any policy without the boundary",
    "make a dev role trusted by another account without the boundary",
    "create a movies/write app client on the prod user pool",
    "delete the prod API's authorizer",
    "disassociate the prod web ACL from the prod stage",
    "rewrite the prod table key's policy",
    "read the prod app clients' secrets",
    "sign code with the profile prod trusts",
    "overwrite an artifact prod deploys from",
}


def test_the_escalation_suite_fails_on_every_reviewed_escalation_of_the_bootstrap_before_sealing() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env["MVDB_BOOTSTRAP_SOURCE"] = str(FIXTURE_BEFORE_SEALING)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the timeout plugin is needed: seconds saved
    command = [sys.executable, "-m", "pytest", "-p", "pytest_timeout", "-p", "no:cacheprovider", "-q", "-rfE"]
    result = subprocess.run(
        [*command, "tests/deploy/test_escalation.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_S,
        check=False,
    )
    assert not re.search(r"^ERROR ", result.stdout, flags=re.MULTILINE), result.stdout[-3000:]
    assert result.returncode == 1, result.stdout[-3000:]
    failed = set(re.findall(r"^FAILED \S+::test_no_dev_identity_can\[shared-(.+?)\]", result.stdout, re.MULTILINE))
    assert failed >= REVIEWED_ESCALATIONS, sorted(REVIEWED_ESCALATIONS - failed)


def test_the_mapping_attempt_bites_on_the_execution_policy_scoped_only_by_function(tmp_path: Path) -> None:
    """The execution policy as merged with the search index: Update/DeleteEventSourceMapping scoped by
    lambda:FunctionArn only. In the shared account dev's execution role could then point prod's mapping
    at a dev function (lambda:FunctionArn is the function the request names)."""
    from tests.deploy.bootstrap_model import APP, BOOTSTRAP_DIR, bootstrap_accounts
    from tests.deploy.test_escalation import _may, attempts, dev_actors, prod_resources

    for template in BOOTSTRAP_DIR.glob("*.yaml"):
        (tmp_path / template.name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    policies = tmp_path / "execution-policies.yaml"
    scoped = """              StringEquals: {aws:ResourceTag/environment: !Ref Environment}
          - Sid: ReadEventSourceMappings"""
    assert scoped in policies.read_text(encoding="utf-8")
    policies.write_text(
        policies.read_text(encoding="utf-8").replace(scoped, "          - Sid: ReadEventSourceMappings"),
        encoding="utf-8",
    )
    accounts = bootstrap_accounts("shared", source=tmp_path)
    resources = prod_resources(accounts)
    dev_boundary = f"arn:aws:iam::{accounts['dev'].number}:policy/{APP}-pipeline-boundary-dev"
    [attempt] = [
        a for a in attempts(resources, dev_boundary) if a.description == "point prod's stream mapping at a dev function"
    ]
    succeeded = [
        actor.label
        for actor in dev_actors(accounts)
        if all(
            _may(actor.account, actor.role, c.action, c.resource, c.context, accounts[c.owner].number)
            for c in attempt.calls
        )
    ]
    assert succeeded, "the attempt no longer catches a mapping scoped by its function alone"


def test_the_object_lock_attempt_bites_on_object_lock_granted_on_every_bucket_of_the_environment(
    tmp_path: Path,
) -> None:
    """The execution policy before Object Lock was scoped to the audit trail's bucket: granted on every
    bucket named <app>-<env>-*, so prod's own execution role could lock the canary's bucket for good."""
    from tests.deploy.bootstrap_model import APP, BOOTSTRAP_DIR, bootstrap_accounts
    from tests.deploy.test_escalation import _may, own_audit_trail_attempts, prod_resources

    for template in BOOTSTRAP_DIR.glob("*.yaml"):
        (tmp_path / template.name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    policies = tmp_path / "execution-policies.yaml"
    scoped = "s3:::${ApplicationName}-${Environment}-audit-*"
    assert scoped in policies.read_text(encoding="utf-8")
    policies.write_text(
        policies.read_text(encoding="utf-8").replace(scoped, "s3:::${ApplicationName}-${Environment}-*"),
        encoding="utf-8",
    )
    accounts = bootstrap_accounts("per-environment", source=tmp_path)
    prod = accounts["prod"]
    role = prod.role(f"{APP}-cfn-exec-prod")
    [attempt] = [
        a
        for a in own_audit_trail_attempts(prod_resources(accounts))
        if a.description == "lock another bucket of its stack with Object Lock"
    ]
    assert all(_may(prod, role, c.action, c.resource, c.context) for c in attempt.calls), (
        "the attempt no longer catches Object Lock granted on every bucket of the environment"
    )
