"""Offline gates on infra/bootstrap.yaml, the per-account stack that lets the pipelines deploy.

What must hold, proved without an AWS account:

* the template passes cfn-lint and checkov (and each gate fails on a broken copy);
* every deploy role can be assumed only with an OIDC token of this repository, for the one
  environment the role is for; the production roles only from the production environment.
  Tested by behaviour: real tokens' claims are admitted, impostors' (another repository, a fork,
  another environment, a plain branch build, another audience) are refused; and a widened
  ``sub`` pattern is caught (the mutation tests);
* no role trusts ``*`` or an account;
* what each role may do, asked of a small IAM evaluator (tests/infra/iam_evaluation.py): the
  deploy role drives only its own stack through the execution role, the execution role can
  create every resource of the application template for its own stack and nothing of another
  environment's, and no pipeline identity can delete data.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.infra.iam_evaluation import is_allowed, trust_admits, wildcard_match

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = PROJECT_ROOT / "infra" / "bootstrap.yaml"
APP_TEMPLATE = PROJECT_ROOT / "infra" / "template.yaml"
CHECKOV = PROJECT_ROOT / ".tools" / "checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"

ACCOUNT = "123456789012"
REGION = "eu-west-1"
APP = "mvdb"
ENVIRONMENTS = ("dev", "staging", "prod")
GITHUB_ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "production"}
GITHUB_ISSUER = "token.actions.githubusercontent.com"
GITHUB_REPOSITORY = "acme/mvdb"
BITBUCKET_WORKSPACE = "acme"
BITBUCKET_ISSUER = f"api.bitbucket.org/2.0/workspaces/{BITBUCKET_WORKSPACE}/pipelines-config/identity/oidc"
BITBUCKET_AUDIENCE_UUID = "5b8c8c0e-7d3f-4d6a-9a51-0c2f5e1d9a10"
BITBUCKET_REPOSITORY = "{3f1c5a2e-9b7d-4e8f-a6c1-2d4b8e0f7a93}"
BITBUCKET_ENVIRONMENT = {
    "dev": "{a1b2c3d4-0000-4000-8000-000000000001}",
    "staging": "{a1b2c3d4-0000-4000-8000-000000000002}",
    "prod": "{a1b2c3d4-0000-4000-8000-000000000003}",
}
A_STEP = "{7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3921}"

GITHUB_ONLY = {"GitHubRepository": GITHUB_REPOSITORY}
BITBUCKET_ONLY = {
    "BitbucketWorkspace": BITBUCKET_WORKSPACE,
    "BitbucketWorkspaceUuid": BITBUCKET_AUDIENCE_UUID,
    "BitbucketRepositoryUuid": BITBUCKET_REPOSITORY,
    "BitbucketDevEnvironmentUuid": BITBUCKET_ENVIRONMENT["dev"],
    "BitbucketStagingEnvironmentUuid": BITBUCKET_ENVIRONMENT["staging"],
    "BitbucketProductionEnvironmentUuid": BITBUCKET_ENVIRONMENT["prod"],
}
BOTH_CI_SYSTEMS = {**GITHUB_ONLY, **BITBUCKET_ONLY}


# --- the template as CloudFormation would see it for one set of parameters ------------------


def load_bootstrap(path: Path = BOOTSTRAP) -> dict[str, Any]:
    document: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return document


class Bootstrap:
    """The bootstrap template resolved for one account, region and set of parameters."""

    def __init__(self, document: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.document = document
        defaults = {name: str(spec.get("Default", "")) for name, spec in document["Parameters"].items()}
        self.parameters = {**defaults, **parameters}
        self.pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.document["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                return self.resolve(argument[0]) == self.resolve(argument[1])
            if function == "Fn::Not":
                return not self._condition(argument[0])
            if function == "Fn::And":
                return all(self._condition(a) for a in argument)
            if function == "Fn::Or":
                return any(self._condition(a) for a in argument)
        return self.resolve(node)

    def exists(self, logical_id: str) -> bool:
        condition = self.document["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: self.resolve(resource.get("Properties", {}))
            for name, resource in self.document["Resources"].items()
            if resource["Type"] == resource_type and self.exists(name)
        }

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.document["Resources"][name]
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::OIDCProvider":
            return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{self.resolve(properties['Url']).removeprefix('https://')}"
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{self.resolve(properties['ManagedPolicyName'])}"
        return name.lower()

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.document["Resources"][name]
        assert attribute == "Arn", f"GetAtt {name}.{attribute} is not modelled"
        return {
            "AWS::IAM::Role": lambda: f"arn:aws:iam::{ACCOUNT}:role/{self.resolve(resource['Properties']['RoleName'])}",
            "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{name.lower()}",
            "AWS::KMS::Key": lambda: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name.lower()}",
        }[resource["Type"]]()

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
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
                return self.get_att(*argument)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return self.sub(text, variables)
            if function == "Fn::If":
                return self.resolve(argument[1] if self.condition(argument[0]) else argument[2])
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in node.items()) if v is not _NO_VALUE}

    # -- roles ------------------------------------------------------------------------------

    def roles(self) -> dict[str, dict[str, Any]]:
        return self.resources("AWS::IAM::Role")

    def trust_policy(self, logical_id: str) -> dict[str, Any]:
        trust = self.roles()[logical_id]["AssumeRolePolicyDocument"]
        return json.loads(trust) if isinstance(trust, str) else trust

    def permission_policies(self, logical_id: str) -> list[dict[str, Any]]:
        role = self.roles()[logical_id]
        managed = {self.ref(name): p["PolicyDocument"] for name, p in self._managed_policies().items()}
        documents = [managed[arn] for arn in role.get("ManagedPolicyArns", []) if arn in managed]
        return documents + [p["PolicyDocument"] for p in role.get("Policies", [])]

    def _managed_policies(self) -> dict[str, dict[str, Any]]:
        return self.resources("AWS::IAM::ManagedPolicy")

    def tags(self, logical_id: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.roles()[logical_id].get("Tags", [])}

    def session_of(self, logical_id: str) -> dict[str, str]:
        """Request-context keys every call of this role's sessions carries (its principal tags)."""
        return {f"aws:PrincipalTag/{key}": value for key, value in self.tags(logical_id).items()}

    def may(self, logical_id: str, action: str, resource: str, **context: str) -> bool:
        request = {**self.session_of(logical_id), **{k.replace("__", ":"): v for k, v in context.items()}}
        return is_allowed(self.permission_policies(logical_id), action, resource, request)


_NO_VALUE: Any = object()


def deploy_role_ids(bootstrap: Bootstrap) -> list[str]:
    return [name for name in bootstrap.roles() if "DeployRole" in name]


def provider_arn(issuer: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"


# --- tokens: the role each legitimate token is for, and impostors ---------------------------


def github_token(sub: str, audience: str = "sts.amazonaws.com") -> tuple[dict[str, str], dict[str, str]]:
    principal = {"Federated": provider_arn(GITHUB_ISSUER)}
    return principal, {f"{GITHUB_ISSUER}:sub": sub, f"{GITHUB_ISSUER}:aud": audience}


def bitbucket_token(sub: str, audience_uuid: str = BITBUCKET_AUDIENCE_UUID) -> tuple[dict[str, str], dict[str, str]]:
    principal = {"Federated": provider_arn(BITBUCKET_ISSUER)}
    audience = f"ari:cloud:bitbucket::workspace/{audience_uuid}"
    return principal, {f"{BITBUCKET_ISSUER}:sub": sub, f"{BITBUCKET_ISSUER}:aud": audience}


def legitimate_tokens() -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Role logical ID -> the token of this repository's job in that role's environment."""
    tokens = {}
    for env in ENVIRONMENTS:
        suffix = env.capitalize()
        tokens[f"GitHubDeployRole{suffix}"] = github_token(
            f"repo:{GITHUB_REPOSITORY}:environment:{GITHUB_ENVIRONMENT[env]}"
        )
        tokens[f"BitbucketDeployRole{suffix}"] = bitbucket_token(
            f"{BITBUCKET_REPOSITORY}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}"
        )
    return tokens


def impostor_tokens() -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Tokens no deploy role may accept: each is one thing away from a legitimate one."""
    other_repository = "{0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a}"
    impostors = {
        "GitHub: this repository, main branch, no environment": github_token(
            f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main"
        ),
        "GitHub: this repository, a pull request": github_token(f"repo:{GITHUB_REPOSITORY}:pull_request"),
        "GitHub: this repository, an unknown environment": github_token(
            f"repo:{GITHUB_REPOSITORY}:environment:sandbox"
        ),
        "Bitbucket: this repository, a step without a deployment environment": bitbucket_token(
            f"{BITBUCKET_REPOSITORY}:{A_STEP}"
        ),
        "Bitbucket: this repository, an unknown deployment environment": bitbucket_token(
            f"{BITBUCKET_REPOSITORY}:{{99999999-0000-4000-8000-000000000000}}:{A_STEP}"
        ),
    }
    for env in ENVIRONMENTS:
        github_env = GITHUB_ENVIRONMENT[env]
        for label, repository in {
            "another owner's repository of the same name": "evil/mvdb",
            "a fork-like name sharing the prefix": "acme/mvdb-fork",
            "a repository whose name is a prefix": "acme/mvd",
        }.items():
            impostors[f"GitHub: {label}, environment {github_env}"] = github_token(
                f"repo:{repository}:environment:{github_env}"
            )
        impostors[f"GitHub: environment {github_env}, another audience"] = github_token(
            f"repo:{GITHUB_REPOSITORY}:environment:{github_env}", audience="https://github.com/acme"
        )
        impostors[f"Bitbucket: another repository, the {env} environment's UUID"] = bitbucket_token(
            f"{other_repository}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}"
        )
        impostors[f"Bitbucket: the {env} subject, another workspace's audience"] = bitbucket_token(
            f"{BITBUCKET_REPOSITORY}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}",
            audience_uuid="00000000-1111-4222-8333-444444444444",
        )
    # A legitimate token of one environment is an impostor for every other environment's role.
    for role, token in legitimate_tokens().items():
        impostors[f"the token for {role}"] = token
    return impostors


def trust_violations(bootstrap: Bootstrap) -> list[str]:
    """Every way a deploy role's trust is wrong: refuses its own token, or admits an impostor."""
    violations = []
    legitimate = legitimate_tokens()
    for role in deploy_role_ids(bootstrap):
        trust = bootstrap.trust_policy(role)
        principal, claims = legitimate[role]
        if not trust_admits(trust, principal, claims):
            violations.append(f"{role} refuses its own pipeline's token {claims}")
        for name, (impostor_principal, impostor_claims) in impostor_tokens().items():
            if name == f"the token for {role}":
                continue
            if trust_admits(trust, impostor_principal, impostor_claims):
                violations.append(f"{role} admits {name}: {impostor_claims}")
    return violations


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_bootstrap()


@pytest.fixture(scope="module")
def bootstrap(document: dict[str, Any]) -> Bootstrap:
    return Bootstrap(document, BOTH_CI_SYSTEMS)


# --- gates ----------------------------------------------------------------------------------


def run_cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CFN_LINT), "--regions", REGION, "--", str(path)], capture_output=True, text=True)


def run_checkov(path: Path, home: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is not installed: run `make .tools/checkov/.installed`"
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "cloudformation", "--output", "json", "--file", str(path)],
        capture_output=True,
        text=True,
        # A throwaway HOME: checkov writes its update-check cache there.
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "BC_SKIP_MAPPING": "TRUE"},
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def broken_copy(tmp_path: Path, anchor: str, replacement: str) -> Path:
    text = BOOTSTRAP.read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"the mutation anchor {anchor!r} must occur exactly once"
    copy_path = tmp_path / "bootstrap.yaml"
    copy_path.write_text(text.replace(anchor, replacement), encoding="utf-8")
    return copy_path


def test_cfn_lint_passes() -> None:
    result = run_cfn_lint(BOOTSTRAP)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_fails_on_a_copy_with_an_unknown_property(tmp_path: Path) -> None:
    broken = broken_copy(tmp_path, "      EnableKeyRotation: true\n", "      EnableKeyRotations: true\n")
    result = run_cfn_lint(broken)
    assert result.returncode != 0
    assert "EnableKeyRotations" in result.stdout


def test_checkov_passes_with_only_the_justified_skip(tmp_path: Path) -> None:
    report = run_checkov(BOOTSTRAP, home=tmp_path)
    summary = report["summary"]
    assert summary["failed"] == 0, [c["check_id"] + " " + c["resource"] for c in report["results"]["failed_checks"]]
    assert summary["passed"] > 50
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    assert skipped == {("CKV_AWS_18", "AWS::S3::Bucket.ArtifactsAccessLogsBucket")}


def test_checkov_fails_on_a_copy_whose_artifacts_bucket_is_unversioned_and_public(tmp_path: Path) -> None:
    anchor = """      VersioningConfiguration:
        Status: Enabled
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      OwnershipControls:
        Rules:
          - ObjectOwnership: BucketOwnerEnforced
      LoggingConfiguration:"""
    broken = broken_copy(tmp_path, anchor, "      LoggingConfiguration:")
    failed = {(c["check_id"], c["resource"]) for c in run_checkov(broken, home=tmp_path)["results"]["failed_checks"]}
    assert ("CKV_AWS_21", "AWS::S3::Bucket.ArtifactsBucket") in failed  # versioning
    assert ("CKV_AWS_53", "AWS::S3::Bucket.ArtifactsBucket") in failed  # public ACLs


# --- trust: who can assume what -------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected_roles"),
    [
        (GITHUB_ONLY, {f"GitHubDeployRole{e.capitalize()}" for e in ENVIRONMENTS}),
        (BITBUCKET_ONLY, {f"BitbucketDeployRole{e.capitalize()}" for e in ENVIRONMENTS}),
        (BOTH_CI_SYSTEMS, {f"{ci}DeployRole{e.capitalize()}" for ci in ("GitHub", "Bitbucket") for e in ENVIRONMENTS}),
    ],
    ids=["github-only", "bitbucket-only", "both"],
)
def test_each_ci_system_gets_one_deploy_role_per_environment(
    document: dict[str, Any], parameters: dict[str, str], expected_roles: set[str]
) -> None:
    assert set(deploy_role_ids(Bootstrap(document, parameters))) == expected_roles


def test_each_deploy_role_admits_only_this_repositorys_token_for_its_environment(bootstrap: Bootstrap) -> None:
    assert trust_violations(bootstrap) == []


@pytest.mark.parametrize("ci_system", ["GitHub", "Bitbucket"])
def test_prod_roles_admit_only_the_production_environment(bootstrap: Bootstrap, ci_system: str) -> None:
    trust = bootstrap.trust_policy(f"{ci_system}DeployRoleProd")
    admitted = [
        role for role, (principal, claims) in legitimate_tokens().items() if trust_admits(trust, principal, claims)
    ]
    assert admitted == [f"{ci_system}DeployRoleProd"]


def test_deploy_roles_trust_only_the_oidc_providers_with_aud_and_sub_pinned(bootstrap: Bootstrap) -> None:
    providers = {provider_arn(GITHUB_ISSUER), provider_arn(BITBUCKET_ISSUER)}
    for role in deploy_role_ids(bootstrap):
        for statement in bootstrap.trust_policy(role)["Statement"]:
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role
            assert set(statement["Principal"]) == {"Federated"}, role
            assert statement["Principal"]["Federated"] in providers, role
            conditions = statement["Condition"]
            assert set(conditions) <= {"StringEquals", "StringLike"}, role
            keys = [key for block in conditions.values() for key in block]
            issuer = statement["Principal"]["Federated"].split("oidc-provider/", 1)[1]
            assert sorted(keys) == [f"{issuer}:aud", f"{issuer}:sub"], role
            assert f"{issuer}:aud" in conditions["StringEquals"], f"{role}: the audience must be matched exactly"


def test_the_only_wildcard_in_a_subject_is_the_bitbucket_step(bootstrap: Bootstrap) -> None:
    for role in deploy_role_ids(bootstrap):
        for statement in bootstrap.trust_policy(role)["Statement"]:
            patterns = [v for block in statement["Condition"].values() for k, v in block.items() if k.endswith(":sub")]
            for pattern in patterns:
                wildcards = [i for i, c in enumerate(pattern) if c in "*?"]
                if role.startswith("GitHub"):
                    assert wildcards == [], f"{role}: {pattern}"
                else:
                    assert wildcards == [len(pattern) - 1] and pattern.count(":") == 2, f"{role}: {pattern}"


def test_no_role_trusts_everyone_or_an_account(bootstrap: Bootstrap) -> None:
    for role in bootstrap.roles():
        for statement in bootstrap.trust_policy(role)["Statement"]:
            principal = statement["Principal"]
            assert principal != "*", role
            assert "AWS" not in principal, f"{role} trusts an AWS account or principal: {principal}"
            for kind, values in principal.items():
                assert "*" not in values, f"{role}: {kind} {values}"


def test_execution_roles_are_assumable_by_cloudformation_only(bootstrap: Bootstrap) -> None:
    for env in ENVIRONMENTS:
        trust = bootstrap.trust_policy(f"CloudFormationExecutionRole{env.capitalize()}")
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "cloudformation.amazonaws.com"}]


@pytest.mark.parametrize(
    ("parameter", "wildcard_value"),
    [
        ("GitHubRepository", "acme/*"),
        ("GitHubRepository", "*"),
        ("GitHubRepository", "acme/mvdb*"),
        ("GitHubRepository", "acme/mvdb:*"),
        ("BitbucketRepositoryUuid", "{*}"),
        ("BitbucketRepositoryUuid", "*"),
        ("BitbucketProductionEnvironmentUuid", "*"),
        ("BitbucketWorkspaceUuid", "*"),
        ("BitbucketWorkspace", "acme*"),
    ],
)
def test_parameters_refuse_wildcards(document: dict[str, Any], parameter: str, wildcard_value: str) -> None:
    pattern = document["Parameters"][parameter]["AllowedPattern"]
    assert re.fullmatch(pattern, wildcard_value) is None
    assert re.fullmatch(pattern, BOTH_CI_SYSTEMS[parameter]) is not None


# The mutation tests: the trust check above must catch a trust policy that admits too much.
def widen_subject(document: dict[str, Any], role: str, widened: str) -> dict[str, Any]:
    """A copy of the template whose ``role`` matches ``sub`` against ``widened`` with StringLike."""
    mutated = copy.deepcopy(document)
    trust = mutated["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    if "Fn::Sub" in trust:  # the Bitbucket roles: JSON text, sub already under StringLike
        text, variables = trust["Fn::Sub"]
        text, count = re.subn(r'(:sub": )"[^"]*"', lambda m: f'{m.group(1)}"{widened}"', text)
        assert count == 1
        trust["Fn::Sub"] = [text, variables]
    else:  # the GitHub roles: sub moves from StringEquals to StringLike
        condition = trust["Statement"][0]["Condition"]
        (sub_key,) = [key for key in condition["StringEquals"] if key.endswith(":sub")]
        del condition["StringEquals"][sub_key]
        condition.setdefault("StringLike", {})[sub_key] = {"Fn::Sub": widened}
    return mutated


@pytest.mark.parametrize(
    ("role", "widened"),
    [
        ("GitHubDeployRoleDev", "repo:${GitHubRepository}:*"),
        ("GitHubDeployRoleProd", "repo:acme/*:environment:production"),
        ("GitHubDeployRoleStaging", "repo:${GitHubRepository}*:environment:staging"),
        ("BitbucketDeployRoleProd", "${BitbucketRepositoryUuid}:*"),
        ("BitbucketDeployRoleStaging", "*:${BitbucketStagingEnvironmentUuid}:*"),
    ],
    ids=[
        "github-dev-any-ref-of-the-repo",
        "github-prod-any-repo-of-the-org",
        "github-staging-name-prefix",
        "bitbucket-prod-any-step-of-the-repo",
        "bitbucket-staging-any-repo",
    ],
)
def test_trust_check_catches_a_widened_subject(document: dict[str, Any], role: str, widened: str) -> None:
    assert trust_violations(Bootstrap(document, BOTH_CI_SYSTEMS)) == []

    violations = trust_violations(Bootstrap(widen_subject(document, role, widened), BOTH_CI_SYSTEMS))

    assert violations, f"widening {role}'s sub to {widened!r} went unnoticed"
    assert all(v.startswith(f"{role} admits") for v in violations), violations


# --- permissions: what each role may do -----------------------------------------------------


def stack_arn(env: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{APP}-{env}/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def execution_role_arn(env: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{APP}-cfn-exec-{env}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("ci_system", ["GitHub", "Bitbucket"])
def test_deploy_role_changes_only_its_stack_and_only_through_its_execution_role(
    bootstrap: Bootstrap, ci_system: str, env: str
) -> None:
    role = f"{ci_system}DeployRole{env.capitalize()}"
    create = "cloudformation:CreateChangeSet"
    assert bootstrap.may(role, create, stack_arn(env), cloudformation__RoleArn=execution_role_arn(env))
    assert not bootstrap.may(role, create, stack_arn(env)), "a change set without the execution role"
    for other in set(ENVIRONMENTS) - {env}:
        assert not bootstrap.may(role, create, stack_arn(other), cloudformation__RoleArn=execution_role_arn(other))
        assert not bootstrap.may(role, "cloudformation:ExecuteChangeSet", stack_arn(other))
    assert bootstrap.may(role, "cloudformation:ExecuteChangeSet", stack_arn(env))
    assert not bootstrap.may(role, "cloudformation:DeleteStack", stack_arn(env))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_passes_only_its_execution_role_and_only_to_cloudformation(bootstrap: Bootstrap, env: str) -> None:
    role = f"GitHubDeployRole{env.capitalize()}"
    to_cloudformation = {"iam__PassedToService": "cloudformation.amazonaws.com"}
    assert bootstrap.may(role, "iam:PassRole", execution_role_arn(env), **to_cloudformation)
    assert not bootstrap.may(role, "iam:PassRole", execution_role_arn(env), iam__PassedToService="lambda.amazonaws.com")
    for other in set(ENVIRONMENTS) - {env}:
        assert not bootstrap.may(role, "iam:PassRole", execution_role_arn(other), **to_cloudformation)
    function_role = f"arn:aws:iam::{ACCOUNT}:role/{APP}-{env}-MoviesFunctionRole-ABC123"
    assert not bootstrap.may(role, "iam:PassRole", function_role, iam__PassedToService="lambda.amazonaws.com")


def test_deploy_roles_cannot_import_existing_resources_into_their_stack(bootstrap: Bootstrap) -> None:
    assert not bootstrap.may(
        "GitHubDeployRoleDev",
        "cloudformation:CreateChangeSet",
        stack_arn("dev"),
        cloudformation__RoleArn=execution_role_arn("dev"),
        cloudformation__ImportResourceTypes="AWS::DynamoDB::Table",
    )


def test_deploy_roles_can_use_the_sam_transform(bootstrap: Bootstrap) -> None:
    transform = f"arn:aws:cloudformation:{REGION}:aws:transform/Serverless-2016-10-31"
    assert bootstrap.may("BitbucketDeployRoleProd", "cloudformation:CreateChangeSet", transform)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_moves_only_this_applications_artifacts(bootstrap: Bootstrap, env: str) -> None:
    role = f"BitbucketDeployRole{env.capitalize()}"
    bucket = "arn:aws:s3:::artifactsbucket"
    assert bootstrap.may(role, "s3:PutObject", f"{bucket}/{APP}/0123456789abcdef0123456789abcdef")
    assert bootstrap.may(role, "s3:GetObject", f"{bucket}/{APP}/packaged.template")
    assert not bootstrap.may(role, "s3:PutObject", f"{bucket}/another-app/x")
    assert not bootstrap.may(role, "s3:DeleteObject", f"{bucket}/{APP}/x")
    assert bootstrap.may(role, "s3:ListBucket", bucket, s3__prefix=f"{APP}/")
    assert not bootstrap.may(role, "s3:ListBucket", bucket, s3__prefix="another-app/")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_reads_what_the_deployed_tests_check_and_nothing_of_other_environments(
    bootstrap: Bootstrap, env: str
) -> None:
    role = f"GitHubDeployRole{env.capitalize()}"
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{APP}-{env}-MoviesTable-1A2B3C"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{APP}-{env}-MoviesFunction-1A2B3C"
    reads = {
        "cloudformation:DescribeStacks": stack_arn(env),
        "cognito-idp:DescribeUserPoolClient": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123",
        "dynamodb:DescribeTable": table,
        "dynamodb:DescribeContinuousBackups": table,
        "lambda:GetAlias": f"{function}:live",
        "lambda:ListVersionsByFunction": function,
    }
    for action, resource in reads.items():
        assert bootstrap.may(role, action, resource), action
    other = next(e for e in ENVIRONMENTS if e != env)
    assert not bootstrap.may(role, "dynamodb:DescribeTable", table.replace(f"-{env}-", f"-{other}-"))
    assert not bootstrap.may(role, "dynamodb:GetItem", table), "deploy roles never read data"
    assert not bootstrap.may(role, "lambda:UpdateAlias", f"{function}:live"), "no change outside CloudFormation"


STACK_NAME_TAG = "aws:ResourceTag/aws:cloudformation:stack-name"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_signs_only_with_the_signing_profile_of_its_own_stack(bootstrap: Bootstrap, env: str) -> None:
    # `sam package --signing-profiles` starts a signing job with the stack's profile and waits for it.
    role = f"GitHubDeployRole{env.capitalize()}"
    profile = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/SigningProfile_a1b2c3d4e5"
    own_stack = {STACK_NAME_TAG: f"{APP}-{env}"}
    for action in ("signer:StartSigningJob", "signer:GetSigningProfile"):
        assert bootstrap.may(role, action, profile, **own_stack), action
        for other in (e for e in ENVIRONMENTS if e != env):
            assert not bootstrap.may(role, action, profile, **{STACK_NAME_TAG: f"{APP}-{other}"}), (action, other)
        assert not bootstrap.may(role, action, profile), f"{action} on a profile no stack of ours made"
    assert bootstrap.may(role, "signer:DescribeSigningJob", f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-jobs/a1b2")
    # Signing, never managing: profiles are created, cancelled and revoked by CloudFormation only.
    for action in ("signer:PutSigningProfile", "signer:CancelSigningProfile", "signer:RevokeSigningProfile"):
        assert not bootstrap.may(role, action, profile, **own_stack), action


def test_no_allow_grants_a_whole_service(bootstrap: Bootstrap) -> None:
    for role in bootstrap.roles():
        for document in bootstrap.permission_policies(role):
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if statement["Effect"] == "Allow":
                    assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{role}: {statement['Sid']}"


# Actions IAM cannot scope to a resource (they create the resource, or act on a template body
# or on account-wide log delivery), so "Resource": "*" is unavoidable for exactly these.
UNSCOPABLE_ACTIONS = {
    "cloudformation:ValidateTemplate",
    "cloudformation:GetTemplateSummary",
    "cognito-idp:CreateUserPool",
    "cognito-idp:DescribeUserPoolDomain",
    "kms:CreateKey",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:PutQueryDefinition",
    "logs:DeleteQueryDefinition",
    "logs:DescribeQueryDefinitions",
    "lambda:CreateCodeSigningConfig",
    "signer:PutSigningProfile",
}


def test_resource_star_only_for_actions_iam_cannot_scope(bootstrap: Bootstrap) -> None:
    for role in bootstrap.roles():
        for document in bootstrap.permission_policies(role):
            for statement in document["Statement"]:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                if statement["Effect"] == "Allow" and "*" in resources:
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert set(actions) <= UNSCOPABLE_ACTIONS, f"{role}: {statement['Sid']}: {actions}"


def test_every_pipeline_role_is_tagged_with_the_environment_its_name_says(bootstrap: Bootstrap) -> None:
    pipeline_roles = [r for r in bootstrap.roles() if "DeployRole" in r or "ExecutionRole" in r]
    assert len(pipeline_roles) == 9
    for role in pipeline_roles:
        env = role.rsplit("Role", 1)[1].lower()
        assert bootstrap.tags(role)["DeploymentEnvironment"] == env, role
        assert bootstrap.roles()[role]["RoleName"].endswith(f"-{env}"), role


def test_managed_policies_fit_iams_size_limit(bootstrap: Bootstrap) -> None:
    for name, policy in bootstrap.resources("AWS::IAM::ManagedPolicy").items():
        size = len(re.sub(r"\s", "", json.dumps(policy["PolicyDocument"])))
        assert size <= 6144, f"{name} is {size} characters; IAM refuses managed policies over 6,144"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_cannot_change_itself_or_a_deploy_role(bootstrap: Bootstrap, env: str) -> None:
    role = f"CloudFormationExecutionRole{env.capitalize()}"
    for target in (f"{APP}-cfn-exec-{env}", f"{APP}-github-deploy-{env}", f"{APP}-bitbucket-deploy-prod"):
        for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:TagRole"):
            assert not bootstrap.may(role, action, f"arn:aws:iam::{ACCOUNT}:role/{target}"), (action, target)
    stack_role = f"arn:aws:iam::{ACCOUNT}:role/{APP}-{env}-MoviesFunctionRole-1A2B3C"
    assert bootstrap.may(role, "iam:PutRolePolicy", stack_role)


def test_execution_role_attaches_only_the_aws_policies_sam_uses(bootstrap: Bootstrap) -> None:
    role = "CloudFormationExecutionRoleDev"
    target = f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-CodeDeployServiceRole-1A2B3C"
    sam_policy = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"
    assert bootstrap.may(role, "iam:AttachRolePolicy", target, iam__PolicyARN=sam_policy)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert not bootstrap.may(role, "iam:AttachRolePolicy", target, iam__PolicyARN=admin)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_pipeline_identity_can_delete_a_table_or_disable_a_key(bootstrap: Bootstrap, env: str) -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{APP}-{env}-MoviesTable-1A2B3C"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-0000-4000-8000-000000000000"
    for role in (f"CloudFormationExecutionRole{env.capitalize()}", f"GitHubDeployRole{env.capitalize()}"):
        assert not bootstrap.may(role, "dynamodb:DeleteTable", table)
        assert not bootstrap.may(role, "kms:ScheduleKeyDeletion", key)
        assert not bootstrap.may(role, "kms:DisableKey", key)


# --- the execution policy against the application template ----------------------------------


def _generated_name(stack: str, logical_id: str) -> str:
    return f"{stack}-{logical_id}-1A2B3C4D5E6F"


@functools.cache
def _translated_app_resources() -> dict[str, Any]:
    """Every resource of the application: the root translated, its nested stacks linked in."""
    from tests.infra.conftest import OFFLINE_PARAMETERS, link_application
    from tools.build.sam_translate import load_sam_template, translate

    translated = translate(load_sam_template(APP_TEMPLATE), region=REGION, parameter_values=OFFLINE_PARAMETERS)
    resources: dict[str, Any] = link_application(translated, APP_TEMPLATE)["Resources"]
    return resources


class AppStack:
    """infra/template.yaml translated by the SAM transform, with names as CloudFormation gives them."""

    def __init__(self, env: str) -> None:
        self.stack = f"{APP}-{env}"
        self.resources = _translated_app_resources()

    def name(self, logical_id: str, name_property: str | None) -> str:
        properties = self.resources[logical_id].get("Properties", {})
        explicit = properties.get(name_property) if name_property else None
        if explicit is None:
            return _generated_name(self.stack, logical_id)
        if isinstance(explicit, dict) and set(explicit) == {"Fn::Sub"} and isinstance(explicit["Fn::Sub"], str):
            return explicit["Fn::Sub"].replace("${AWS::StackName}", self.stack).replace("${RootStackName}", self.stack)
        if isinstance(explicit, str):
            return explicit
        raise AssertionError(f"{logical_id}.{name_property} = {explicit!r} is not modelled")

    def function_name(self, reference: Any) -> str:
        """A FunctionName/TopicArn-like Ref to a function, version or alias of this template."""
        logical_id = reference["Ref"]
        resource = self.resources[logical_id]
        if resource["Type"] == "AWS::Lambda::Function":
            return self.name(logical_id, "FunctionName")
        return self.function_name(resource["Properties"]["FunctionName"])


def _partition_aws(arn: Any) -> Any:
    """A managed policy ARN written with !Sub ${AWS::Partition}, in the aws partition."""
    if isinstance(arn, dict) and isinstance(arn.get("Fn::Sub"), str):
        return arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
    return arn


def _requests_to_create(app: AppStack, logical_id: str) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource ARN, request context) CloudFormation sends to create this resource."""
    resource = app.resources[logical_id]
    properties = resource.get("Properties", {})
    region_account = f"{REGION}:{ACCOUNT}"
    generated_id = "a1b2c3d4e5"
    kind = resource["Type"]
    if kind == "AWS::IAM::Role":
        arn = f"arn:aws:iam::{ACCOUNT}:role/{app.name(logical_id, 'RoleName')}"
        requests = [("iam:CreateRole", arn, {}), ("iam:PutRolePolicy", arn, {})]
        return requests + [
            ("iam:AttachRolePolicy", arn, {"iam:PolicyARN": _partition_aws(p)})
            for p in properties.get("ManagedPolicyArns", [])
        ]
    if kind == "AWS::Lambda::Function":
        arn = f"arn:aws:lambda:{region_account}:function:{app.name(logical_id, 'FunctionName')}"
        role = app.name(properties["Role"]["Fn::GetAtt"][0], "RoleName")
        return [
            ("lambda:CreateFunction", arn, {}),
            ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}", {"iam:PassedToService": "lambda.amazonaws.com"}),
            ("s3:GetObject", f"arn:aws:s3:::artifactsbucket/{APP}/0123456789abcdef", {}),
        ]
    if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::Lambda::Permission"):
        action = {"AWS::Lambda::Version": "PublishVersion", "AWS::Lambda::Alias": "CreateAlias"}.get(
            kind, "AddPermission"
        )
        function = app.function_name(properties["FunctionName"])
        return [(f"lambda:{action}", f"arn:aws:lambda:{region_account}:function:{function}", {})]
    if kind == "AWS::Logs::LogGroup":
        return [
            (
                "logs:CreateLogGroup",
                f"arn:aws:logs:{region_account}:log-group:{app.name(logical_id, 'LogGroupName')}",
                {},
            )
        ]
    if kind == "AWS::DynamoDB::Table":
        return [
            ("dynamodb:CreateTable", f"arn:aws:dynamodb:{region_account}:table/{app.name(logical_id, 'TableName')}", {})
        ]
    if kind == "AWS::KMS::Key":
        key = f"arn:aws:kms:{region_account}:key/0b1c2d3e-0000-4000-8000-000000000000"
        return [("kms:CreateKey", "*", {}), ("kms:EnableKeyRotation", key, {})]
    if kind == "AWS::KMS::Alias":
        return [("kms:CreateAlias", f"arn:aws:kms:{region_account}:{app.name(logical_id, 'AliasName')}", {})]
    if kind == "AWS::SNS::Topic":
        return [("sns:CreateTopic", f"arn:aws:sns:{region_account}:{app.name(logical_id, 'TopicName')}", {})]
    if kind == "AWS::SNS::Subscription":
        topic = app.name(properties["TopicArn"]["Ref"], "TopicName")
        return [("sns:Subscribe", f"arn:aws:sns:{region_account}:{topic}", {})]
    if kind == "AWS::CloudWatch::Alarm":
        return [
            (
                "cloudwatch:PutMetricAlarm",
                f"arn:aws:cloudwatch:{region_account}:alarm:{app.name(logical_id, 'AlarmName')}",
                {},
            )
        ]
    if kind == "AWS::WAFv2::WebACL":
        arn = f"arn:aws:wafv2:{region_account}:regional/webacl/{app.name(logical_id, 'Name')}/{generated_id}"
        return [("wafv2:CreateWebACL", arn, {})]
    if kind in ("AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration"):
        acl = next(r for r, v in app.resources.items() if v["Type"] == "AWS::WAFv2::WebACL")
        acl_arn = f"arn:aws:wafv2:{region_account}:regional/webacl/{app.name(acl, 'Name')}/{generated_id}"
        stage = f"arn:aws:apigateway:{REGION}::/restapis/{generated_id}/stages/dev"
        if kind == "AWS::WAFv2::WebACLAssociation":
            return [("wafv2:AssociateWebACL", acl_arn, {}), ("apigateway:SetWebACL", stage, {})]
        return [("wafv2:PutLoggingConfiguration", acl_arn, {}), ("logs:CreateLogDelivery", "*", {})]
    if kind.startswith("AWS::ApiGateway::"):
        collection = {"RestApi": "/restapis", "Deployment": f"/restapis/{generated_id}/deployments"}
        path = collection.get(kind.rsplit("::", 1)[1], f"/restapis/{generated_id}/stages")
        return [("apigateway:POST", f"arn:aws:apigateway:{REGION}::{path}", {})]
    if kind == "AWS::Cognito::UserPool":
        return [("cognito-idp:CreateUserPool", "*", {})]
    if kind.startswith("AWS::Cognito::UserPool"):
        action = {
            "AWS::Cognito::UserPoolClient": "CreateUserPoolClient",
            "AWS::Cognito::UserPoolDomain": "CreateUserPoolDomain",
            "AWS::Cognito::UserPoolResourceServer": "CreateResourceServer",
        }[kind]
        return [(f"cognito-idp:{action}", f"arn:aws:cognito-idp:{region_account}:userpool/{REGION}_AbCdEf123", {})]
    if kind == "AWS::Signer::SigningProfile":
        profile = f"arn:aws:signer:{region_account}:/signing-profiles/SigningProfile_{generated_id}"
        return [("signer:PutSigningProfile", "*", {}), ("signer:TagResource", profile, {})]
    if kind == "AWS::Lambda::CodeSigningConfig":
        return [("lambda:CreateCodeSigningConfig", "*", {})]
    if kind == "AWS::CloudWatch::CompositeAlarm":
        name = app.name(logical_id, "AlarmName")
        return [("cloudwatch:PutCompositeAlarm", f"arn:aws:cloudwatch:{region_account}:alarm:{name}", {})]
    if kind == "AWS::CloudWatch::Dashboard":
        name = app.name(logical_id, "DashboardName")
        return [("cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}", {})]
    if kind == "AWS::Logs::QueryDefinition":
        return [("logs:PutQueryDefinition", "*", {})]
    if kind in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy"):
        bucket_id = logical_id if kind == "AWS::S3::Bucket" else properties["Bucket"]["Ref"]
        bucket = f"arn:aws:s3:::{app.name(bucket_id, 'BucketName').lower()}"  # S3 names are lowercase
        if kind == "AWS::S3::BucketPolicy":
            return [("s3:PutBucketPolicy", bucket, {})]
        return [
            (f"s3:{action}", bucket, {})
            for action in (
                "CreateBucket",
                "PutEncryptionConfiguration",
                "PutBucketVersioning",
                "PutBucketPublicAccessBlock",
                "PutBucketOwnershipControls",
                "PutLifecycleConfiguration",
            )
        ]
    if kind == "AWS::Synthetics::Canary":
        # Synthetics creates the canary's function and layer, cwsyn-<canary>-<id>, as the caller.
        canary = app.name(logical_id, "Name")
        role = app.name(properties["ExecutionRoleArn"]["Fn::GetAtt"][0], "RoleName")
        return [
            ("synthetics:CreateCanary", f"arn:aws:synthetics:{region_account}:canary:{canary}", {}),
            ("lambda:CreateFunction", f"arn:aws:lambda:{region_account}:function:cwsyn-{canary}-{generated_id}", {}),
            ("lambda:PublishLayerVersion", f"arn:aws:lambda:{region_account}:layer:cwsyn-{canary}-{generated_id}", {}),
            ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}", {"iam:PassedToService": "lambda.amazonaws.com"}),
        ]
    if kind == "AWS::CodeDeploy::Application":
        name = app.name(logical_id, "ApplicationName")
        return [("codedeploy:CreateApplication", f"arn:aws:codedeploy:{region_account}:application:{name}", {})]
    if kind == "AWS::CodeDeploy::DeploymentGroup":
        application = app.name(properties["ApplicationName"]["Ref"], "ApplicationName")
        group = app.name(logical_id, "DeploymentGroupName")
        role = app.name(properties["ServiceRoleArn"]["Fn::GetAtt"][0], "RoleName")
        return [
            (
                "codedeploy:CreateDeploymentGroup",
                f"arn:aws:codedeploy:{region_account}:deploymentgroup:{application}/{group}",
                {},
            ),
            (
                "iam:PassRole",
                f"arn:aws:iam::{ACCOUNT}:role/{role}",
                {"iam:PassedToService": "codedeploy.amazonaws.com"},
            ),
        ]
    raise AssertionError(
        f"{logical_id} is a {kind}, which the execution policy was not written for: extend "
        "ExecutionPolicy* in infra/bootstrap.yaml and this mapping together"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_can_create_every_resource_of_the_application_stack(bootstrap: Bootstrap, env: str) -> None:
    app = AppStack(env)
    role = f"CloudFormationExecutionRole{env.capitalize()}"
    refused = [
        f"{logical_id}: {action} on {arn}"
        for logical_id in app.resources
        for action, arn, context in _requests_to_create(app, logical_id)
        if not bootstrap.may(role, action, arn, **{k.replace(":", "__"): v for k, v in context.items()})
    ]
    assert refused == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_cannot_create_another_environments_resources(bootstrap: Bootstrap, env: str) -> None:
    other = next(e for e in ENVIRONMENTS if e != env)
    app = AppStack(other)
    role = f"CloudFormationExecutionRole{env.capitalize()}"
    named_after_the_stack = [
        (logical_id, action, arn)
        for logical_id in app.resources
        for action, arn, _ in _requests_to_create(app, logical_id)
        if app.stack in arn and not action.startswith(("iam:PassRole", "s3:"))
    ]
    assert len(named_after_the_stack) > 20
    allowed = [
        (logical_id, action) for logical_id, action, arn in named_after_the_stack if bootstrap.may(role, action, arn)
    ]
    assert allowed == []


def test_wildcard_matching_follows_iam() -> None:
    assert wildcard_match("repo:acme/mvdb:*", "repo:acme/mvdb:environment:dev")
    assert not wildcard_match("repo:acme/mvdb:*", "repo:acme/mvdb-fork:environment:dev")
    assert wildcard_match("{r}:{e}:*", "{r}:{e}:{step}")
    assert not wildcard_match("{r}:{e}:*", "{r}:{step}")
    assert wildcard_match("a?c", "abc") and not wildcard_match("a?c", "ac")
