"""bitbucket-pipelines.yml keeps the promises docs/cicd.md makes about it.

Gates on every push and pull request; on main: build once, deploy with OIDC into deployment
environments (which Bitbucket runs one at a time), manual triggers before staging and
production, deployed tests after every deploy; no stored AWS keys.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest

from tests.pipelines.conftest import BITBUCKET_PIPELINES, PROJECT_ROOT

# What pipelines/bitbucket-image-setup.sh adds for each need it is given; the image has Python, make and git.
SETUP_PROVIDES = {"java": {"java"}, "node": {"node", "npm"}}
IMAGE_PROVIDES = {"python3", "make", "git"}
DEPLOYMENTS = {"dev": "mvdb-dev", "staging": "mvdb-staging", "production": "mvdb-prod"}
PREDEFINED_CACHES = {"pip", "node", "docker", "maven", "gradle", "composer", "dotnetcore", "ivy2", "sbt"}


def items_of(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps of a pipeline in order, parallel groups flattened."""
    flat = []
    for item in pipeline:
        if "parallel" in item:
            flat.extend(entry["step"] for entry in item["parallel"]["steps"])
        else:
            flat.append(item["step"])
    return flat


def all_steps(bitbucket: dict[str, Any]) -> list[dict[str, Any]]:
    pipelines = bitbucket["pipelines"]
    groups = [pipelines["default"], *pipelines["pull-requests"].values(), *pipelines["branches"].values()]
    return [step for group in groups for step in items_of(group)]


def main_steps(bitbucket: dict[str, Any]) -> list[dict[str, Any]]:
    return items_of(bitbucket["pipelines"]["branches"]["main"])


def deployment_steps(bitbucket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["deployment"]: step for step in main_steps(bitbucket) if "deployment" in step}


def gate_steps_missing_from(bitbucket: dict[str, Any], group: list[dict[str, Any]]) -> list[str]:
    """The names of the default pipeline's steps (every push's gates) that ``group`` does not run as they are."""
    steps = items_of(group)
    return [step["name"] for step in items_of(bitbucket["pipelines"]["default"]) if step not in steps]


# Which gates every push runs is derived from make test (tests/build/test_make_test_suites.py), not listed here.
@pytest.mark.parametrize("pipeline", ["pull-requests", "main"])
def test_pull_requests_and_main_run_every_gate_of_every_push(bitbucket: dict[str, Any], pipeline: str) -> None:
    pipelines = bitbucket["pipelines"]
    group = pipelines["pull-requests"]["**"] if pipeline == "pull-requests" else pipelines["branches"]["main"]
    assert items_of(pipelines["default"]) and gate_steps_missing_from(bitbucket, group) == []


def test_the_gate_check_sees_a_pull_request_pipeline_without_a_gate(bitbucket: dict[str, Any]) -> None:
    gates = bitbucket["pipelines"]["default"][0]["parallel"]
    without_lint = [{"parallel": {**gates, "steps": gates["steps"][1:]}}]
    assert gate_steps_missing_from(bitbucket, without_lint) == [gates["steps"][0]["step"]["name"]]


def tools_checked_by(script: list[str]) -> set[str]:
    """The tools the recipes of the script's make targets check for (`command -v`), fresh clone (`make -n -B`)."""
    targets = [word for line in script if line.startswith("make ") for word in line.split()[1:] if "=" not in word]
    if not targets:
        return set()
    commands = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", *targets],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(re.findall(r"\bcommand -v ([\w.+-]+)", commands))


def tools_installed_by(script: list[str]) -> set[str]:
    setup = [line.split()[1:] for line in script if line.startswith("./pipelines/bitbucket-image-setup.sh")]
    return IMAGE_PROVIDES | {tool for needs in setup for need in needs for tool in SETUP_PROVIDES[need]}


def test_each_gate_step_installs_every_tool_its_make_targets_check_for(bitbucket: dict[str, Any]) -> None:
    for step in items_of(bitbucket["pipelines"]["default"]):
        missing = tools_checked_by(step["script"]) - tools_installed_by(step["script"])
        assert missing == set(), step["name"]


def test_the_tool_check_sees_a_step_that_does_not_install_what_its_targets_need(bitbucket: dict[str, Any]) -> None:
    # The lint step before it installed Node.js for Spectral.
    script = ["make lint typecheck check-openapi"]
    assert tools_checked_by(script) - tools_installed_by(script) == {"node"}


def test_only_main_deploys_in_order_dev_staging_production(bitbucket: dict[str, Any]) -> None:
    assert list(deployment_steps(bitbucket)) == ["dev", "staging", "production"]
    elsewhere = [s for s in all_steps(bitbucket) if "deployment" in s and s not in main_steps(bitbucket)]
    assert elsewhere == []


def test_staging_and_production_wait_for_a_manual_trigger(bitbucket: dict[str, Any]) -> None:
    deployments = deployment_steps(bitbucket)
    assert deployments["staging"]["trigger"] == "manual"
    assert deployments["production"]["trigger"] == "manual"
    assert deployments["dev"].get("trigger", "automatic") == "automatic"


def test_deploy_steps_and_only_they_get_an_oidc_token(bitbucket: dict[str, Any]) -> None:
    for step in all_steps(bitbucket):
        assert step.get("oidc", False) == ("deployment" in step), step["name"]


def test_deploy_steps_assume_their_role_through_oidc_before_any_aws_call(bitbucket: dict[str, Any]) -> None:
    for environment, step in deployment_steps(bitbucket).items():
        script = step["script"]
        assume = script.index("source ./pipelines/bitbucket-oidc-credentials.sh")
        first_aws_call = min(i for i, line in enumerate(script) if line.startswith(("make package", "make deploy")))
        assert assume < first_aws_call, environment


def test_no_aws_key_is_stored_or_passed() -> None:
    text = BITBUCKET_PIPELINES.read_text(encoding="utf-8")
    assert not re.search(r"AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws configure", text)


def test_the_zips_are_built_once_and_each_environment_packages_and_signs_them_itself(
    bitbucket: dict[str, Any],
) -> None:
    steps = main_steps(bitbucket)
    builders = [s["name"] for s in steps if "make build" in s["script"]]
    assert builders == ["Build the Lambda artifacts once"]
    build = next(s for s in steps if s["name"] in builders)
    assert build["artifacts"] == ["build/lambda/**"]
    for environment, step in deployment_steps(bitbucket).items():
        script, env = step["script"], "prod" if environment == "production" else environment
        assert not [c for c in script if c.startswith("make build")], environment
        # Each environment signs with its own profile: prod's signature is made only by prod's role.
        assert script.index(f"make package ENV={env}") + 1 == script.index(f"make deploy-artifact ENV={env}")
        assert "artifacts" not in step, f"{environment} hands nothing to a later environment"


def test_every_deploy_is_followed_by_the_deployed_tests_of_that_stack(bitbucket: dict[str, Any]) -> None:
    for environment, step in deployment_steps(bitbucket).items():
        script = step["script"]
        env = "prod" if environment == "production" else environment
        deploy = script.index(f"make deploy-artifact ENV={env}")
        assert script[deploy + 1] == f"make test-e2e STACK_NAME={DEPLOYMENTS[environment]}", environment


def test_steps_use_only_defined_caches(bitbucket: dict[str, Any]) -> None:
    defined = set(bitbucket["definitions"]["caches"]) | PREDEFINED_CACHES
    for step in all_steps(bitbucket):
        assert set(step.get("caches", [])) <= defined, step["name"]


def test_every_step_is_named_and_time_boxed(bitbucket: dict[str, Any]) -> None:
    assert bitbucket["options"]["max-time"] <= 25
    for step in all_steps(bitbucket):
        assert step["name"], step
        assert step.get("max-time", bitbucket["options"]["max-time"]) <= 45, step["name"]


# The credential script refuses to run half-configured, before any AWS call.
@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("BITBUCKET_STEP_OIDC_TOKEN", "the step needs 'oidc: true'"),
        ("AWS_DEPLOY_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN is not set"),
        ("AWS_REGION", "AWS_REGION is not set"),
    ],
)
def test_oidc_credentials_script_refuses_a_missing_setting(unset: str, message: str) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "BITBUCKET_STEP_OIDC_TOKEN": "header.payload.signature",
        "AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/mvdb-bitbucket-deploy-dev",
        "AWS_REGION": "eu-west-1",
        "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "dev",
    }
    del environment[unset]
    result = subprocess.run(
        ["bash", "-c", "source ./pipelines/bitbucket-oidc-credentials.sh && echo sourced"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "sourced" not in result.stdout
