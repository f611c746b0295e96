"""The AWS Backup project rules of cfn-lint (tools/cfn_lint_rules/backup_*.py): each fails its broken
fixture and only that rule fires; infra/stacks/backup.yaml breaks neither. cfn-lint runs as
``make check-infra`` runs it (``--append-rules``, repository root on PYTHONPATH)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.infra, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
RULES = PROJECT_ROOT / "tools" / "cfn_lint_rules"

FIXTURES = {
    # A plan name built from a stack name keeps its hyphens; a validation window over a week.
    "E9110": """
Parameters:
  RootStackName: {Type: String}
  ValidationWindowHours: {Type: Number, MinValue: 1, MaxValue: 240, Default: 4}
Resources:
  Plan:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: !Sub ${RootStackName}_movies
      ScheduleExpression: cron(0 6 ? * * *)
      RecoveryPointSelection: {Algorithm: LATEST_WITHIN_WINDOW, IncludeVaults: ["*"], RecoveryPointTypes: [SNAPSHOT]}
  Selection:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Plan
      RestoreTestingSelectionName: movies_table
      ProtectedResourceType: DynamoDB
      ProtectedResourceArns: ["*"]
      IamRoleArn: arn:aws:iam::111122223333:role/restore
      ValidationWindowHours: !Ref ValidationWindowHours
""",
    # A lock changeable for 1 day only, and backups kept shorter than the lock's minimum.
    "E9111": """
Parameters:
  RetentionDays: {Type: Number, Default: 7}
Resources:
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: movies
      LockConfiguration: {MinRetentionDays: 35, MaxRetentionDays: 3650, ChangeableForDays: 1}
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: movies
        BackupPlanRule:
          - {RuleName: daily, TargetBackupVault: !Ref Vault, Lifecycle: {DeleteAfterDays: !Ref RetentionDays}}
""",
}


def lint(paths: list[Path]) -> dict[str, list[str]]:
    """File name -> the project-rule findings (E91xx/W91xx) on it."""
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", "--append-rules", str(RULES), "--", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        cwd=PROJECT_ROOT,
    )
    assert "E0002" not in result.stdout, result.stdout[-3000:]  # a rule that crashed
    found: dict[str, list[str]] = {path.name: [] for path in paths}
    for line in result.stdout.splitlines():
        match = re.match(r"^(?P<file>[^:]+):\d+:\d+:\d+:\d+:(?P<rule>[EW]91\d\d):(?P<message>.*)$", line)
        if match:
            found[Path(match["file"]).name].append(f"{match['rule']}: {match['message']}")
    return found


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    directory = tmp_path_factory.mktemp("backup-rule-fixtures")
    paths = []
    for rule, body in FIXTURES.items():
        path = directory / f"{rule}.yaml"
        path.write_text('AWSTemplateFormatVersion: "2010-09-09"\n' + body, encoding="utf-8")
        paths.append(path)
    return lint([*paths, PROJECT_ROOT / "infra" / "stacks" / "backup.yaml"])


def test_a_plan_name_with_the_stack_names_hyphens_and_a_long_window_are_caught(findings: dict[str, list[str]]) -> None:
    messages = findings["E9110.yaml"]
    assert {m.split(":")[0] for m in messages} == {"E9110"}
    assert any("'stack-name_movies'" in m for m in messages)
    assert any("ValidationWindowHours can be 1 to 240" in m for m in messages)


def test_a_short_lock_and_backups_the_lock_would_refuse_are_caught(findings: dict[str, list[str]]) -> None:
    messages = findings["E9111.yaml"]
    assert {m.split(":")[0] for m in messages} == {"E9111"}
    assert any("ChangeableForDays can be 1" in m for m in messages)
    assert any("backups kept 7 days, outside Vault's lock (35 to 3650)" in m for m in messages)


def test_the_backup_stack_breaks_no_project_rule(findings: dict[str, list[str]]) -> None:
    assert findings["backup.yaml"] == []
