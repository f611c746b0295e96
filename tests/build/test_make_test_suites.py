"""`make test` runs every test suite under tests/, each exactly once.

Its pytest runs are read from `make -n test` (what make would run, nothing run): a suite folder left
out of them would never run in CI, and one named twice would run twice (the stages once had a pytest
session each, and the suites moved between them).
"""

from __future__ import annotations

import shlex
import subprocess
from collections import Counter

from tests.conftest import PROJECT_ROOT


def suites_run(commands: str) -> Counter[str]:
    """How often each ``tests/<suite>`` folder is named by the pytest commands among ``commands``."""
    named: Counter[str] = Counter()
    for line in commands.replace("\\\n", " ").splitlines():
        words = shlex.split(line) if "pytest" in line else []  # other lines may quote across lines
        if any(word.endswith("pytest") for word in words):
            named.update(word.split("/")[1] for word in words if word.startswith("tests/") and word.count("/") == 1)
    return named


def test_every_suite_runs_once_in_make_test() -> None:
    suites = {path.parent.name for path in (PROJECT_ROOT / "tests").glob("*/test_*.py")}
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "test"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    run = suites_run(dry_run.stdout)
    assert set(run) == suites, f"never run: {sorted(suites - set(run))}; not a suite: {sorted(set(run) - suites)}"
    assert [suite for suite, times in run.items() if times > 1] == []


def test_the_count_sees_a_missing_and_a_repeated_suite() -> None:
    commands = (
        "ruff check src tests\n"
        ".venv/bin/python -m pytest -n 2 tests/unit tests/infra/test_x.py \\\n  tests/infra\n"
        'STACK_NAME="" .venv/bin/python -m pytest tests/e2e tests/unit -m e2e\n'
    )
    assert suites_run(commands) == Counter({"unit": 2, "infra": 1, "e2e": 1})
