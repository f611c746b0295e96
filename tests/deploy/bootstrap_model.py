"""The pipeline bootstrap as deployed, offline: stacks resolved for one account, and the IAM they create.

``Stack`` resolves one CloudFormation template for a given account, region, stack name and
parameters, as CloudFormation would at deploy time (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::If``, ``Fn::FindInMap``, ``Fn::ImportValue`` from stacks deployed before it, conditions),
with physical names made up the way CloudFormation makes them. ``Account`` is every stack
deployed in one AWS account: its roles (by name), their trust, identity policies (inline,
managed, and managed policies that attach themselves with ``Roles``), permissions boundaries
and tags, and the resource policies of its buckets and keys. ``Account.evaluate`` asks
``tests/infra/iam_evaluation.py`` for IAM's verdict on one request by one role.

``bootstrap_accounts`` lays the bootstrap out in either account model of docs/cicd.md; it also
reads the single-template bootstrap kept as a fixture (the layout before the environments were
sealed), so the same escalation tests run against both.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from tests.infra.iam_evaluation import Decision, Request, evaluate

__all__ = [
    "ACCOUNT_OF",
    "APP",
    "BOOTSTRAP_DIR",
    "ENVIRONMENTS",
    "FIXTURE_BEFORE_SEALING",
    "REGION",
    "SHARED_ACCOUNT",
    "Account",
    "Role",
    "Stack",
    "bootstrap_accounts",
    "ci_parameters",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP_DIR = PROJECT_ROOT / "infra" / "bootstrap"
FIXTURE_BEFORE_SEALING = Path(__file__).resolve().parent / "fixtures" / "bootstrap-before-sealing.yaml"
APP = "mvdb"
REGION = "eu-west-1"
ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT_OF = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
SHARED_ACCOUNT = "123456789012"
ACCOUNT_STACK = f"{APP}-pipeline-account"

GITHUB_REPOSITORY = "acme/mvdb"
GITHUB_WORKFLOW_REF = "acme/mvdb/.github/workflows/deploy.yml@refs/heads/main"
BITBUCKET_WORKSPACE = "acme"
BITBUCKET_WORKSPACE_UUID = "5b8c8c0e-7d3f-4d6a-9a51-0c2f5e1d9a10"
BITBUCKET_REPOSITORY = "{3f1c5a2e-9b7d-4e8f-a6c1-2d4b8e0f7a93}"
BITBUCKET_ENVIRONMENT = {
    "dev": "{a1b2c3d4-0000-4000-8000-000000000001}",
    "staging": "{a1b2c3d4-0000-4000-8000-000000000002}",
    "prod": "{a1b2c3d4-0000-4000-8000-000000000003}",
}

_NO_VALUE: Any = object()


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return document


def _generated_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12].upper()


class Stack:
    """One template resolved for one account, region, stack name and set of parameters."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        name: str,
        account: str,
        parameters: Mapping[str, str] | None = None,
        imports: Mapping[str, str] | None = None,
        region: str = REGION,
    ) -> None:
        self.document = document
        self.name = name
        self.account = account
        self.region = region
        defaults = {k: str(spec.get("Default", "")) for k, spec in document.get("Parameters", {}).items()}
        unknown = set(parameters or {}) - set(defaults)
        assert not unknown, f"{name}: the template has no parameters {sorted(unknown)}"
        self.parameters = {**defaults, **(parameters or {})}
        self.imports = dict(imports or {})
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::StackName": name,
        }

    # -- conditions and intrinsics ----------------------------------------------------------

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.document["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                return str(self.resolve(argument[0])) == str(self.resolve(argument[1]))
            if function == "Fn::Not":
                return not self._condition(argument[0])
            if function == "Fn::And":
                return all(self._condition(a) for a in argument)
            if function == "Fn::Or":
                return any(self._condition(a) for a in argument)
            if function == "Fn::Contains":
                return str(self.resolve(argument[1])) in [str(v) for v in self.resolve(argument[0])]
        return self.resolve(node)

    def rule_failures(self) -> list[str]:
        """The AssertDescription of every rule CloudFormation would refuse these parameters with.

        A rule applies when its RuleCondition holds (or it has none); it fails when one of its
        Assertions is false. Rules may only use parameters and Fn::And/Or/Not/Equals/Contains here.
        """
        failures = []
        for name, rule in self.document.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._condition(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self._condition(assertion["Assert"]):
                    failures.append(f"{name}: {' '.join(str(assertion.get('AssertDescription', '')).split())}")
        return failures

    def exists(self, logical_id: str) -> bool:
        condition = self.document["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.document["Resources"][name]
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::OIDCProvider":
            url = self.resolve(properties["Url"]).removeprefix("https://")
            return f"arn:aws:iam::{self.account}:oidc-provider/{url}"
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{self.account}:policy/{self.resolve(properties['ManagedPolicyName'])}"
        if kind == "AWS::IAM::Role":
            return str(self.resolve(properties["RoleName"]))
        if kind == "AWS::S3::Bucket":
            return f"{self.name}-{name.lower()}-{_generated_id(self.account, self.name, name).lower()}"
        if kind == "AWS::KMS::Key":
            return _generated_id(self.account, self.region, self.name, name).lower()
        if kind == "AWS::Signer::SigningProfile":
            return self.get_att(name, "Arn")
        return f"{self.name}-{name}-{_generated_id(self.name, name)}"

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.document["Resources"][name]["Type"]
        region_account = f"{self.region}:{self.account}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{self.account}:role/{self.ref(name)}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:{region_account}:key/{self.ref(name)}"
        if kind == "AWS::Signer::SigningProfile":
            profile = f"{self.name.replace('-', '_')}_{name}"
            return {
                "Arn": f"arn:aws:signer:{region_account}:/signing-profiles/{profile}",
                "ProfileName": profile,
                "ProfileVersionArn": f"arn:aws:signer:{region_account}:/signing-profiles/{profile}/AbCdE12345",
            }[attribute]
        raise AssertionError(f"{self.name}: GetAtt {name}.{attribute} ({kind}) is not modelled")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"  # ${!Literal} is written as ${Literal}
            if expression in variables:
                return str(self.resolve(variables[expression]))
            if "." in expression:
                return self.get_att(*expression.split(".", 1))
            return self.ref(expression)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
            if function == "Fn::GetAtt":
                parts = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(*parts)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return self._sub(text, variables)
            if function == "Fn::If":
                return self.resolve(argument[1] if self.condition(argument[0]) else argument[2])
            if function == "Fn::FindInMap":
                mapping, key, attribute = (self.resolve(a) for a in argument)
                return self.document["Mappings"][mapping][key][attribute]
            if function == "Fn::ImportValue":
                export = self.resolve(argument)
                assert export in self.imports, f"{self.name} imports {export}, which no earlier stack exports"
                return self.imports[export]
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}

    # -- what the stack creates -------------------------------------------------------------

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.resolve(resource.get("Properties", {}))
            for logical_id, resource in self.document["Resources"].items()
            if resource["Type"] == resource_type and self.exists(logical_id)
        }

    def outputs(self) -> dict[str, str]:
        return {
            name: self.resolve(output["Value"])
            for name, output in self.document.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def exports(self) -> dict[str, str]:
        return {
            self.resolve(output["Export"]["Name"]): self.resolve(output["Value"])
            for output in self.document.get("Outputs", {}).values()
            if "Export" in output and ("Condition" not in output or self.condition(output["Condition"]))
        }


def _policy_document(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


@dataclass
class Role:
    name: str
    arn: str
    trust: dict[str, Any]
    policies: list[dict[str, Any]] = field(default_factory=list)
    boundary: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)


class Account:
    """Every bootstrap stack deployed in one AWS account."""

    def __init__(self, number: str, stacks: list[Stack]) -> None:
        self.number = number
        self.stacks = stacks
        self.managed_policies: dict[str, dict[str, Any]] = {}
        self.resource_policies: dict[str, dict[str, Any]] = {}
        roles: dict[str, Role] = {}
        attachments: list[tuple[str, str]] = []  # (role name, policy ARN)
        for stack in stacks:
            for logical_id, properties in stack.resources("AWS::IAM::ManagedPolicy").items():
                arn = stack.ref(logical_id)
                self.managed_policies[arn] = _policy_document(properties["PolicyDocument"])
                attachments += [(role, arn) for role in properties.get("Roles", [])]
            for properties in stack.resources("AWS::S3::BucketPolicy").values():
                self.resource_policies[f"arn:aws:s3:::{properties['Bucket']}"] = properties["PolicyDocument"]
            for logical_id, properties in stack.resources("AWS::KMS::Key").items():
                self.resource_policies[stack.get_att(logical_id, "Arn")] = properties["KeyPolicy"]
        for stack in stacks:
            for logical_id, properties in stack.resources("AWS::IAM::Role").items():
                name = stack.ref(logical_id)
                role = Role(
                    name=name,
                    arn=f"arn:aws:iam::{number}:role/{name}",
                    trust=_policy_document(properties["AssumeRolePolicyDocument"]),
                    policies=[_policy_document(p["PolicyDocument"]) for p in properties.get("Policies", [])],
                    tags={t["Key"]: t["Value"] for t in properties.get("Tags", [])},
                )
                role.policies += [
                    self.managed_policies[a]
                    for a in properties.get("ManagedPolicyArns", [])
                    if a in self.managed_policies
                ]
                if "PermissionsBoundary" in properties:
                    role.boundary = self.managed_policies[properties["PermissionsBoundary"]]
                roles[name] = role
        for role_name, policy_arn in attachments:
            roles[role_name].policies.append(self.managed_policies[policy_arn])
        self.roles = roles

    def role(self, name: str) -> Role:
        assert name in self.roles, f"account {self.number} has no role {name} (it has {sorted(self.roles)})"
        return self.roles[name]

    def session_context(self, role: Role) -> dict[str, str]:
        """Request-context keys every call of this role's sessions carries."""
        context = {f"aws:PrincipalTag/{k}": v for k, v in role.tags.items()}
        return {**context, "aws:PrincipalArn": role.arn, "aws:PrincipalAccount": self.number}

    def evaluate(
        self, role: Role, action: str, resource: str, context: Request, *, resource_account: str | None = None
    ) -> Decision:
        """IAM's verdict on ``role`` calling ``action`` on ``resource`` (owned by ``resource_account``)."""
        owner = resource_account or self.number
        if owner != self.number:
            # Cross-account: the other account's resource policy would have to grant it, and
            # no bootstrap resource policy names another account.
            return Decision.IMPLICIT_DENY
        # aws:ResourceAccount: the owner of the resource, in the request context of most actions.
        request = {"aws:ResourceAccount": owner, **self.session_context(role), **context}
        resource_policy = self._resource_policy_of(resource)
        assumes_a_role = action.lower() == "sts:assumerole"
        if assumes_a_role:
            # A role's trust policy is the resource policy of AssumeRole, and it must admit the caller.
            target = next((r for r in self.roles.values() if r.arn == resource), None)
            resource_policy = target.trust if target else {"Statement": []}
        return evaluate(
            action,
            resource,
            request,
            principal_arn=role.arn,
            identity_policies=role.policies,
            permissions_boundary=role.boundary,
            resource_policy=resource_policy,
            resource_policy_must_delegate=assumes_a_role
            or (resource.startswith("arn:aws:kms:") and resource_policy is not None),
        )

    def _resource_policy_of(self, resource: str) -> dict[str, Any] | None:
        for arn, document in self.resource_policies.items():
            if resource == arn or resource.startswith(arn + "/"):
                return document
        return None

    def exports(self) -> dict[str, str]:
        return {k: v for stack in self.stacks for k, v in stack.exports().items()}


def ci_parameters(env: str, *, github: bool = True, bitbucket: bool = True) -> dict[str, str]:
    """environment.yaml's CI parameters for ``env`` (this repository's identifiers)."""
    parameters: dict[str, str] = {}
    if github:
        parameters |= {"GitHubRepository": GITHUB_REPOSITORY, "GitHubDeployWorkflowRef": GITHUB_WORKFLOW_REF}
    if bitbucket:
        parameters |= {
            "BitbucketWorkspace": BITBUCKET_WORKSPACE,
            "BitbucketWorkspaceUuid": BITBUCKET_WORKSPACE_UUID,
            "BitbucketRepositoryUuid": BITBUCKET_REPOSITORY,
            "BitbucketDeploymentEnvironmentUuid": BITBUCKET_ENVIRONMENT[env],
            # The documented set-up: staging's and production's deployment permissions are on.
            "BitbucketDeploymentPermissionsEnforced": "true",
        }
    return parameters


def _sealed_account(number: str, environments: tuple[str, ...], bootstrap_dir: Path) -> Account:
    account = Stack(
        load(bootstrap_dir / "account.yaml"),
        name=ACCOUNT_STACK,
        account=number,
        parameters={"BitbucketWorkspace": BITBUCKET_WORKSPACE, "BitbucketWorkspaceUuid": BITBUCKET_WORKSPACE_UUID},
    )
    stacks = [account]
    for env in environments:
        identities = Stack(
            load(bootstrap_dir / "environment.yaml"),
            name=f"{APP}-pipeline-{env}",
            account=number,
            parameters={"Environment": env, **ci_parameters(env)},
            imports=account.exports(),
        )
        assert not identities.rule_failures(), identities.rule_failures()
        policies = Stack(
            load(bootstrap_dir / "execution-policies.yaml"),
            name=f"{APP}-pipeline-{env}-execution",
            account=number,
            parameters={"Environment": env},
            imports=account.exports(),
        )
        backup_policies = Stack(
            load(bootstrap_dir / "execution-policies-backup.yaml"),
            name=f"{APP}-pipeline-{env}-execution-backup",
            account=number,
            parameters={"Environment": env},
        )
        stacks += [identities, policies, backup_policies]
    return Account(number, stacks)


def _fixture_account(path: Path) -> Account:
    """The bootstrap before sealing: one template per account for every environment."""
    parameters = {
        "GitHubRepository": GITHUB_REPOSITORY,
        "BitbucketWorkspace": BITBUCKET_WORKSPACE,
        "BitbucketWorkspaceUuid": BITBUCKET_WORKSPACE_UUID,
        "BitbucketRepositoryUuid": BITBUCKET_REPOSITORY,
        "BitbucketDevEnvironmentUuid": BITBUCKET_ENVIRONMENT["dev"],
        "BitbucketStagingEnvironmentUuid": BITBUCKET_ENVIRONMENT["staging"],
        "BitbucketProductionEnvironmentUuid": BITBUCKET_ENVIRONMENT["prod"],
    }
    stack = Stack(load(path), name=f"{APP}-pipeline-bootstrap", account=SHARED_ACCOUNT, parameters=parameters)
    return Account(SHARED_ACCOUNT, [stack])


def bootstrap_accounts(layout: str, *, source: Path | None = None) -> dict[str, Account]:
    """Environment -> the account it lives in, for ``layout`` "per-environment" or "shared".

    ``source`` is a bootstrap directory (default infra/bootstrap/) or the single-template
    fixture, which only knows the shared layout.
    """
    source = source or BOOTSTRAP_DIR
    if source.is_file():
        account = _fixture_account(source)
        return dict.fromkeys(ENVIRONMENTS, account)
    if layout == "shared":
        account = _sealed_account(SHARED_ACCOUNT, ENVIRONMENTS, source)
        return dict.fromkeys(ENVIRONMENTS, account)
    assert layout == "per-environment", layout
    return {env: _sealed_account(ACCOUNT_OF[env], (env,), source) for env in ENVIRONMENTS}
