"""The GitHub Actions workflows keep the promises docs/cicd.md makes about them.

Supply chain (actions pinned by SHA), least privilege (read-only token, OIDC only where a job
deploys), safe promotion (build once, one deploy per environment at a time, approvals through
environments, deployed tests after every deploy) and no stored AWS keys.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.pipelines.conftest import CI_WORKFLOW, DEPLOY_WORKFLOW, WORKFLOWS, load_yaml

PINNED_ACTION = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+){0,2}\s*$")
DEPLOY_ENVIRONMENTS = {"deploy-dev": "dev", "deploy-staging": "staging", "deploy-prod": "production"}
STACKS = {"dev": "mvdb-dev", "staging": "mvdb-staging", "production": "mvdb-prod"}


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    on: dict[str, Any] = workflow.get("on", workflow.get(True))
    return on


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in steps(job) if "run" in step]


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(job) if "uses" in step]


def all_jobs(ci: dict[str, Any], deploy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**{f"ci/{k}": v for k, v in ci["jobs"].items()}, **{f"deploy/{k}": v for k, v in deploy["jobs"].items()}}


def test_the_same_action_is_pinned_to_the_same_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for match in filter(None, map(PINNED_ACTION.match, path.read_text(encoding="utf-8").splitlines())):
            pins.setdefault(match.group(1), set()).add(match.group(2))
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_workflow_token_can_only_read_the_repository(path: Any) -> None:
    assert load_yaml(path)["permissions"] == {"contents": "read"}


def test_only_deploy_jobs_can_request_an_oidc_token(
    ci_workflow: dict[str, Any], deploy_workflow: dict[str, Any]
) -> None:
    with_id_token = {
        name
        for name, job in all_jobs(ci_workflow, deploy_workflow).items()
        if job.get("permissions", {}).get("id-token") not in (None, "none")
    }
    assert with_id_token == {f"deploy/{job}" for job in DEPLOY_ENVIRONMENTS}
    for job in DEPLOY_ENVIRONMENTS:
        assert deploy_workflow["jobs"][job]["permissions"] == {"contents": "read", "id-token": "write"}


def test_aws_credentials_come_only_from_oidc_in_deploy_jobs(
    ci_workflow: dict[str, Any], deploy_workflow: dict[str, Any]
) -> None:
    for name, job in all_jobs(ci_workflow, deploy_workflow).items():
        configures_aws = "aws-actions/configure-aws-credentials" in uses(job)
        assert configures_aws == (name.removeprefix("deploy/") in DEPLOY_ENVIRONMENTS), name
        for step in steps(job):
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials"):
                assert set(step["with"]) == {"role-to-assume", "role-session-name", "aws-region"}, name
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY", text), path.name


def test_deploy_jobs_run_one_at_a_time_per_environment_and_are_never_cancelled(deploy_workflow: dict[str, Any]) -> None:
    for job_name, environment in DEPLOY_ENVIRONMENTS.items():
        job = deploy_workflow["jobs"][job_name]
        assert job["environment"] == environment
        assert job["concurrency"] == {"group": job_name, "cancel-in-progress": False}


def test_promotion_goes_dev_then_staging_then_production(deploy_workflow: dict[str, Any]) -> None:
    jobs = deploy_workflow["jobs"]
    assert jobs["build"]["needs"] == "checks"
    assert jobs["deploy-dev"]["needs"] == "build"
    assert jobs["deploy-staging"]["needs"] == "deploy-dev"
    assert jobs["deploy-prod"]["needs"] == "deploy-staging"


def test_only_main_deploys(deploy_workflow: dict[str, Any]) -> None:
    on = triggers(deploy_workflow)
    assert on["push"] == {"branches": ["main"]}
    assert set(on) == {"push", "workflow_dispatch"}
    for job_name in ("build", *DEPLOY_ENVIRONMENTS):
        assert deploy_workflow["jobs"][job_name]["if"] == "github.ref == 'refs/heads/main'", job_name


def test_main_deploys_only_what_passed_the_ci_gates(deploy_workflow: dict[str, Any]) -> None:
    assert deploy_workflow["jobs"]["checks"]["uses"] == "./.github/workflows/ci.yml"


def test_the_zips_are_built_once_and_each_environment_packages_and_signs_them_itself(
    deploy_workflow: dict[str, Any],
) -> None:
    jobs = deploy_workflow["jobs"]
    builds = [name for name, job in jobs.items() if any("make build" in run for run in runs(job))]
    assert builds == ["build"]
    for job_name, environment in DEPLOY_ENVIRONMENTS.items():
        job, env = jobs[job_name], "prod" if environment == "production" else environment
        commands = runs(job)
        # Each environment signs with its own profile: prod's signature is made only by prod's role.
        assert commands.index(f"make package ENV={env}") + 1 == commands.index(f"make deploy-artifact ENV={env}")
        downloaded = [s["with"]["name"] for s in steps(job) if "download-artifact" in s.get("uses", "")]
        assert downloaded == ["lambda-artifacts"], job_name
        assert not [s for s in steps(job) if "upload-artifact" in s.get("uses", "")], job_name


def test_every_deploy_is_followed_by_the_deployed_tests_of_that_stack(deploy_workflow: dict[str, Any]) -> None:
    for job_name, environment in DEPLOY_ENVIRONMENTS.items():
        commands = runs(deploy_workflow["jobs"][job_name])
        env = "prod" if environment == "production" else environment
        deploy = commands.index(f"make deploy-artifact ENV={env}")
        assert commands[deploy + 1] == f"make test-e2e STACK_NAME={STACKS[environment]}", job_name


def test_ci_runs_every_gate(ci_workflow: dict[str, Any]) -> None:
    commands = [run for job in ci_workflow["jobs"].values() for run in runs(job)]
    for gate in ("make lint typecheck check-openapi", "make pytest", "make check-infra", "make check-bootstrap"):
        assert gate in commands
    assert "make check-pipelines" in commands
    assert "make bandit secrets licences" in commands
    assert "make audit-online" in commands


def test_ci_runs_on_every_pull_request_and_push(ci_workflow: dict[str, Any]) -> None:
    on = triggers(ci_workflow)
    assert set(on) == {"pull_request", "push", "workflow_call"}
    assert on["pull_request"] is None  # every target branch
    assert on["push"] == {"branches-ignore": ["main"]}  # main runs the same gates through deploy.yml


def test_checkouts_do_not_leave_the_token_on_disk(ci_workflow: dict[str, Any], deploy_workflow: dict[str, Any]) -> None:
    for name, job in all_jobs(ci_workflow, deploy_workflow).items():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_run_steps_never_interpolate_expressions(ci_workflow: dict[str, Any], deploy_workflow: dict[str, Any]) -> None:
    """Values reach scripts through env, never pasted into the script text (no template injection)."""
    for name, job in all_jobs(ci_workflow, deploy_workflow).items():
        for run in runs(job):
            assert "${{" not in run, f"{name}: {run}"


def test_no_workflow_runs_untrusted_code_with_secrets() -> None:
    for path in (CI_WORKFLOW, DEPLOY_WORKFLOW):
        assert "pull_request_target" not in path.read_text(encoding="utf-8"), path.name


def test_every_step_has_a_name(ci_workflow: dict[str, Any], deploy_workflow: dict[str, Any]) -> None:
    for name, job in all_jobs(ci_workflow, deploy_workflow).items():
        assert job.get("name"), name
        for step in steps(job):
            assert step.get("name"), f"{name}: {step}"
