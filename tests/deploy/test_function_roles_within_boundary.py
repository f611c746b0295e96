"""Every grant of every function role of the application falls inside its environment's boundary.

The pipeline's execution role may create a role only with the environment's permissions boundary
(infra/bootstrap/environment.yaml, PermissionsBoundary) attached, and IAM allows a role's session
only what both its policies and the boundary allow. A grant the boundary does not cover is dead:
worse, Lambda checks some of them when the stack creates a resource (an event source mapping's
on-failure destination: "Your execution role must have permissions for the destination"), so
the deploy fails in the account and in no offline gate.

Each stack template of infra/stacks/ is resolved as deployed for one environment (its nested
stack name, the parameters the root passes, the physical names CloudFormation makes up), and
each Allow statement of each role Lambda assumes is asked, action by action and resource by
resource, of the boundary with tests/infra/iam_evaluation.py. Resources are tagged with their
environment, as the deploy tags them (tools/deploy/verify_deploy.py checks it).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.bootstrap_model import ACCOUNT_OF, APP, ENVIRONMENTS, REGION, Stack, bootstrap_accounts, load
from tests.infra.iam_evaluation import is_allowed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted((PROJECT_ROOT / "infra" / "stacks").glob("*.yaml"))
SAMPLE_ID = "2026-11-30T10:00:00.000"  # what a "*" in a granted resource stands for (a stream label, an ID)


def _parameters(env: str) -> dict[str, str]:
    """What the root template passes its nested stacks, for the stack mvdb-<env> in its account."""
    account, root = ACCOUNT_OF[env], f"{APP}-{env}"
    arn = f"{REGION}:{account}"
    key = f"arn:aws:kms:{arn}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    table = f"arn:aws:dynamodb:{arn}:table/{root}-Data-1A2B3C4D5E6F-MoviesTable-ABCDEF123456"
    index = f"arn:aws:dynamodb:{arn}:table/{root}-Data-1A2B3C4D5E6F-SearchIndexTable-123456ABCDEF"
    return {
        "RootStackName": root,
        "Environment": env,
        "RunbookBaseUrl": "https://github.com/acme/mvdb/blob/main",
        "AlarmTopicArn": f"arn:aws:sns:{arn}:{root}-Alarms-1A2B3C-AlarmTopic-4D5E6F",
        "ObservabilityKeyArn": key,
        "LogRetentionDays": "30",
        "TableArn": table,
        "TableKeyArn": key,
        "TableStreamArn": f"{table}/stream/{SAMPLE_ID}",
        "SearchIndexTableName": index.rsplit("/", 1)[1],
        "SearchIndexTableArn": index,
        "IndexerFunctionName": f"{root}-search-indexer",
        "AuditFunctionName": f"{root}-audit-trail",
        "MoviesFunctionRoleName": f"{root}-Data-1A2B3C4D5E6F-MoviesFunctionRole-ABCDEF123456",
        "CanaryRuntimeVersion": "syn-python-selenium-5.1",
        "CanaryArtifactRetentionDays": "30",
        "ApiUrl": f"https://abcdef1234.execute-api.{REGION}.amazonaws.com/live",
        "TokenUrl": f"https://{root}.auth.{REGION}.amazoncognito.com/oauth2/token",
        "ClientSecretArn": f"arn:aws:secretsmanager:{arn}:secret:{root}/canary-client-AbCdEf",
        "MoviesFunctionLogGroupArn": f"arn:aws:logs:{arn}:log-group:/aws/lambda/{root}/movies:*",
        "PreTrafficHookFunctionLogGroupArn": f"arn:aws:logs:{arn}:log-group:/aws/lambda/{root}/pre-traffic-hook:*",
        "FunctionName": f"{root}-movies",
        "FunctionVersionArn": f"arn:aws:lambda:{arn}:function:{root}-movies:7",
        "ApiName": f"{root}-movies",
        "CodeDeployApplication": f"{root}-ServerlessDeploymentApplication-1A2B3C4D5E6F",
        "PermissionsBoundaryArn": f"arn:aws:iam::{account}:policy/{APP}-pipeline-boundary-{env}",
    }


class ApplicationStack(Stack):
    """A nested stack of infra/template.yaml, with the attributes its roles name."""

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.document["Resources"][name]["Type"]
        properties = self.document["Resources"][name].get("Properties", {})
        arn = f"{self.region}:{self.account}"
        if kind == "AWS::SQS::Queue" and attribute in {"Arn", "QueueName"}:
            queue = str(self.resolve(properties["QueueName"])) if "QueueName" in properties else self.ref(name)
            return queue if attribute == "QueueName" else f"arn:aws:sqs:{arn}:{queue}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{arn}:log-group:{self.resolve(properties['LogGroupName'])}:*"
        if kind == "AWS::DynamoDB::Table" and attribute in {"Arn", "StreamArn"}:
            table = f"arn:aws:dynamodb:{arn}:table/{self.ref(name)}"
            return table if attribute == "Arn" else f"{table}/stream/{SAMPLE_ID}"
        if kind == "AWS::Synthetics::Canary" and attribute == "Id":
            return "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
        if kind == "AWS::SNS::Topic" and attribute == "TopicArn":
            return f"arn:aws:sns:{arn}:{self.ref(name)}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:{arn}:key/{self.ref(name)}"
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            return f"arn:aws:events:{arn}:rule/{self.ref(name)}"
        return str(super().get_att(name, attribute))

    def ref(self, name: str) -> str:
        resource = self.document["Resources"].get(name, {})
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::DynamoDB::Table" and "TableName" in properties:
            return str(self.resolve(properties["TableName"]))
        if resource.get("Type") == "AWS::Logs::LogGroup" and "LogGroupName" in properties:
            return str(self.resolve(properties["LogGroupName"]))
        return super().ref(name)


def _nested_stack(path: Path, env: str) -> ApplicationStack:
    document = load(path)
    wanted = document.get("Parameters", {})
    parameters = {k: v for k, v in _parameters(env).items() if k in wanted}
    missing = [k for k, spec in wanted.items() if "Default" not in spec and k not in parameters]
    assert not missing, f"{path.name}: give _parameters a value for {missing} (what the root template passes)"
    name = f"{APP}-{env}-{path.stem.capitalize()}-1A2B3C4D5E6F"
    return ApplicationStack(document, name=name, account=ACCOUNT_OF[env], parameters=parameters)


def _assumed_by_lambda(role: Mapping[str, Any]) -> bool:
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        services = statement.get("Principal", {}).get("Service", [])
        if "lambda.amazonaws.com" in ([services] if isinstance(services, str) else services):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _request_context(statement: Mapping[str, Any], env: str) -> dict[str, str]:
    """The request as the role makes it: its statement's own conditions hold, the resource carries its tag."""
    context = {"aws:ResourceTag/environment": env}
    for block in statement.get("Condition", {}).values():
        for key, value in block.items():
            context[key] = str(_as_list(value)[0])
    return context


def function_roles(env: str) -> list[tuple[str, dict[str, Any]]]:
    """("<stack file> <logical id>", the role's resolved properties) of every role Lambda assumes, for ``env``."""
    roles = []
    for path in STACKS:
        if not any(r["Type"] == "AWS::IAM::Role" for r in load(path)["Resources"].values()):
            continue
        stack = _nested_stack(path, env)
        for logical_id, role in stack.resources("AWS::IAM::Role").items():
            if _assumed_by_lambda(role):
                roles.append((f"{path.name} {logical_id}", role))
    return roles


def allow_statements(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    return [s for d in documents for s in d["Statement"] if s["Effect"] == "Allow"]


def grants_outside_the_boundary(boundary: Mapping[str, Any], env: str) -> list[str]:
    """Each (stack, role, action, resource) a function role grants and ``boundary`` denies, for ``env``."""
    outside = []
    for label, role in function_roles(env):
        assert role.get("PermissionsBoundary"), f"{label} carries no permissions boundary"
        for statement in allow_statements(role):
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    requested = resource.replace("*", SAMPLE_ID) if resource != "*" else "*"
                    if not is_allowed([boundary], action, requested, _request_context(statement, env)):
                        outside.append(f"{label} {statement.get('Sid', '')}: {action} on {resource}")
    return outside


@functools.cache
def _per_environment_accounts() -> dict[str, Any]:
    return bootstrap_accounts("per-environment")


def boundary_of(env: str) -> dict[str, Any]:
    account = _per_environment_accounts()[env]
    return account.managed_policies[f"arn:aws:iam::{account.number}:policy/{APP}-pipeline-boundary-{env}"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_grant_of_every_function_role_is_inside_the_environments_boundary(env: str) -> None:
    outside = grants_outside_the_boundary(boundary_of(env), env)
    assert not outside, (
        "the permissions boundary (infra/bootstrap/environment.yaml) cancels these grants; allow them there, "
        "scoped to the environment, or drop them:\n" + "\n".join(outside)
    )


def test_the_gate_fails_the_boundary_that_let_no_function_send_to_its_on_failure_queue() -> None:
    """The boundary as it was when the search index function's mapping was added: no sqs at all."""
    before = copy.deepcopy(boundary_of("dev"))
    before["Statement"] = [s for s in before["Statement"] if s.get("Sid") != "SendToThisEnvironmentsQueues"]
    assert len(before["Statement"]) == len(boundary_of("dev")["Statement"]) - 1
    outside = grants_outside_the_boundary(before, "dev")
    # Exactly the two stream consumers' sends to their on-failure queues, and nothing else.
    assert sorted(finding.split(": sqs:SendMessage on arn:aws:sqs:")[0] for finding in outside) == [
        "audit.yaml AuditTrailFunctionRole RecordGivenUpBatches",
        "search.yaml SearchIndexFunctionRole RecordGivenUpBatches",
    ], outside
