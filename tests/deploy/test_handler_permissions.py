"""Every permission the resource handlers declare is granted to the execution roles, or waived with a reason.

Each resource type's registry schema (cfn-lint ships them) lists, per handler (create, read,
update, delete), the permissions the handler may call with the execution role. A missing one
is a deploy that fails halfway in a real account (e.g. tagging a code-signing config, reading
composite alarms back), which no schema lint sees. So for every resource type of every
application template (every template under infra/ but the bootstrap's, and every translation
under build/infra/, translated here when it is a SAM template, so a split into nested stacks is
covered), each declared permission must be granted to the execution role of every environment
or waived in infra/bootstrap/handler-permission-waivers.toml with a one-line reason. A waiver
may name the properties it depends on (``unless``): a template that starts using one of them
needs the grant instead.

Granted means IAM's verdict (tests/infra/iam_evaluation.py) on the permission's action. When
the action acts on the resource type itself (per the Service Authorization Reference), it is
asked about one such resource of the environment's stack, named and tagged as CloudFormation
would make it (``RESOURCE_OF``): so a grant on the wrong ARN (``lambda:TagResource`` on
functions but not on code-signing configs) fails. ``iam:PassRole`` is asked about the role the
type passes, to the service it passes it to, where ``PASSED_ROLE_OF`` knows them (a nested stack
passes the execution role itself to CloudFormation). Otherwise (``iam:PassRole`` of a type not
listed there, ``kms:*`` of a table, ``ec2:Describe*``) an Allow naming the action must exist,
and no unconditional Deny on every resource may take it away. Which resources exist follows
each environment's parameters (infra/samconfig.toml plus what the pipeline passes: a resource
the prod stack never creates needs no permission in prod), and for a nested template the
parameters its parent passes it. What a service does with the caller's credentials beyond the
handlers' lists (Secrets Manager using the secret's KMS key) is in ``THROUGH_A_SERVICE_OF``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.bootstrap_model import APP, ENVIRONMENTS, REGION, Account, Role, bootstrap_accounts
from tests.infra.cfn import Template
from tests.infra.iam_evaluation import Decision, wildcard_match
from tools.build.sam_translate import OFFLINE_PARAMETERS, load_sam_template, translate
from tools.deploy.deploy_parameters import overrides

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAIVERS = PROJECT_ROOT / "infra" / "bootstrap" / "handler-permission-waivers.toml"
HANDLERS = ("create", "read", "update", "delete")
SCHEMA_REGION = "us-east-1"


def application_templates(root: Path = PROJECT_ROOT) -> dict[str, dict[str, Any]]:
    """Every application template and translation under infra/ and build/infra/, as CloudFormation sees it."""
    paths = [
        p
        for p in sorted((root / "infra").rglob("*"))
        if p.suffix in (".yaml", ".yml", ".json") and "bootstrap" not in p.relative_to(root / "infra").parts
    ] + sorted((root / "build" / "infra").rglob("*.json"))
    templates = {}
    for path in paths:
        document = load_sam_template(path)
        if "Resources" not in document:
            continue
        transforms = document.get("Transform", [])
        if "AWS::Serverless-2016-10-31" in (transforms if isinstance(transforms, list) else [transforms]):
            document = translate(document, parameter_values=OFFLINE_PARAMETERS)
        templates[str(path.relative_to(root))] = document
    return templates


@cache
def handler_permissions(resource_type: str) -> dict[str, set[str]]:
    """Permission -> the handlers (create, read, update, delete) that declare it."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    permissions: dict[str, set[str]] = defaultdict(set)
    for handler in HANDLERS:
        for permission in schema.get("handlers", {}).get(handler, {}).get("permissions", []):
            permissions[permission].add(handler)
    return dict(permissions)


# CloudFormation type -> the Service Authorization Reference's resource types it is, and one such
# resource of the stack <app>-<env> in account {a} and region {r}, named as CloudFormation names it
# (or several, where the stack names resources of the type in different ways: each must be granted).
GENERATED_ID = "0b9d5f3e-1c2a-4e7b-9a6d-3f8e2c1b0a97"  # a resource's Id, such as a canary's (Fn::GetAtt X.Id)
RESOURCE_OF: dict[str, tuple[frozenset[str], str | tuple[str, ...]]] = {
    "AWS::ApiGateway::RestApi": (frozenset({"RestApi"}), "arn:aws:apigateway:{r}::/restapis/a1b2c3d4e5"),
    "AWS::Backup::BackupVault": (frozenset({"backupVault"}), "arn:aws:backup:{r}:{a}:backup-vault:{stack}-movies"),
    # A plan's ARN ends in a generated ID; a selection is authorized on its plan.
    "AWS::Backup::BackupPlan": (
        frozenset({"backupPlan"}),
        "arn:aws:backup:{r}:{a}:backup-plan:0b1c2d3e-0000-4000-8000-000000000000",
    ),
    "AWS::Backup::BackupSelection": (
        frozenset({"backupPlan"}),
        "arn:aws:backup:{r}:{a}:backup-plan:0b1c2d3e-0000-4000-8000-000000000000",
    ),
    # A restore testing plan is named <stack>_movies, the stack name's hyphens as underscores.
    "AWS::Backup::RestoreTestingPlan": (
        frozenset({"restoreTestingPlan"}),
        "arn:aws:backup:{r}:{a}:restore-testing-plan:{stack_}_movies-0b1c2d3e",
    ),
    "AWS::Backup::RestoreTestingSelection": (
        frozenset({"restoreTestingPlan"}),
        "arn:aws:backup:{r}:{a}:restore-testing-plan:{stack_}_movies-0b1c2d3e",
    ),
    "AWS::Events::Rule": (
        frozenset({"rule-on-default-event-bus"}),
        "arn:aws:events:{r}:{a}:rule/{stack}-Backup-1A2B-RestoreJobCompletedRule-3C4D",
    ),
    "AWS::ApiGateway::Deployment": (
        frozenset({"Deployment"}),
        "arn:aws:apigateway:{r}::/restapis/a1b2c3d4e5/deployments/d1",
    ),
    "AWS::ApiGateway::Stage": (frozenset({"Stage"}), "arn:aws:apigateway:{r}::/restapis/a1b2c3d4e5/stages/{env}"),
    "AWS::CloudWatch::Alarm": (frozenset({"alarm"}), "arn:aws:cloudwatch:{r}:{a}:alarm:{stack}-Alarm-1A2B"),
    "AWS::CloudWatch::CompositeAlarm": (
        frozenset({"alarm"}),
        "arn:aws:cloudwatch:{r}:{a}:alarm:{stack}-Composite-1A2B",
    ),
    "AWS::CloudWatch::Dashboard": (frozenset({"dashboard"}), "arn:aws:cloudwatch::{a}:dashboard/{stack}-operations"),
    # A nested stack is named <root stack>-<logical id>-<suffix>.
    "AWS::CloudFormation::Stack": (
        frozenset({"stack"}),
        "arn:aws:cloudformation:{r}:{a}:stack/{stack}-Data-1A2B3C4D5E6F7/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
    ),
    "AWS::CodeDeploy::Application": (
        frozenset({"application"}),
        "arn:aws:codedeploy:{r}:{a}:application:{stack}-App-1A2B",
    ),
    "AWS::CodeDeploy::DeploymentGroup": (
        frozenset({"deploymentgroup"}),
        "arn:aws:codedeploy:{r}:{a}:deploymentgroup:{stack}-App-1A2B/{stack}-Group-1A2B",
    ),
    "AWS::Cognito::UserPool": (frozenset({"userpool"}), "arn:aws:cognito-idp:{r}:{a}:userpool/{r}_AbCdEf123"),
    "AWS::Cognito::UserPoolClient": (frozenset({"userpool"}), "arn:aws:cognito-idp:{r}:{a}:userpool/{r}_AbCdEf123"),
    "AWS::Cognito::UserPoolDomain": (frozenset({"userpool"}), "arn:aws:cognito-idp:{r}:{a}:userpool/{r}_AbCdEf123"),
    "AWS::Cognito::UserPoolResourceServer": (
        frozenset({"userpool"}),
        "arn:aws:cognito-idp:{r}:{a}:userpool/{r}_AbCdEf123",
    ),
    "AWS::DynamoDB::Table": (frozenset({"table"}), "arn:aws:dynamodb:{r}:{a}:table/{stack}-MoviesTable-1A2B"),
    "AWS::IAM::Role": (frozenset({"role"}), "arn:aws:iam::{a}:role/{stack}-FunctionRole-1A2B"),
    # An inline policy of a role of the stack (the audit stack gives the API function's role its read of the trail).
    "AWS::IAM::RolePolicy": (frozenset({"role"}), "arn:aws:iam::{a}:role/{stack}-Data-1A2B-MoviesFunctionRole-3C4D"),
    "AWS::KMS::Key": (frozenset({"key"}), "arn:aws:kms:{r}:{a}:key/0b1c2d3e-0000-4000-8000-000000000000"),
    "AWS::KMS::Alias": (frozenset({"alias"}), "arn:aws:kms:{r}:{a}:alias/{stack}/movies-table"),
    "AWS::Lambda::Function": (frozenset({"function"}), "arn:aws:lambda:{r}:{a}:function:{stack}-Function-1A2B"),
    "AWS::Lambda::Alias": (
        frozenset({"function", "function alias"}),
        "arn:aws:lambda:{r}:{a}:function:{stack}-Function-1A2B:live",
    ),
    "AWS::Lambda::Version": (
        frozenset({"function", "function version"}),
        "arn:aws:lambda:{r}:{a}:function:{stack}-Function-1A2B:7",
    ),
    "AWS::Lambda::Permission": (frozenset({"function"}), "arn:aws:lambda:{r}:{a}:function:{stack}-Function-1A2B"),
    "AWS::Lambda::EventSourceMapping": (
        frozenset({"eventSourceMapping"}),
        "arn:aws:lambda:{r}:{a}:event-source-mapping:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
    ),
    "AWS::Lambda::CodeSigningConfig": (
        frozenset({"code signing config"}),
        "arn:aws:lambda:{r}:{a}:code-signing-config:csc-0a1b2c3d4e5f67890",
    ),
    "AWS::Logs::LogGroup": (
        frozenset({"log-group"}),
        (
            "arn:aws:logs:{r}:{a}:log-group:/aws/lambda/{stack}/movies:*",
            "arn:aws:logs:{r}:{a}:log-group:/aws/apigateway/{stack}/access:*",
            "arn:aws:logs:{r}:{a}:log-group:aws-waf-logs-{stack}:*",
            # The canary's function's, which Lambda names cwsyn-<canary name>-<canary id>.
            "arn:aws:logs:{r}:{a}:log-group:/aws/lambda/cwsyn-{stack}-api-" + GENERATED_ID + ":*",
        ),
    ),
    "AWS::Logs::QueryDefinition": (frozenset(), ""),
    "AWS::Logs::ResourcePolicy": (frozenset(), ""),
    "AWS::S3::Bucket": (frozenset({"bucket"}), "arn:aws:s3:::{stack}-canaryartifactsbucket-1a2b"),
    "AWS::S3::BucketPolicy": (frozenset({"bucket"}), "arn:aws:s3:::{stack}-canaryartifactsbucket-1a2b"),
    "AWS::SQS::Queue": (
        frozenset({"queue"}),
        "arn:aws:sqs:{r}:{a}:{stack}-Search-1A2B-SearchIndexDeadLetterQueue-3C4D",
    ),
    "AWS::SQS::QueuePolicy": (
        frozenset({"queue"}),
        "arn:aws:sqs:{r}:{a}:{stack}-Search-1A2B-SearchIndexDeadLetterQueue-3C4D",
    ),
    "AWS::SNS::Topic": (frozenset({"topic"}), "arn:aws:sns:{r}:{a}:{stack}-alarms"),
    "AWS::SNS::Subscription": (frozenset({"topic"}), "arn:aws:sns:{r}:{a}:{stack}-alarms"),
    "AWS::SNS::TopicPolicy": (frozenset({"topic"}), "arn:aws:sns:{r}:{a}:{stack}-alarms"),
    # Secrets Manager appends a dash and six random characters to a secret's name.
    "AWS::SecretsManager::Secret": (
        frozenset({"Secret"}),
        "arn:aws:secretsmanager:{r}:{a}:secret:{stack}/canary-client-AbCdEf",
    ),
    "AWS::Signer::SigningProfile": (
        frozenset({"signing-profile"}),
        "arn:aws:signer:{r}:{a}:/signing-profiles/SigningProfile_a1b2",
    ),
    "AWS::Synthetics::Canary": (frozenset({"canary"}), "arn:aws:synthetics:{r}:{a}:canary:{stack}-api"),
    "AWS::WAFv2::WebACL": (frozenset({"webacl"}), "arn:aws:wafv2:{r}:{a}:regional/webacl/{stack}-movies/0b1c2d3e"),
    "AWS::WAFv2::LoggingConfiguration": (
        frozenset({"webacl"}),
        "arn:aws:wafv2:{r}:{a}:regional/webacl/{stack}-movies/0b1c2d3e",
    ),
    "AWS::WAFv2::WebACLAssociation": (
        frozenset({"webacl"}),
        "arn:aws:wafv2:{r}:{a}:regional/webacl/{stack}-movies/0b1c2d3e",
    ),
}


# (CloudFormation type, permission) -> the resource it is asked about instead, where the handler calls
# it only for a property that one resource of the stack sets: Object Lock configuration, which only the
# audit trail's bucket sets (the nested stack Audit's, named as CloudFormation names it, lowercased).
# test_only_the_audit_bucket_sets_object_lock keeps that true.
RESOURCE_OF_PERMISSION: dict[tuple[str, str], str] = {
    ("AWS::S3::Bucket", "s3:PutBucketObjectLockConfiguration"): (
        "arn:aws:s3:::{stack}-audit-1a2b3c4d5e6f-auditbucket-7a8b9c0d1e2f"
    ),
}
OBJECT_LOCK_PROPERTIES = ("ObjectLockConfiguration", "ObjectLockEnabled")


# CloudFormation type -> the role its handlers pass (iam:PassRole) and the service they pass it to.
PASSED_ROLE_OF: dict[str, tuple[str, str]] = {
    "AWS::CloudFormation::Stack": ("arn:aws:iam::{a}:role/{app}-cfn-exec-{env}", "cloudformation.amazonaws.com"),
    "AWS::Lambda::Function": ("arn:aws:iam::{a}:role/{stack}-MoviesFunctionRole-1A2B", "lambda.amazonaws.com"),
    "AWS::CodeDeploy::DeploymentGroup": (
        "arn:aws:iam::{a}:role/{stack}-CodeDeployServiceRole-1A2B",
        "codedeploy.amazonaws.com",
    ),
}


# CloudFormation type -> the service whose service-linked role its handlers may create
# (iam:CreateServiceLinkedRole is asked with that iam:AWSServiceName; any other type's is refused).
SERVICE_LINKED_ROLE_OF: dict[str, str] = {
    "AWS::Backup::BackupSelection": "backup.amazonaws.com",
    "AWS::Backup::RestoreTestingPlan": "restore-testing.backup.amazonaws.com",
}


# CloudFormation type -> permissions its service uses with the caller's credentials that no handler
# declares, each with the handlers that need it and the service it goes through: Secrets Manager
# encrypts a secret's value under the secret's KMS key (GenerateDataKey) and decrypts it (Decrypt)
# as the caller (Secrets Manager user guide, "Permissions for the KMS key"). Asked about a key of
# the environment, through that service.
THROUGH_A_SERVICE_OF: dict[str, dict[str, tuple[frozenset[str], str]]] = {
    "AWS::SecretsManager::Secret": {
        "kms:GenerateDataKey": (frozenset({"create", "update"}), "secretsmanager"),
        "kms:Decrypt": (frozenset({"read", "update"}), "secretsmanager"),
    },
}


def required_permissions(resource_type: str) -> dict[str, set[str]]:
    """Permission -> handlers: what the type's handlers declare, and what its service does as the caller."""
    through = {p: set(handlers) for p, (handlers, _) in THROUGH_A_SERVICE_OF.get(resource_type, {}).items()}
    return {**handler_permissions(resource_type), **through}


@cache
def _sar() -> dict[str, Any]:
    from tests.deploy.test_bootstrap_template import service_authorization_reference

    return service_authorization_reference()


def _action_resource_types(action: str) -> set[str]:
    prefix, _, name = action.partition(":")
    privileges = _sar().get(prefix, {}).get("privileges", {})
    privilege = privileges.get(name) or next((p for n, p in privileges.items() if n.lower() == name.lower()), None)
    return {t for t in privilege["resource_types"] if t} if privilege else set()


@dataclass(frozen=True)
class ExecutionRole:
    env: str
    account: Account
    role: Role

    @property
    def name(self) -> str:
        return self.role.name


def granted(execution: ExecutionRole | Role, action: str, resource_type: str | None = None) -> bool:
    role = execution.role if isinstance(execution, ExecutionRole) else execution
    sar_types, arn_templates = RESOURCE_OF.get(resource_type or "", (frozenset(), ""))
    arn_templates = RESOURCE_OF_PERMISSION.get((resource_type or "", action), arn_templates)
    if isinstance(execution, ExecutionRole) and action == "iam:CreateServiceLinkedRole":
        service = SERVICE_LINKED_ROLE_OF.get(resource_type or "", "a-service-no-grant-names.amazonaws.com")
        slr = f"arn:aws:iam::{execution.account.number}:role/aws-service-role/{service}/AWSServiceRoleFor"
        context = {"iam:AWSServiceName": service}
        return execution.account.evaluate(role, action, slr, context) is Decision.ALLOW
    through_a_service = THROUGH_A_SERVICE_OF.get(resource_type or "", {})
    if isinstance(execution, ExecutionRole) and action in through_a_service:
        env, account = execution.env, execution.account
        key = f"arn:aws:kms:{REGION}:{account.number}:key/0b1c2d3e-0000-4000-8000-000000000000"
        service = f"{through_a_service[action][1]}.{REGION}.amazonaws.com"
        context = {"aws:ResourceTag/environment": env, "kms:ViaService": service}
        return account.evaluate(role, action, key, context) is Decision.ALLOW
    if isinstance(execution, ExecutionRole) and action == "iam:PassRole" and resource_type in PASSED_ROLE_OF:
        env, account = execution.env, execution.account
        role_template, service = PASSED_ROLE_OF[resource_type]
        passed = role_template.format(a=account.number, app=APP, env=env, stack=f"{APP}-{env}")
        context = {"iam:PassedToService": service}
        return account.evaluate(role, action, passed, context) is Decision.ALLOW
    if isinstance(execution, ExecutionRole) and sar_types & _action_resource_types(action):
        env, account = execution.env, execution.account
        arns = (arn_templates,) if isinstance(arn_templates, str) else arn_templates
        context = {
            "aws:ResourceTag/environment": env,
            "aws:RequestTag/environment": env,
            "iam:PermissionsBoundary": f"arn:aws:iam::{account.number}:policy/{APP}-pipeline-boundary-{env}",
            "lambda:CodeSigningConfigArn": f"arn:aws:lambda:{REGION}:{account.number}:code-signing-config:csc-1",
            "iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda",
            # The function an event source mapping feeds (the search index function).
            "lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{account.number}:function:{APP}-{env}-search-indexer",
        }
        return all(
            account.evaluate(
                role,
                action,
                arn.format(r=REGION, a=account.number, env=env, stack=f"{APP}-{env}", stack_=f"{APP}_{env}"),
                context,
            )
            is Decision.ALLOW
            for arn in arns
        )

    def names(statement: Mapping[str, Any]) -> bool:
        actions = statement.get("Action", [])
        return any(
            wildcard_match(a, action, ignore_case=True) for a in (actions if isinstance(actions, list) else [actions])
        )

    statements = [s for document in role.policies for s in document["Statement"]]
    denied = any(
        s["Effect"] == "Deny" and names(s) and s.get("Resource") == "*" and not s.get("Condition") for s in statements
    )
    return not denied and any(s["Effect"] == "Allow" and names(s) for s in statements)


def handler_violations(
    stacks: Iterable[tuple[ExecutionRole | Role, Mapping[str, Mapping[str, Any]]]],
    waivers: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Every handler permission neither granted nor waived, and every waiver that is stale or no longer holds.

    ``stacks``: each environment's execution role with the templates as that environment deploys them.
    """
    used: dict[str, set[str]] = defaultdict(set)  # resource type -> properties its resources set
    roles_using: dict[str, list[ExecutionRole | Role]] = defaultdict(list)
    for role, templates in stacks:
        types_here = set()
        for document in templates.values():
            for resource in document["Resources"].values():
                used[resource["Type"]] |= set(resource.get("Properties") or {})
                types_here.add(resource["Type"])
        for resource_type in types_here:
            roles_using[resource_type].append(role)
    violations = []
    for resource_type in sorted(used):
        if resource_type not in RESOURCE_OF:
            violations.append(f"{resource_type}: a new resource type: add it to RESOURCE_OF, then grant or waive")
        waived = waivers.get(resource_type, {})
        for permission, handlers in sorted(required_permissions(resource_type).items()):
            missing = [r.name for r in roles_using[resource_type] if not granted(r, permission, resource_type)]
            where = f"{resource_type} {permission} ({'/'.join(sorted(handlers))})"
            if permission not in waived:
                if missing:
                    violations.append(f"{where}: granted to none of {missing} and not waived")
                continue
            if not missing:
                violations.append(f"{where}: waived but granted: remove the waiver")
            waiver = waived[permission]
            unless = waiver.get("unless", []) if isinstance(waiver, dict) else []
            if used_now := sorted(set(unless) & used[resource_type]):
                violations.append(f"{where}: waived unless {used_now}, which a template now sets: grant it")
        for stale in sorted(set(waived) - set(required_permissions(resource_type))):
            violations.append(f"{resource_type} {stale}: waived, but no handler of the type declares it")
    violations += [f"{t}: waivers for a type no application template uses" for t in sorted(set(waivers) - set(used))]
    return violations


def deployed_as(templates: Mapping[str, Mapping[str, Any]], env: str) -> dict[str, dict[str, Any]]:
    """The templates with only the resources ``env``'s stack creates (its conditions decided).

    A nested template is decided with the parameters its parent passes it (a resource conditional
    on a parameter the root sets, such as the canary's, counts where the root creates it), and
    holds nothing where its parent does not create the nested stack. A template that two parents
    nest (the root's source and its translation) holds what either creates.
    """
    environ = {
        "TRUSTED_SIGNING_PROFILE_VERSION_ARN": "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/P/AbCdE12345",
        "SIGNING_PROFILE_NAME": "P",
        "PERMISSIONS_BOUNDARY_ARN": f"arn:aws:iam::123456789012:policy/{APP}-pipeline-boundary-{env}",
    }
    root_parameters = dict(re.findall(r'(\w+)="([^"]*)"', overrides(env, environ)))
    nesting = _nesting(templates)
    passed: dict[str, list[dict[str, Any]]] = defaultdict(list)  # nested template -> its parents' parameters
    decided: dict[str, dict[str, Any]] = {}
    pending = sorted(templates)
    while pending:
        ready = [n for n in pending if all(parent in decided for parent, _ in nesting.get(n, []))]
        assert ready, f"templates nest each other: {pending}"
        for name in ready:
            document = templates[name]
            declared = document.get("Parameters", {})
            if name in nesting:
                parameter_sets = passed[name]
            else:
                parameter_sets = [{k: v for k, v in root_parameters.items() if k in declared}]
            created = [Template(document, parameters) for parameters in parameter_sets]
            resources = {
                k: v for k, v in document["Resources"].items() if any(template.exists(k) for template in created)
            }
            decided[name] = {**document, "Resources": resources}
            for template in created:
                for child, logical_id in _children(name, document, templates):
                    if template.exists(logical_id):
                        values = template.resolve(template.properties(logical_id).get("Parameters", {}))
                        passed[child].append({k: v for k, v in values.items() if isinstance(v, str)})
        pending = [n for n in pending if n not in decided]
    return decided


def _children(name: str, document: Mapping[str, Any], templates: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(nested template, the logical ID of its stack) for each stack ``document`` nests from ``templates``."""
    children = []
    for logical_id, resource in document["Resources"].items():
        url = (
            resource.get("Properties", {}).get("TemplateURL")
            if resource["Type"] == "AWS::CloudFormation::Stack"
            else None
        )
        if isinstance(url, str) and "://" not in url:
            child = os.path.normpath(Path(name).parent / url)
            if child in templates:
                children.append((child, logical_id))
    return children


def _nesting(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Nested template -> (parent template, logical ID of the stack) for each parent that nests it."""
    parents: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, document in templates.items():
        for child, logical_id in _children(name, document, templates):
            parents[child].append((name, logical_id))
    return dict(parents)


@cache
def execution_roles() -> tuple[ExecutionRole, ...]:
    accounts = bootstrap_accounts("shared")
    return tuple(ExecutionRole(env, accounts[env], accounts[env].role(f"{APP}-cfn-exec-{env}")) for env in ENVIRONMENTS)


def per_environment(
    templates: Mapping[str, Mapping[str, Any]], roles: Iterable[ExecutionRole] | None = None
) -> list[tuple[ExecutionRole, dict[str, Any]]]:
    return [(role, deployed_as(templates, role.env)) for role in (roles or execution_roles())]


def load_waivers() -> dict[str, dict[str, Any]]:
    waivers: dict[str, dict[str, Any]] = tomllib.loads(WAIVERS.read_text(encoding="utf-8"))
    return waivers


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    found = application_templates()
    assert "infra/template.yaml" in found
    return found


def test_every_handler_permission_is_granted_to_each_execution_role_or_waived(templates: dict[str, Any]) -> None:
    assert handler_violations(per_environment(templates), load_waivers()) == []


def test_every_waiver_gives_one_reason_and_names_one_action() -> None:
    for resource_type, waived in load_waivers().items():
        for permission, waiver in waived.items():
            reason = waiver["reason"] if isinstance(waiver, dict) else waiver
            assert "*" not in permission and ":" in permission, f"{resource_type}: {permission}"
            assert reason.strip() and "\n" not in reason, f"{resource_type} {permission}: one line of reason"
            assert set(waiver) <= {"reason", "unless"} if isinstance(waiver, dict) else True


def test_only_the_audit_bucket_sets_object_lock(templates: dict[str, Any]) -> None:
    # s3:PutBucketObjectLockConfiguration is granted on the audit trail's bucket only (RESOURCE_OF_PERMISSION).
    locked = sorted(
        (name, logical_id)
        for name, document in templates.items()
        if name.startswith("infra/")
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket" and set(OBJECT_LOCK_PROPERTIES) & set(resource.get("Properties") or {})
    )
    assert locked == [("infra/stacks/audit.yaml", "AuditBucket")]


def test_composite_alarms_are_read_back_with_describe_alarms_on_every_alarm() -> None:
    # CloudWatch API reference, DescribeAlarms: composite alarms are returned only to a
    # permission scoped to "*".
    for execution in execution_roles():
        assert any(
            s["Effect"] == "Allow" and "cloudwatch:DescribeAlarms" in s["Action"] and s["Resource"] == "*"
            for document in execution.role.policies
            for s in document["Statement"]
        ), execution.name


# --- the gate bites ------------------------------------------------------------------------------


def test_a_new_resource_type_without_a_decision_fails(templates: dict[str, Any]) -> None:
    stream = {"Resources": {"Jobs": {"Type": "AWS::Kinesis::Stream", "Properties": {}}}}
    violations = handler_violations(per_environment({**templates, "new.json": stream}), load_waivers())
    assert any(v.startswith("AWS::Kinesis::Stream kinesis:CreateStream") for v in violations), violations


def test_a_feature_a_waiver_depends_on_fails(templates: dict[str, Any]) -> None:
    in_a_vpc = json.loads(json.dumps(templates["infra/template.yaml"]))
    function = next(r for r in in_a_vpc["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    function["Properties"]["VpcConfig"] = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    violations = handler_violations(per_environment({"infra/template.yaml": in_a_vpc}), load_waivers())
    assert any("ec2:DescribeSubnets" in v and "VpcConfig" in v for v in violations), violations


def test_a_waiver_of_a_granted_permission_fails(templates: dict[str, Any]) -> None:
    waivers = {**load_waivers(), "AWS::KMS::Alias": {"kms:CreateAlias": "not needed"}}
    violations = handler_violations(per_environment(templates), waivers)
    assert any("kms:CreateAlias" in v and "waived but granted" in v for v in violations), violations


def _without(statement_id: str, edit: Any = None) -> list[ExecutionRole]:
    """Every execution role with its statement ``statement_id`` edited by ``edit(statement)``, or dropped."""
    stripped = []
    for execution in execution_roles():
        policies = json.loads(json.dumps(execution.role.policies))
        for document in policies:
            if edit is None:
                document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != statement_id]
            for statement in document["Statement"]:
                if statement.get("Sid") == statement_id:
                    edit(statement)
        stripped.append(replace(execution, role=replace(execution.role, policies=policies)))
    return stripped


def _drop_action(action: str) -> Any:
    return lambda statement: statement.update(Action=[a for a in statement["Action"] if a != action])


def _drop_resources_with(part: str) -> Any:
    return lambda statement: statement.update(Resource=[r for r in statement["Resource"] if part not in r])


@pytest.mark.parametrize(
    ("statement_id", "edit", "violation"),
    [
        # Finding: the execution role could not tag code-signing configs, which CloudFormation does.
        pytest.param(
            "CodeSigningConfigsOfThisEnvironment",
            _drop_action("lambda:TagResource"),
            "AWS::Lambda::CodeSigningConfig lambda:TagResource",
            id="a missing grant",
        ),
        # CloudFormation builds a nested stack as the parent's service role, which it passes on.
        pytest.param(
            "NestedStacksRunAsThisRole",
            None,
            "AWS::CloudFormation::Stack iam:PassRole",
            id="a nested stack without the execution role passed on to CloudFormation",
        ),
        # Secrets Manager encrypts the canary's secret with the stack's key as CloudFormation's role.
        pytest.param(
            "SecretKeysThroughSecretsManagerOnly",
            None,
            "AWS::SecretsManager::Secret kms:GenerateDataKey",
            id="a key grant a service needs as the caller",
        ),
        # The canary's function's log group is named by Lambda (cwsyn-...), not after the stack's path.
        # Object Lock is granted on the audit trail's bucket alone, and that bucket needs it.
        pytest.param(
            "ObjectLockOnTheAuditBucketOnly",
            None,
            "AWS::S3::Bucket s3:PutBucketObjectLockConfiguration",
            id="object lock without its grant on the audit bucket",
        ),
        pytest.param(
            "LogGroupsOfTheStack",
            _drop_resources_with("cwsyn-"),
            "AWS::Logs::LogGroup logs:CreateLogGroup",
            id="a log group named another way without its own grant",
        ),
    ],
)
def test_a_grant_taken_away_fails(templates: dict[str, Any], statement_id: str, edit: Any, violation: str) -> None:
    violations = handler_violations(per_environment(templates, _without(statement_id, edit)), load_waivers())
    assert any(v.startswith(violation) for v in violations), violations
