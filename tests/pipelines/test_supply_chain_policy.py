"""The pipelines keep the supply-chain policy of tools/security/check_pipelines.py, and the check
fails on a copy that breaks it, one class of defect at a time: an installed environment restored
into a build or deploy step, an image by tag, apt in a deploy step, a floating runtime, an action
by tag, an unhashed install, an audit that may pass without having run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pipelines.conftest import PROJECT_ROOT
from tools.security.check_pipelines import Violation, check

CHECKED = ("bitbucket-pipelines.yml", ".github/workflows/ci.yml", ".github/workflows/deploy.yml", "Makefile")


def repository_copy(tmp_path: Path) -> Path:
    """The files the policy reads, copied to ``tmp_path``."""
    for name in CHECKED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "pipelines", tmp_path / "pipelines")
    return tmp_path


def test_the_pipelines_keep_the_supply_chain_policy() -> None:
    assert check(PROJECT_ROOT) == []


# --- Breaking copies of bitbucket-pipelines.yml (edited as YAML: no rule reads its comments) ---
def _bitbucket_step(document: dict[str, Any], name_starts: str) -> dict[str, Any]:
    for item in document["pipelines"]["branches"]["main"]:
        step: dict[str, Any] = item.get("step", {})
        if str(step.get("name", "")).startswith(name_starts):
            return step
    raise AssertionError(f"no main step named {name_starts!r}...")


def restore_the_venv_into_the_dev_deploy(document: dict[str, Any]) -> None:
    document["definitions"]["caches"]["venv"] = {"key": {"files": ["requirements/dev.txt"]}, "path": ".venv"}
    _bitbucket_step(document, "Deploy to dev")["caches"].append("venv")


def restore_node_modules_into_the_build(document: dict[str, Any]) -> None:
    _bitbucket_step(document, "Build the Lambda")["caches"].append("node")


def image_by_tag(document: dict[str, Any]) -> None:
    document["image"] = "python:3.13-trixie"


def apt_in_the_production_deploy(document: dict[str, Any]) -> None:
    _bitbucket_step(document, "Deploy to production")["script"].insert(0, "./pipelines/bitbucket-image-setup.sh java")


def pipe_a_download_into_a_shell(document: dict[str, Any]) -> None:
    _bitbucket_step(document, "Build the Lambda")["script"].insert(0, "curl -sSfL https://example.com/i.sh | sh")


def _gate_scripts(document: dict[str, Any]) -> list[list[str]]:
    groups = [document["pipelines"]["default"], document["pipelines"]["branches"]["main"]]
    groups += list(document["pipelines"]["pull-requests"].values())
    return [
        entry["step"]["script"]
        for group in groups
        for item in group
        if "parallel" in item
        for entry in item["parallel"]["steps"]
    ]


def audit_in_a_step_that_may_pass_unaudited(document: dict[str, Any]) -> None:
    for script in _gate_scripts(document):
        script[:] = ["make check-security" if line == "make audit-online" else line for line in script]


def audit_online_shares_its_step(document: dict[str, Any]) -> None:
    for script in _gate_scripts(document):
        if "make audit-online" in script:
            script.append("make bandit")


@pytest.mark.parametrize(
    ("breakage", "rule"),
    [
        (restore_the_venv_into_the_dev_deploy, "restored-environment"),
        (restore_node_modules_into_the_build, "restored-environment"),
        (image_by_tag, "image-by-digest"),
        (apt_in_the_production_deploy, "apt-in-build-or-deploy"),
        (pipe_a_download_into_a_shell, "unhashed-install"),
        (audit_in_a_step_that_may_pass_unaudited, "online-audit"),
        (audit_online_shares_its_step, "online-audit"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_a_bitbucket_copy_that_breaks_the_policy_fails(
    tmp_path: Path, breakage: Callable[[dict[str, Any]], None], rule: str
) -> None:
    root = repository_copy(tmp_path)
    path = root / "bitbucket-pipelines.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    breakage(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    assert_fails_only(check(root), rule)


# --- Breaking copies of the workflows and the Makefile (edited as text: comments matter) -------
def insert_step(job: str, step: str) -> Callable[[str], str]:
    """Put ``step`` first in ``job``'s steps."""

    def edit(text: str) -> str:
        start = text.index(f"\n  {job}:\n")
        steps = text.index("\n    steps:\n", start) + len("\n    steps:\n")
        return text[:steps] + step + text[steps:]

    return edit


def replace_first(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"the breakage no longer applies: {old!r}"
        return text.replace(old, new, 1)

    return edit


def container_by_tag(text: str) -> str:
    return re.sub(
        r"(\n  build:\n(?:    .*\n)*?    runs-on: .*\n)", r"\1    container: python:3.13-trixie\n", text, count=1
    )


CACHE_THE_VENV = (
    "      - name: Restore the venv\n"
    "        uses: actions/cache@0400d5f644dc74513175e3cd8d07132dd4860809 # v4.2.4\n"
    "        with:\n          path: .venv\n          key: venv-${{ hashFiles('requirements/dev.txt') }}\n"
)
APT_GET = "      - name: Install jq\n        run: sudo apt-get install -y jq\n"


@pytest.mark.parametrize(
    ("name", "breakage", "rule"),
    [
        (".github/workflows/deploy.yml", insert_step("deploy-prod", CACHE_THE_VENV), "restored-environment"),
        (".github/workflows/ci.yml", replace_first("cache: pip\n", "cache: pipenv\n"), "restored-environment"),
        (".github/workflows/deploy.yml", container_by_tag, "image-by-digest"),
        (".github/workflows/deploy.yml", insert_step("deploy-dev", APT_GET), "apt-in-build-or-deploy"),
        (".github/workflows/deploy.yml", replace_first('"3.13.15"', '"3.13"'), "runtime-version"),
        (".github/workflows/ci.yml", replace_first('node-version: "22.23.2"', 'node-version: "22"'), "runtime-version"),
        (
            ".github/workflows/ci.yml",
            replace_first('java-version: "21.0.12+8"', 'java-version: "21"'),
            "runtime-version",
        ),
        (
            ".github/workflows/deploy.yml",
            replace_first("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0", "actions/checkout@v5"),
            "action-by-sha",
        ),
        (
            ".github/workflows/ci.yml",
            replace_first("run: make audit-online", "run: make check-security"),
            "online-audit",
        ),
        (
            "Makefile",
            replace_first(
                "install --require-hashes --only-binary=:all: -r requirements/dev.txt",
                "install -r requirements/dev.txt",
            ),
            "unhashed-install",
        ),
        ("Makefile", replace_first("--no-deps --no-build-isolation -e .", "--no-deps -e ."), "unhashed-install"),
        (
            "Makefile",
            replace_first(  # the recipe that fills every tool venv (sam, checkov, audit)
                "--require-hashes --only-binary=:all: -r $(2)",
                "--require-hashes -r $(2)",
            ),
            "unhashed-install",
        ),
        ("Makefile", replace_first("npm ci --no-audit", "npm install --no-audit"), "unhashed-install"),
    ],
    ids=[
        "deploy-job-restores-the-venv",
        "setup-python-caches-an-environment",
        "job-container-by-tag",
        "deploy-job-runs-apt",
        "python-minor-only",
        "node-major-only",
        "java-major-only",
        "action-by-tag",
        "audit-that-may-pass-unaudited",
        "pip-install-without-hashes",
        "project-built-with-isolation",
        "pip-install-may-build-from-source",
        "npm-install",
    ],
)
def test_a_copy_that_breaks_the_policy_fails(
    tmp_path: Path, name: str, breakage: Callable[[str], str], rule: str
) -> None:
    root = repository_copy(tmp_path)
    path = root / name
    path.write_text(breakage(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert_fails_only(check(root), rule)


def assert_fails_only(violations: list[Violation], rule: str) -> None:
    assert violations, f"no violation found; expected {rule}"
    assert {v.rule for v in violations} == {rule}, "\n".join(map(str, violations))
