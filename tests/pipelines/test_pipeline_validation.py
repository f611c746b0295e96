"""Both pipeline definitions and the Dependabot configuration validate offline, and each
validator fails on a deliberately broken copy (so a pass means something).

Schemas: check-jsonschema's bundled vendor.bitbucket-pipelines, vendor.github-workflows,
custom.github-workflows-require-timeout and vendor.dependabot. Workflows also pass actionlint.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipelines.conftest import (
    BITBUCKET_PIPELINES,
    DEPENDABOT,
    DEPLOY_WORKFLOW,
    WORKFLOWS,
    WORKFLOWS_DIR,
    actionlint,
    check_jsonschema,
    mutated_copy,
)


def test_bitbucket_pipelines_matches_its_schema() -> None:
    result = check_jsonschema("vendor.bitbucket-pipelines", BITBUCKET_PIPELINES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("anchor", "broken"),
    [
        (
            "          trigger: manual\n          oidc: true\n          max-time: 45\n",
            "          trigger: on-approval\n",
        ),
        ("options:\n  max-time: 25\n", "options:\n  max-time: soon\n"),
        ("        size: 2x\n", "        size: 3x\n"),
    ],
    ids=["unknown-trigger", "max-time-not-a-number", "unknown-step-size"],
)
def test_bitbucket_schema_check_fails_on_a_broken_copy(tmp_path: Path, anchor: str, broken: str) -> None:
    copy = mutated_copy(BITBUCKET_PIPELINES, tmp_path / "bitbucket-pipelines.yml", anchor, broken)
    result = check_jsonschema("vendor.bitbucket-pipelines", copy)
    assert result.returncode != 0
    assert "Schema validation errors" in result.stdout


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_match_their_schemas(schema: str) -> None:
    result = check_jsonschema(schema, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "anchor", "broken"),
    [
        (
            "vendor.github-workflows",
            "    concurrency:\n      group: deploy-prod\n      cancel-in-progress: false\n",
            "    concurrency:\n      group: deploy-prod\n      cancel-in-progress: maybe\n",
        ),
        (
            "vendor.github-workflows",
            "    timeout-minutes: 45\n    environment: production\n",
            "    timeout-minutes: 45\n    environment: production\n    runs-on-gpu: true\n",
        ),
        ("custom.github-workflows-require-timeout", "    timeout-minutes: 45\n", ""),
    ],
    ids=["cancel-in-progress-not-boolean", "unknown-job-key", "job-without-timeout"],
)
def test_workflow_schema_check_fails_on_a_broken_copy(tmp_path: Path, schema: str, anchor: str, broken: str) -> None:
    copy = mutated_copy(DEPLOY_WORKFLOW, tmp_path / "deploy.yml", anchor, broken)
    result = check_jsonschema(schema, copy)
    assert result.returncode != 0
    assert "Schema validation errors" in result.stdout


def test_dependabot_matches_its_schema() -> None:
    result = check_jsonschema("vendor.dependabot", DEPENDABOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_schema_check_fails_on_a_broken_copy(tmp_path: Path) -> None:
    anchor = "  - package-ecosystem: npm\n"
    copy = mutated_copy(DEPENDABOT, tmp_path / "dependabot.yml", anchor, "  - package-ecosystem: leftpad\n")
    result = check_jsonschema("vendor.dependabot", copy)
    assert result.returncode != 0
    assert "Schema validation errors" in result.stdout


def test_actionlint_passes_on_the_workflows() -> None:
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 workflow file(s), 0 finding(s)" in result.stdout


@pytest.mark.parametrize(
    ("anchor", "broken", "finding"),
    [
        (
            "          role-session-name: mvdb-dev-run-${{ github.run_id }}\n",
            "          role-session-name: mvdb-dev-run-${{ github.run_idd }}\n",
            'property "run_idd" is not defined',
        ),
        ("    needs: deploy-dev\n", "    needs: deploy-devv\n", "deploy-devv"),
        (
            "      AWS_REGION: ${{ vars.AWS_REGION }}\n      ARTIFACTS_BUCKET: ${{ vars.ARTIFACTS_BUCKET }}\n"
            "      CFN_EXECUTION_ROLE_ARN: ${{ vars.CFN_EXECUTION_ROLE_ARN }}\n    steps:\n      - name: Check out\n"
            "        uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
            "        with:\n          persist-credentials: false\n"
            "      - name: Set up Python 3.13.15 (pip download cache keyed on the lock files)\n"
            "        uses: actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0\n"
            '        with:\n          python-version: "3.13.15"\n          cache: pip\n'
            "          cache-dependency-path: requirements/*.txt\n      - name: Restore the zips",
            "      AWS_REGION: ${{ var.AWS_REGION }}\n      ARTIFACTS_BUCKET: ${{ vars.ARTIFACTS_BUCKET }}\n"
            "      CFN_EXECUTION_ROLE_ARN: ${{ vars.CFN_EXECUTION_ROLE_ARN }}\n    steps:\n      - name: Check out\n"
            "        uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
            "        with:\n          persist-credentials: false\n"
            "      - name: Set up Python 3.13.15 (pip download cache keyed on the lock files)\n"
            "        uses: actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0\n"
            '        with:\n          python-version: "3.13.15"\n          cache: pip\n'
            "          cache-dependency-path: requirements/*.txt\n      - name: Restore the zips",
            'undefined variable "var"',
        ),
    ],
    ids=["unknown-property", "needs-an-unknown-job", "unknown-context"],
)
def test_actionlint_fails_on_a_broken_copy(tmp_path: Path, anchor: str, broken: str, finding: str) -> None:
    # The whole .github/workflows directory, so deploy.yml's `uses: ./.github/workflows/ci.yml`
    # resolves in the copy as it does in the repository.
    shutil.copytree(WORKFLOWS_DIR, tmp_path / ".github" / "workflows")
    copy = mutated_copy(DEPLOY_WORKFLOW, tmp_path / ".github" / "workflows" / "deploy.yml", anchor, broken)
    result = actionlint(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert finding in result.stdout


def test_actionlint_refuses_a_missing_file(tmp_path: Path) -> None:
    result = actionlint(tmp_path / "no-such-workflow.yml")
    assert result.returncode == 2
    assert "no such workflow file" in result.stderr
