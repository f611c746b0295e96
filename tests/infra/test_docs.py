"""The deployment and operations docs say what the templates do: every name, count and command.

docs/deploy.md and docs/operations.md name log groups, saved queries, the dashboard, alarms,
outputs and parameters, count alarms, price every billable resource, state the quota each
environment needs and the regions the stack can go to. Each of those is recomputed here from
the templates (the whole application, nested stacks linked in) and infra/samconfig.toml, and
every shell command the two documents give is checked by tests/infra/doc_commands.py.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template
from tests.infra.doc_commands import problems
from tools.deploy.deploy_parameters import ACCOUNT_PARAMETERS

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "docs" / "deploy.md"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
ENVIRONMENTS = ("dev", "staging", "prod")
STACK_NAME_VARIABLES = ("${RootStackName}", "${AWS::StackName}")
# Resource types that cost nothing by themselves (their use is priced under another line).
FREE_TYPES = {
    "AWS::IAM::Role", "AWS::Lambda::Permission", "AWS::Lambda::Version", "AWS::Lambda::Alias",
    "AWS::Lambda::CodeSigningConfig", "AWS::KMS::Alias", "AWS::Logs::QueryDefinition", "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolResourceServer", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration",
    "AWS::S3::BucketPolicy", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::CodeDeploy::Application",
    "AWS::SQS::QueuePolicy", "AWS::Lambda::EventSourceMapping", "AWS::IAM::RolePolicy",
    # AWS Backup bills storage and restores (the vault's line), not plans or selections; EventBridge
    # delivers AWS services' events on the default bus at no charge.
    "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection", "AWS::Backup::RestoreTestingSelection",
    "AWS::Events::Rule", "AWS::Logs::ResourcePolicy",
}  # fmt: skip
# Billable resource type -> the phrase its line of the cost table starts with.
PRICED = {
    "AWS::ApiGateway::RestApi": "API Gateway REST API",
    "AWS::Lambda::Function": "Lambda (arm64)",
    "AWS::DynamoDB::Table": "DynamoDB on-demand",
    "AWS::WAFv2::WebACL": "WAF",
    "AWS::KMS::Key": "KMS",
    "AWS::Cognito::UserPoolClient": "Cognito (machine-to-machine)",
    "AWS::CloudWatch::Alarm": "CloudWatch alarms",
    "AWS::CloudWatch::CompositeAlarm": "CloudWatch alarms",
    "AWS::CloudWatch::Dashboard": "CloudWatch dashboard",
    "AWS::Logs::LogGroup": "CloudWatch Logs",
    "AWS::Synthetics::Canary": "CloudWatch Synthetics",
    "AWS::S3::Bucket": "S3",
    "AWS::SNS::Topic": "SNS",
    "AWS::SecretsManager::Secret": "Secrets Manager",
    "AWS::SQS::Queue": "SQS",
    "AWS::Backup::BackupVault": "AWS Backup (DynamoDB)",
    "AWS::Backup::RestoreTestingPlan": "AWS Backup (DynamoDB)",
    "AWS::Signer::SigningProfile": "AWS Signer, CodeDeploy (Lambda), CloudFormation",
    "AWS::CodeDeploy::DeploymentGroup": "AWS Signer, CodeDeploy (Lambda), CloudFormation",
}


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def _overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((PROJECT_ROOT / "infra" / "samconfig.toml").read_text())
    return dict(
        pair.split("=", 1) for pair in shlex.split(config[environment]["deploy"]["parameters"]["parameter_overrides"])
    )


def _deployed(template: Template, environment: str) -> Template:
    return template.with_parameters(**_overrides(environment))


def _stack_relative(name: Any) -> str | None:
    """A resource name built from the stack's name, with the stack written <stack> (and a resource's Id <id>)."""
    text = name.get("Fn::Sub") if isinstance(name, dict) else name
    if not isinstance(text, str):
        return None
    for variable in STACK_NAME_VARIABLES:
        text = text.replace(variable, "<stack>")
    text = re.sub(r"\$\{\w+\.Id\}", "<id>", text)
    return text if "${" not in text else None


def _names(template: Template, resource_type: str, property_name: str) -> set[str]:
    found = {_stack_relative(r["Properties"].get(property_name)) for r in template.of_type(resource_type).values()}
    return {name for name in found if name}


# -- names -------------------------------------------------------------------------------------


def _unknown_log_groups(text: str, template: Template) -> set[str]:
    named = set(re.findall(r"`((?:/aws/|aws-waf-logs-)[^`]*)`", text))
    return named - _names(template, "AWS::Logs::LogGroup", "LogGroupName")


def _saved_queries(text: str) -> set[str]:
    return set(re.findall(r"`(<stack>/[a-z-]+)`", text))


def test_every_log_group_the_docs_name_exists(template: Template) -> None:
    assert "/aws/lambda/<stack>/movies" in _names(template, "AWS::Logs::LogGroup", "LogGroupName")
    for doc in (DEPLOY, OPERATIONS):
        assert _unknown_log_groups(doc.read_text(), template) == set(), doc.name


def test_every_saved_query_the_docs_name_exists_and_operations_names_them_all(template: Template) -> None:
    assert _saved_queries(OPERATIONS.read_text()) == _names(template, "AWS::Logs::QueryDefinition", "Name")


def test_the_names_the_review_found_wrong_fail_these_checks(template: Template) -> None:
    # What the runbook said before: log groups and a query name the stack never creates.
    old = "query *RequestByCorrelationId* (`/aws/lambda/<stack>-movies`), `/aws/apigateway/<stack>-access`"
    assert _unknown_log_groups(old, template) == {"/aws/lambda/<stack>-movies", "/aws/apigateway/<stack>-access"}
    assert not _saved_queries(old) & _names(template, "AWS::Logs::QueryDefinition", "Name")


def test_the_dashboards_the_docs_name_exist(template: Template) -> None:
    dashboards = _names(template, "AWS::CloudWatch::Dashboard", "DashboardName")
    assert len(dashboards) == 3  # operations, search index, audit trail
    for dashboard in dashboards:
        assert f"`{dashboard}`" in OPERATIONS.read_text()


def test_every_alarm_the_docs_name_exists(template: Template) -> None:
    alarms = {
        name
        for name, r in template.resources.items()
        if r["Type"].startswith("AWS::CloudWatch::") and "Alarm" in r["Type"]
    }
    for doc in (DEPLOY, OPERATIONS):
        named = set(re.findall(r"`([A-Z]\w+Alarm)`", doc.read_text())) | set(
            re.findall(r"^### (\w+)", doc.read_text(), re.M)
        )
        assert named <= alarms, (doc.name, named - alarms)


def test_every_resource_the_deploy_docs_list_exists(template: Template, written_templates: dict[str, Template]) -> None:
    table = _section(DEPLOY.read_text(), "## What gets created")
    named = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z]+)+)`", table))
    root = written_templates["root"].document
    known = set(template.resources) | set(written_templates) | set(root["Outputs"]) | set(root["Parameters"])
    known |= {r for t in written_templates.values() for r in t.resources}
    assert named <= known, named - known


def test_the_deploy_docs_list_exactly_the_stack_outputs(sam_document: dict[str, Any]) -> None:
    paragraph = DEPLOY.read_text().split("Stack outputs:", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([A-Z]\w+)`", paragraph))
    assert listed == set(sam_document["Outputs"])


def test_the_parameter_table_matches_samconfig_and_the_template(sam_document: dict[str, Any]) -> None:
    rows = re.findall(r"^ *\| `(\w+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", DEPLOY.read_text(), flags=re.M)
    assert rows
    for name, *values in rows:
        assert name in sam_document["Parameters"], name
        if name in _overrides("dev"):
            assert [v.strip() for v in values] == [_overrides(env)[name] for env in ENVIRONMENTS], name
    assert {row[0] for row in rows} >= set(_overrides("prod"))


def test_the_account_variables_the_docs_give_are_the_ones_the_deploy_reads() -> None:
    mapping = dict(re.findall(r"^   - `([A-Z_]+)` → `(\w+)`", DEPLOY.read_text(), flags=re.M))
    assert mapping == {variable: parameter for parameter, variable in ACCOUNT_PARAMETERS.items()}


# -- numbers -------------------------------------------------------------------------------------


def test_the_quota_table_is_the_reservation_plus_the_hook_plus_the_100_lambda_keeps(
    sam_document: dict[str, Any],
) -> None:
    from tools.cfn_lint_rules.reserved_concurrency import required_quota

    rows = dict(
        (env, (int(reserved), int(with_hook), int(quota)))
        for env, reserved, with_hook, quota in re.findall(
            r"^   \| (dev|staging|prod) \| (\d+) \| (\d+) \| (\d+) \|", DEPLOY.read_text(), re.M
        )
    )
    for environment in ENVIRONMENTS:
        needed = required_quota(sam_document, _overrides(environment))
        reserved = int(_overrides(environment)["ReservedConcurrency"])
        assert rows[environment] == (reserved, needed - 100, needed), environment
    assert rows["prod"][2] == 201  # the figure the old page got wrong ("10 units left")


def test_the_alarm_counts_per_environment_are_the_templates(template: Template) -> None:
    rows = {
        env: tuple(map(int, counts))
        for env, *counts in re.findall(
            r"^\| (dev|staging|prod) \| (\d+) \| (\d+) \| (\d+) \|", DEPLOY.read_text(), re.M
        )
    }
    for environment in ENVIRONMENTS:
        deployed = _deployed(template, environment)
        alarms = [n for n, r in deployed.of_type("AWS::CloudWatch::Alarm").items() if deployed.exists(n)]
        metrics = sum(
            1
            if "MetricName" in deployed.properties(n)
            else sum("MetricStat" in m for m in deployed.properties(n)["Metrics"])
            for n in alarms
        )
        composites = [n for n in deployed.of_type("AWS::CloudWatch::CompositeAlarm") if deployed.exists(n)]
        assert rows[environment] == (len(alarms), metrics, len(composites)), environment


def test_every_billable_resource_has_a_line_in_the_cost_table(template: Template) -> None:
    costs = _section(DEPLOY.read_text(), "## What it costs")
    lines = [line for line in costs.splitlines() if line.startswith("| ")]
    types = {r["Type"] for r in template.resources.values()}
    undecided = types - FREE_TYPES - set(PRICED)
    assert not undecided, f"price these or declare them free: {sorted(undecided)}"
    for resource_type in types & set(PRICED):
        pattern = re.compile(rf"^\| {re.escape(PRICED[resource_type])}( \(| \|)")
        assert any(pattern.match(line) for line in lines), resource_type
    # What a property switches on is billed too: SnapStart outside dev, X-Ray tracing everywhere.
    assert any(line.startswith("| Lambda SnapStart") for line in lines)
    assert any(line.startswith("| X-Ray |") for line in lines)


def test_the_cost_table_counts_keys_rules_clients_composites_and_log_groups(template: Template) -> None:
    costs = _section(DEPLOY.read_text(), "## What it costs")
    rules = len(template.properties("MoviesWebAcl")["Rules"])
    assert f"customer managed keys ({len(template.of_type('AWS::KMS::Key'))}:" in costs
    assert f"rules ({rules})" in costs
    assert f"app clients ({len(template.of_type('AWS::Cognito::UserPoolClient'))})" in costs
    assert f"composite alarms ({len(template.of_type('AWS::CloudWatch::CompositeAlarm'))})" in costs
    assert f"({len(template.of_type('AWS::Logs::LogGroup'))} log groups)" in costs


def test_the_regions_listed_are_those_where_every_resource_type_exists(template: Template) -> None:
    from cfnlint.helpers import REGIONS
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    types = {r["Type"] for r in template.resources.values()}

    def offers(region: str, resource_type: str) -> bool:
        try:
            PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type)
        except Exception:  # cfn-lint raises its own ResourceNotFoundError
            return False
        return True

    commercial = [r for r in REGIONS if not r.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe", "eusc-"))]
    deployable = {region for region in commercial if all(offers(region, t) for t in types)}
    paragraph = DEPLOY.read_text().split("**Regions.**", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z]{2}-[a-z]+-\d)`", paragraph))
    assert listed == deployable


# -- commands --------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [DEPLOY, OPERATIONS], ids=lambda p: p.name)
def test_every_command_the_document_gives_checks_out(document: Path) -> None:
    assert [str(problem) for problem in problems(document)] == []


def test_the_command_checker_fails_a_document_with_broken_commands(tmp_path: Path) -> None:
    oversized = tmp_path / "oversized.yaml"
    oversized.write_text("# " + "x" * 52_000 + "\n")
    broken = tmp_path / "broken.md"
    broken.write_text(
        "```bash\n"
        "make deploy ENV=dev TYPO_VARIABLE=1\n"
        "make no-such-target\n"
        "aws cloudformation describe-stacks --stack-nam mvdb-dev\n"
        "aws lambda get-functoin --function-name f\n"
        f"aws cloudformation deploy --stack-name x --template-file {oversized}\n"
        "aws cloudformation deploy --stack-name x --template-file infra/no-such-template.yaml\n"
        "rm -rf build\n"
        "```\n"
        "Then `.venv/bin/mvdb load --tabel movies`.\n"
    )

    messages = [problem.message for problem in problems(broken)]

    assert messages == [
        "the Makefile reads no variable TYPO_VARIABLE",
        "the Makefile has no target no-such-target",
        "aws cloudformation describe-stacks has no option --stack-nam",
        "botocore has no operation lambda get-functoin",
        messages[4],
        "infra/no-such-template.yaml does not exist",
        "rm is not a command this checker knows; teach it, or run the command in a test",
        "the mvdb CLI refuses these arguments",
    ]
    assert "must come from S3 (--s3-bucket)" in messages[4]


def test_the_command_checker_fails_a_make_command_without_a_variable_its_recipe_guards(tmp_path: Path) -> None:
    # The two lines the review found in docs/deploy.md: each would stop at a guard of its target.
    broken = tmp_path / "broken.md"
    broken.write_text(
        "```bash\n"
        "make deploy ENV=prod SIGNING_PROFILE_NAME=<prod profile> SAM_DEPLOY_ARGS=--confirm-changeset\n"
        "make deploy-artifact ENV=prod ARTIFACTS_BUCKET=<bucket> CFN_EXECUTION_ROLE_ARN=<prod execution role ARN>\n"
        "export ARTIFACTS_KEY_ARN=<key> PERMISSIONS_BOUNDARY_ARN=<boundary>\n"
        "make deploy-artifact ENV=prod ARTIFACTS_BUCKET=<bucket> CFN_EXECUTION_ROLE_ARN=<role>\n"
        "make deploy ENV=dev\n"
        "```\n"
    )

    messages = [problem.message for problem in problems(broken)]

    assert messages == [
        "make deploy refuses to run without TRUSTED_SIGNING_PROFILE_VERSION_ARN when ENV=prod (its recipe's guard)",
        "make deploy-artifact refuses to run without ARTIFACTS_KEY_ARN (its recipe's guard)",
        "make deploy-artifact refuses to run without TRUSTED_SIGNING_PROFILE_VERSION_ARN when ENV=prod"
        " (its recipe's guard)",
    ]
