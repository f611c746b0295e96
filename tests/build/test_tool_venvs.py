"""Every tool venv the Makefile creates is created and filled under a lock.

The test suites run ``make .tools/<tool>/.installed`` from two xdist workers at once. Without a
lock, the second make finds ``bin/python`` (written first by ``python -m venv``) before ensurepip
has written pip, and fails with "bin/pip: No such file or directory", as a CI run once did.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_CREATION = re.compile(r"-m venv\b")


def unlocked_venv_creations(makefile: str) -> list[str]:
    """Recipe lines (continuations joined) that create a venv outside ``flock``."""
    lines = makefile.replace("\\\n", " ").splitlines()
    return [
        line.strip()
        for line in lines
        if line.startswith("\t") and VENV_CREATION.search(line) and ".tools" in line and "flock " not in line
    ]


def test_the_makefile_creates_each_tool_venv_under_a_lock() -> None:
    assert unlocked_venv_creations((ROOT / "Makefile").read_text(encoding="utf-8")) == []


def test_the_check_finds_the_unlocked_recipe_that_failed_in_ci() -> None:
    broken = (
        ".tools/audit/.installed: requirements/tools-audit.txt\n"
        "\t@test -x .tools/audit/bin/python || $(PYTHON) -m venv .tools/audit\n"
        "\t.tools/audit/bin/pip install -q --require-hashes --only-binary=:all: -r requirements/tools-audit.txt\n"
    )
    assert unlocked_venv_creations(broken) == ["@test -x .tools/audit/bin/python || $(PYTHON) -m venv .tools/audit"]
