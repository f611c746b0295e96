"""infra/stacks/backup.yaml: the backup plan, the vault and its lock, the restore testing plan, who
may do what, and the alarms that say when a backup, a restore test or its validation fails.

Read as CloudFormation sees the nested template (``tests.infra.cfn.Template``, parameters resolved
per environment). The values the validation function relies on (metric names, the restored tables'
names) come from its module, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mvdb.verification.restore_validation import FAILED_METRIC, REPORTED_METRIC, RESTORE_TABLE_PREFIX
from tests.infra.cfn import NO_VALUE, Template, as_list, get_att, ref
from tools.cfn_lint_rules.backup_restore_testing import evaluate

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BACKUP_STACK = PROJECT_ROOT / "infra" / "stacks" / "backup.yaml"
RUNBOOK = PROJECT_ROOT / "docs" / "operations.md"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/mvdb-prod-movies"
# What the root stack passes (parameters without a default), as a prod deploy would.
ROOT_STACK = {
    "RootStackName": "mvdb-prod",
    "Environment": "prod",
    "TableArn": TABLE_ARN,
    "TableKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
# Actions AWS offers no resource-level permission for (Service Authorization Reference).
ACTIONS_WITHOUT_RESOURCE_SCOPE = {
    "backup:DescribeRestoreJob",
    "backup:PutRestoreValidationResult",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
RESTORED_TABLES = {
    "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${RootStackName}-restored-*"
}
RESTORE_TEST_TABLES = {
    "Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{RESTORE_TABLE_PREFIX}*"
}


@pytest.fixture(scope="module")
def stack() -> Template:
    from samtranslator.yaml_helper import yaml_parse

    return Template(yaml_parse(BACKUP_STACK.read_text(encoding="utf-8")), ROOT_STACK)


def statements(stack: Template, role: str) -> list[dict[str, Any]]:
    return [statement for name, _, statement in stack.policy_statements() if name == role]


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


# -- the vault and its lock --------------------------------------------------------------------


def test_prod_locks_the_vault_in_compliance_mode(stack: Template) -> None:
    lock = stack.resolve(stack.properties("MoviesBackupVault")["LockConfiguration"])
    assert set(lock) == {"MinRetentionDays", "MaxRetentionDays", "ChangeableForDays"}  # ChangeableForDays: compliance
    assert stack.document["Parameters"]["VaultLockChangeableForDays"]["MinValue"] >= 3


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_other_environments_leave_the_vault_unlocked(stack: Template, environment: str) -> None:
    vault = stack.with_parameters(Environment=environment).resolve(stack.properties("MoviesBackupVault"))
    assert "LockConfiguration" not in vault


def test_the_default_retention_lies_within_the_default_lock(stack: Template) -> None:
    days = stack.parameters["BackupRetentionDays"]
    assert stack.parameters["VaultLockMinRetentionDays"] <= days <= stack.parameters["VaultLockMaxRetentionDays"]


def test_the_vault_and_its_key_outlive_the_stack(stack: Template) -> None:
    for name in ("MoviesBackupVault", "BackupVaultKey"):
        assert stack.resource(name)["DeletionPolicy"] == "Retain", name
        assert stack.resource(name)["UpdateReplacePolicy"] == "Retain", name


def test_the_vault_key_serves_only_aws_backup_in_this_account(stack: Template) -> None:
    data = [s for s in stack.properties("BackupVaultKey")["KeyPolicy"]["Statement"] if "kms:Decrypt" in actions(s)]
    assert len(data) == 1
    conditions = data[0]["Condition"]["StringEquals"]
    assert conditions == {
        "kms:ViaService": {"Fn::Sub": "backup.${AWS::Region}.amazonaws.com"},
        "kms:CallerAccount": ref("AWS::AccountId"),
    }


# -- backing up ------------------------------------------------------------------------------------


def test_the_plan_backs_up_the_table_daily_into_the_vault(stack: Template) -> None:
    (rule,) = stack.properties("MoviesBackupPlan")["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == ref("MoviesBackupVault")
    assert rule["Lifecycle"] == {"DeleteAfterDays": ref("BackupRetentionDays")}
    assert stack.properties("MoviesBackupSelection")["BackupSelection"]["Resources"] == [ref("TableArn")]


def test_a_copy_goes_to_the_second_vault_only_when_one_is_named(stack: Template) -> None:
    def copies(template: Template) -> Any:
        plan = template.resolve(stack.properties("MoviesBackupPlan"))
        return plan["BackupPlan"]["BackupPlanRule"][0].get("CopyActions")

    second = "arn:aws:backup:eu-west-1:210987654321:backup-vault:mvdb-prod-copies"
    assert copies(stack) is None
    assert copies(stack.with_parameters(CopyDestinationVaultArn=second)) == [
        {"DestinationBackupVaultArn": second, "Lifecycle": {"DeleteAfterDays": 35}}
    ]
    assert not stack.exists("BackupCopyJobFailedAlarm")
    assert stack.with_parameters(CopyDestinationVaultArn=second).exists("BackupCopyJobFailedAlarm")


# -- restore testing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["mvdb-dev", "mvdb-staging", "mvdb-prod", "payments-movies-prod"])
def test_the_restore_testing_plan_name_is_one_aws_backup_accepts(stack: Template, root: str) -> None:
    expression = stack.properties("MoviesRestoreTestingPlan")["RestoreTestingPlanName"]
    assert expression == {
        "Fn::Join": ["_", [{"Fn::Join": ["_", {"Fn::Split": ["-", ref("RootStackName")]}]}, "movies"]]
    }
    name = evaluate(expression, {"RootStackName": {"Type": "String", "Default": root}})
    assert name == root.replace("-", "_") + "_movies"
    assert re.fullmatch(r"[A-Za-z0-9_]{1,50}", name)


def test_restore_tests_take_the_newest_backup_of_this_vault(stack: Template) -> None:
    selection = stack.properties("MoviesRestoreTestingPlan")["RecoveryPointSelection"]
    assert selection["IncludeVaults"] == [get_att("MoviesBackupVault", "BackupVaultArn")]
    assert selection["Algorithm"] == "LATEST_WITHIN_WINDOW"
    # AWS Backup makes no continuous backups of DynamoDB: CONTINUOUS would never find one.
    assert selection["RecoveryPointTypes"] == ["SNAPSHOT"]


def test_restored_copies_are_encrypted_with_the_tables_own_key(stack: Template) -> None:
    overrides = stack.properties("MoviesRestoreTestingSelection")["RestoreMetadataOverrides"]
    assert overrides == {"encryptionType": "KMS", "kmsMasterKeyArn": ref("TableKeyArn")}


# -- who may do what ----------------------------------------------------------------------------


def test_every_role_carries_the_permissions_boundary(stack: Template) -> None:
    for name in stack.of_type("AWS::IAM::Role"):
        boundary = stack.properties(name)["PermissionsBoundary"]
        assert boundary == {"Fn::If": ["HasPermissionsBoundary", ref("PermissionsBoundaryArn"), ref("AWS::NoValue")]}
        assert stack.with_parameters(PermissionsBoundaryArn="").resolve(boundary) is NO_VALUE


def test_no_statement_grants_a_wildcard_action(stack: Template) -> None:
    for name, kind, statement in stack.policy_statements():
        assert "NotAction" not in statement, (name, kind)
        assert not any("*" in action for action in actions(statement)), (name, statement.get("Sid"))


def test_wildcard_resources_only_where_aws_offers_nothing_narrower(stack: Template) -> None:
    for name, kind, statement in stack.policy_statements():
        if kind == "key policy":
            continue  # there, Resource "*" is the key itself
        if "*" in as_list(statement["Resource"]):
            assert actions(statement) <= ACTIONS_WITHOUT_RESOURCE_SCOPE, (name, statement.get("Sid"))


def test_the_validation_function_reads_restored_copies_and_never_the_live_table(stack: Template) -> None:
    dynamodb = [s for s in statements(stack, "RestoreValidationFunctionRole") if "dynamodb:Scan" in actions(s)]
    assert len(dynamodb) == 1
    assert actions(dynamodb[0]) == {"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
    assert as_list(dynamodb[0]["Resource"]) == [RESTORE_TEST_TABLES]
    for statement in statements(stack, "RestoreValidationFunctionRole"):
        assert TABLE_ARN not in as_list(statement["Resource"])


def test_the_restore_role_writes_only_new_tables(stack: Template) -> None:
    for statement in statements(stack, "RestoreRole"):
        if any(action.startswith("dynamodb:") for action in actions(statement)):
            assert as_list(statement["Resource"]) == [RESTORE_TEST_TABLES, RESTORED_TABLES]


def test_the_backup_role_reads_only_the_table_and_never_writes_it(stack: Template) -> None:
    dynamodb = [s for s in statements(stack, "BackupRole") if any(a.startswith("dynamodb:") for a in actions(s))]
    assert [actions(s) for s in dynamodb] == [
        {"dynamodb:DescribeTable", "dynamodb:ListTagsOfResource", "dynamodb:StartAwsBackupJob"}
    ]
    assert as_list(dynamodb[0]["Resource"]) == [TABLE_ARN]


def test_aws_backup_assumes_its_roles_for_this_account_only(stack: Template) -> None:
    for name in ("BackupRole", "RestoreRole"):
        (trust,) = stack.properties(name)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "backup.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}


def test_eventbridge_writes_failed_job_events_through_the_accounts_policy_for_this_application_only() -> None:
    from samtranslator.yaml_helper import yaml_parse

    account = yaml_parse((PROJECT_ROOT / "infra" / "bootstrap" / "account.yaml").read_text(encoding="utf-8"))
    policy = account["Resources"]["EventBridgeEventLogsPolicy"]["Properties"]["PolicyDocument"]["Fn::Sub"]
    (statement,) = json.loads(policy)["Statement"]
    assert statement["Principal"] == {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
    assert statement["Resource"].endswith(":log-group:/aws/events/${ApplicationName}-*:*")
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}}


def test_the_backup_stack_writes_no_logs_resource_policy(stack: Template) -> None:
    assert stack.of_type("AWS::Logs::ResourcePolicy") == {}


# -- signals ---------------------------------------------------------------------------------------------


VALIDATION_FUNCTION_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
    ":function:${RootStackName}-restore-validation"
}


def test_the_completed_restore_rule_invokes_the_validation_function(stack: Template) -> None:
    targets = stack.properties("RestoreJobCompletedRule")["Targets"]
    assert [target["Arn"] for target in targets] == [VALIDATION_FUNCTION_ARN]


def test_the_root_names_its_validation_function_as_this_stack_invokes_it() -> None:
    from samtranslator.yaml_helper import yaml_parse

    root = yaml_parse((PROJECT_ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))
    function = root["Resources"]["RestoreValidationFunction"]["Properties"]
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-restore-validation"}
    assert root["Resources"]["Backup"]["Properties"]["Parameters"]["RootStackName"] == ref("AWS::StackName")
    assert function["Role"] == get_att("Backup", "Outputs.RestoreValidationFunctionRoleArn")
    # Its alarms count the metrics it writes: same namespace, same environment dimension.
    namespace = yaml_parse(BACKUP_STACK.read_text(encoding="utf-8"))["Parameters"]["MetricsNamespace"]["Default"]
    assert function["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == namespace
    assert function["Environment"]["Variables"]["ENVIRONMENT"] == ref("Environment")


def test_every_alarm_notifies_the_topic_and_links_its_runbook_section(stack: Template) -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    alarms = stack.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 7
    for name in alarms:
        properties = stack.properties(name)
        assert properties["AlarmActions"] == [ref("AlarmTopicArn")], name
        assert f"/docs/operations.md#{name.lower()}" in json.dumps(properties["AlarmDescription"]), name
        assert f"\n### {name}\n" in runbook, f"docs/operations.md has no section for {name}"


def test_the_validation_alarms_watch_the_metrics_the_function_writes(stack: Template) -> None:
    failed = stack.properties("RestoreValidationFailedAlarm")
    silent = stack.properties("RestoreValidationNotReportedAlarm")
    assert (failed["MetricName"], silent["MetricName"]) == (FAILED_METRIC, REPORTED_METRIC)
    for alarm in (failed, silent):
        assert alarm["Namespace"] == ref("MetricsNamespace")
        assert alarm["Dimensions"] == [{"Name": "environment", "Value": ref("Environment")}]


def test_a_silent_drill_is_a_failure(stack: Template) -> None:
    silent = stack.properties("RestoreValidationNotReportedAlarm")
    assert silent["TreatMissingData"] == "breaching"
    assert (silent["ComparisonOperator"], silent["Threshold"]) == ("LessThanThreshold", 1)
    longest = stack.document["Parameters"]["RestoreValidationMaxSilenceDays"]["MaxValue"]
    assert silent["Period"] * longest <= 7 * 86400  # a week of silence at most, whatever the parameter says


def test_the_failed_job_alarms_count_their_rules_matches(stack: Template) -> None:
    for alarm, rule in {
        "BackupJobFailedAlarm": "BackupJobFailedRule",
        "BackupCopyJobFailedAlarm": "BackupCopyJobFailedRule",
        "RestoreTestJobFailedAlarm": "RestoreJobFailedRule",
    }.items():
        properties = stack.properties(alarm)
        assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Events", "TriggeredRules")
        assert properties["Dimensions"] == [{"Name": "RuleName", "Value": ref(rule)}]
        targets = stack.properties(rule)["Targets"]
        assert [t["Arn"] for t in targets] == [get_att("BackupJobEventsLogGroup", "Arn")]  # the events are kept


# -- the rules against AWS Backup's events ----------------------------------------------------------------
# Shaped as "Monitoring AWS Backup events using Amazon EventBridge" (AWS Backup developer guide) shows
# them, with the values a DynamoDB table with advanced backup carries (resourceType
# DynamoDB.FullyManaged, not the API's DynamoDB; restoreTestingPlanArn for a restore test).
EVENTS = PROJECT_ROOT / "tests" / "events" / "aws"


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the parts these rules use: exact values, and {"prefix": ...}."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(key in event and matches(p, event[key]) for key, p in pattern.items())
    return any(
        event.startswith(option["prefix"]) if isinstance(option, dict) else event == option
        for option in pattern
        if isinstance(event, str)
    )


def event(name: str, **detail: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    document["detail"] |= detail
    return document


def pattern(stack: Template, rule: str) -> Any:
    return stack.resolve(stack.properties(rule)["EventPattern"])


def test_a_completed_restore_of_the_table_reaches_the_function_whatever_its_resource_type(stack: Template) -> None:
    rule = pattern(stack, "RestoreJobCompletedRule")
    assert matches(rule, event("backup_restore_job_completed"))
    assert matches(rule, event("backup_restore_job_completed", resourceType="DynamoDB"))
    assert not matches(rule, event("backup_restore_job_completed", status="RUNNING"))
    other_table = "arn:aws:dynamodb:us-east-1:111122223333:table/orders"
    assert not matches(rule, event("backup_restore_job_completed", sourceResourceArn=other_table))


def test_a_failed_restore_of_a_dynamodb_table_is_recorded(stack: Template) -> None:
    rule = pattern(stack, "RestoreJobFailedRule")
    assert matches(rule, event("backup_restore_job_failed"))
    assert matches(rule, event("backup_restore_job_failed", resourceType="DynamoDB", status="ABORTED"))
    assert not matches(rule, event("backup_restore_job_failed", resourceType="EBS"))


def test_a_failed_backup_of_the_table_is_recorded(stack: Template) -> None:
    rule = pattern(stack, "BackupJobFailedRule")
    assert matches(rule, event("backup_job_failed", resourceArn=TABLE_ARN))
    assert not matches(rule, event("backup_job_failed", resourceArn=TABLE_ARN, state="COMPLETED"))
    assert not matches(rule, event("backup_job_failed", resourceArn="arn:aws:dynamodb:us-east-1:1:table/orders"))


def test_the_pattern_matcher_of_these_tests_refuses_what_eventbridge_refuses() -> None:
    assert not matches({"detail": {"status": ["COMPLETED"]}}, {"detail": {}})
    assert not matches({"detail": {"resourceType": [{"prefix": "DynamoDB"}]}}, {"detail": {"resourceType": "EBS"}})
