"""Both pipeline definitions and the Dependabot configuration validate offline, and each
validator fails on a deliberately broken copy (so a pass means something).

Schemas: check-jsonschema's bundled vendor.bitbucket-pipelines, vendor.github-workflows,
custom.github-workflows-require-timeout and vendor.dependabot. Workflows also pass actionlint.

Each validator runs once per schema over the real files and every broken copy together (its
start-up, ~1.5 s of CPU, costs more than validating a file: one run per case took thirteen
check-jsonschema and four actionlint processes), and each test reads the findings of its own
files: none on a real file, the expected ones on its broken copy.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pipelines.conftest import (
    BITBUCKET_PIPELINES,
    DEPENDABOT,
    DEPLOY_WORKFLOW,
    PROJECT_ROOT,
    WORKFLOWS,
    WORKFLOWS_DIR,
    actionlint,
    check_jsonschema,
    mutated_copy,
)

# One worker runs the module: its module fixture runs the validators once.
pytestmark = pytest.mark.xdist_group("pipeline-validation")

# Broken copies: id -> (the text of the real file, its broken replacement).
BITBUCKET_BREAKS = {
    "unknown-trigger": (
        "          trigger: manual\n          oidc: true\n          max-time: 45\n",
        "          trigger: on-approval\n",
    ),
    "max-time-not-a-number": ("options:\n  max-time: 25\n", "options:\n  max-time: soon\n"),
    "unknown-step-size": ("        size: 2x\n", "        size: 3x\n"),
}
# id -> (schema, the text of deploy.yml, its broken replacement)
WORKFLOW_BREAKS = {
    "cancel-in-progress-not-boolean": (
        "vendor.github-workflows",
        "    concurrency:\n      group: deploy-prod\n      cancel-in-progress: false\n",
        "    concurrency:\n      group: deploy-prod\n      cancel-in-progress: maybe\n",
    ),
    "unknown-job-key": (
        "vendor.github-workflows",
        "    timeout-minutes: 45\n    environment: production\n",
        "    timeout-minutes: 45\n    environment: production\n    runs-on-gpu: true\n",
    ),
    "job-without-timeout": ("custom.github-workflows-require-timeout", "    timeout-minutes: 45\n", ""),
}
DEPENDABOT_BREAK = ("  - package-ecosystem: npm\n", "  - package-ecosystem: leftpad\n")
_VARS_CONTEXT = (
    "      AWS_REGION: ${{ vars.AWS_REGION }}\n      ARTIFACTS_BUCKET: ${{ vars.ARTIFACTS_BUCKET }}\n"
    "      CFN_EXECUTION_ROLE_ARN: ${{ vars.CFN_EXECUTION_ROLE_ARN }}\n    steps:\n      - name: Check out\n"
    "        uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n"
    "        with:\n          persist-credentials: false\n"
    "      - name: Set up Python 3.13.15 (pip download cache keyed on the lock files)\n"
    "        uses: actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0\n"
    '        with:\n          python-version: "3.13.15"\n          cache: pip\n'
    "          cache-dependency-path: requirements/*.txt\n      - name: Restore the zips"
)
# id -> (the text of deploy.yml, its broken replacement, what actionlint must say about it)
ACTIONLINT_BREAKS = {
    "unknown-property": (
        "          role-session-name: mvdb-dev-run-${{ github.run_id }}\n",
        "          role-session-name: mvdb-dev-run-${{ github.run_idd }}\n",
        'property "run_idd" is not defined',
    ),
    "needs-an-unknown-job": ("    needs: deploy-dev\n", "    needs: deploy-devv\n", "deploy-devv"),
    "unknown-context": (
        _VARS_CONTEXT,
        _VARS_CONTEXT.replace("${{ vars.AWS_REGION }}", "${{ var.AWS_REGION }}", 1),
        'undefined variable "var"',
    ),
}
SCHEMAS = (
    "vendor.bitbucket-pipelines",
    "vendor.github-workflows",
    "custom.github-workflows-require-timeout",
    "vendor.dependabot",
)


@dataclass(frozen=True)
class Validation:
    """What the validators said: per schema, the files checked and each file's errors; actionlint's lines."""

    copies: dict[str, Path]  # broken copy id -> its file
    checked: dict[str, list[Path]]  # schema -> every file validated against it
    schema_errors: dict[str, dict[str, list[str]]]  # schema -> file -> its errors ("$.path: message")
    actionlint_files: list[Path]
    actionlint_stdout: str

    def errors(self, schema: str, file: Path) -> list[str]:
        assert file in self.checked[schema], f"{file} was not validated against {schema}"
        return self.schema_errors[schema].get(str(file), [])

    def findings(self, file: Path) -> list[str]:
        """actionlint's findings on ``file`` (its output names a file relative to the repository)."""
        assert file in self.actionlint_files, f"actionlint did not run on {file}"
        shown = os.path.relpath(file, PROJECT_ROOT)
        return [line for line in self.actionlint_stdout.splitlines() if line.startswith(f"{shown}:")]


@pytest.fixture(scope="module")
def validation(tmp_path_factory: pytest.TempPathFactory) -> Validation:
    directory = tmp_path_factory.mktemp("broken-copies")
    copies = {
        **{
            case: mutated_copy(BITBUCKET_PIPELINES, directory / case / BITBUCKET_PIPELINES.name, *edit)
            for case, edit in BITBUCKET_BREAKS.items()
        },
        **{
            case: mutated_copy(DEPLOY_WORKFLOW, directory / case / DEPLOY_WORKFLOW.name, old, new)
            for case, (_, old, new) in WORKFLOW_BREAKS.items()
        },
        "dependabot": mutated_copy(DEPENDABOT, directory / "dependabot" / DEPENDABOT.name, *DEPENDABOT_BREAK),
    }
    for case, (old, new, _) in ACTIONLINT_BREAKS.items():
        # The whole .github/workflows directory, so deploy.yml's `uses: ./.github/workflows/ci.yml`
        # resolves in the copy as it does in the repository.
        workflows = directory / case / ".github" / "workflows"
        shutil.copytree(WORKFLOWS_DIR, workflows)
        copies[case] = mutated_copy(DEPLOY_WORKFLOW, workflows / DEPLOY_WORKFLOW.name, old, new)
    checked = {
        "vendor.bitbucket-pipelines": [BITBUCKET_PIPELINES, *(copies[case] for case in BITBUCKET_BREAKS)],
        "vendor.dependabot": [DEPENDABOT, copies["dependabot"]],
        **{
            schema: [*WORKFLOWS, *(copies[case] for case, (s, *_) in WORKFLOW_BREAKS.items() if s == schema)]
            for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout")
        },
    }
    schema_errors: dict[str, dict[str, list[str]]] = {}
    for schema, files in checked.items():
        result = check_jsonschema(schema, *files)
        report = json.loads(result.stdout)  # a crash prints no report
        assert report["parse_errors"] == [], report["parse_errors"]
        schema_errors[schema] = {}
        for error in report["errors"]:
            schema_errors[schema].setdefault(error["filename"], []).append(f"{error['path']}: {error['message']}")
    lint_files = [*WORKFLOWS, *(copies[case] for case in ACTIONLINT_BREAKS)]
    lint = actionlint(*lint_files)
    assert lint.returncode == 1, lint.stdout + lint.stderr  # findings (on the broken copies), no crash (2)
    assert f"actionlint: {len(lint_files)} workflow file(s)," in lint.stdout, lint.stdout
    return Validation(copies, checked, schema_errors, lint_files, lint.stdout)


def test_bitbucket_pipelines_matches_its_schema(validation: Validation) -> None:
    assert validation.errors("vendor.bitbucket-pipelines", BITBUCKET_PIPELINES) == []


@pytest.mark.parametrize("case", list(BITBUCKET_BREAKS))
def test_bitbucket_schema_check_fails_on_a_broken_copy(validation: Validation, case: str) -> None:
    assert validation.errors("vendor.bitbucket-pipelines", validation.copies[case]) != []


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_match_their_schemas(validation: Validation, schema: str) -> None:
    for workflow in WORKFLOWS:
        assert validation.errors(schema, workflow) == [], workflow.name


@pytest.mark.parametrize("case", list(WORKFLOW_BREAKS))
def test_workflow_schema_check_fails_on_a_broken_copy(validation: Validation, case: str) -> None:
    schema, *_ = WORKFLOW_BREAKS[case]
    assert validation.errors(schema, validation.copies[case]) != []


def test_dependabot_matches_its_schema(validation: Validation) -> None:
    assert validation.errors("vendor.dependabot", DEPENDABOT) == []


def test_dependabot_schema_check_fails_on_a_broken_copy(validation: Validation) -> None:
    assert validation.errors("vendor.dependabot", validation.copies["dependabot"]) != []


def test_actionlint_passes_on_the_workflows(validation: Validation) -> None:
    for workflow in WORKFLOWS:
        assert validation.findings(workflow) == [], workflow.name


@pytest.mark.parametrize("case", list(ACTIONLINT_BREAKS))
def test_actionlint_fails_on_a_broken_copy(validation: Validation, case: str) -> None:
    *_, finding = ACTIONLINT_BREAKS[case]
    findings = validation.findings(validation.copies[case])
    assert any(finding in line for line in findings), findings


def test_actionlint_refuses_a_missing_file(tmp_path: Path) -> None:
    result = actionlint(tmp_path / "no-such-workflow.yml")
    assert result.returncode == 2
    assert "no such workflow file" in result.stderr
