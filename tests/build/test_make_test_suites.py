"""`make test` runs every test suite under tests/ once, whole, and every gate the pipelines' jobs run.

Its commands are read from `make -n` (what make would run, nothing run). `make test` runs the suites
in one pytest session and the gates' tools beside the linters; the pipelines run the same suites and
tools as jobs of their own (`pytest`, `check-infra`, `check-bootstrap`, `check-pipelines`), so the
two lists must not drift apart: a suite or a gate in one only would pass in CI and never run in the
other.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
from collections import Counter

from tests.conftest import PROJECT_ROOT

PIPELINE_JOBS = ("pytest", "check-infra", "check-bootstrap", "check-pipelines", "test-e2e")
# The tools of the pipelines' check jobs other than pytest: cfn-lint (templates, translation,
# bootstrap), checkov, the render check, the SAM translation and the pipelines' supply-chain policy.
GATE_COMMAND = re.compile(
    r"/bin/(cfn-lint|checkov) |-m tools\.(build\.render_infra|build\.sam_translate|security\.check_pipelines)\b"
)
# Deselecting options a whole-suite run must not carry (`-m` is checked on its own).
DESELECTING = re.compile(r"^(--ignore(-glob)?|--deselect|-k)(=|$)")
IGNORED_FAILURE = re.compile(r"^\t[@+]*-", re.MULTILINE)  # a recipe line make runs on past its failure


def dry_run(*targets: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *targets], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def pytest_commands(commands: str) -> list[list[str]]:
    """The pytest command lines among ``commands`` (make -n output), split into words."""
    found = []
    for line in commands.replace("\\\n", " ").splitlines():
        words = shlex.split(line) if "pytest" in line else []  # other lines may quote across lines
        if any(word.endswith("pytest") for word in words):
            found.append(words)
    return found


def suites_run(commands: str) -> Counter[str]:
    """How often each ``tests/<suite>`` folder is named by the pytest commands among ``commands``."""
    named: Counter[str] = Counter()
    for words in pytest_commands(commands):
        named.update(word.split("/")[1] for word in words if word.startswith("tests/") and word.count("/") == 1)
    return named


def deselections(commands: str) -> list[str]:
    """Options of the pytest commands among ``commands`` that leave tests of a named suite out:
    ``--ignore``, ``--deselect``, ``-k``, and a ``-m`` other than the two the Makefile documents."""
    found = []
    for command in pytest_commands(commands):
        arguments = command[[word.endswith("pytest") for word in command].index(True) + 1 :]
        found += [word for word in arguments if DESELECTING.match(word)]
        found += [
            f"-m {after}"
            for word, after in itertools.pairwise(arguments)
            if word == "-m" and after not in ("not tenfold", "e2e")
        ]
    return found


def gate_commands(commands: str) -> set[str]:
    return {line.strip() for line in commands.splitlines() if GATE_COMMAND.search(line)}


def test_every_suite_runs_once_in_make_test() -> None:
    suites = {path.parent.name for path in (PROJECT_ROOT / "tests").glob("*/test_*.py")}
    run = suites_run(dry_run("test"))
    assert set(run) == suites, f"never run: {sorted(suites - set(run))}; not a suite: {sorted(set(run) - suites)}"
    assert [suite for suite, times in run.items() if times > 1] == []


def test_make_test_runs_each_suite_whole() -> None:
    assert deselections(dry_run("test")) == []
    assert IGNORED_FAILURE.findall((PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")) == []


def test_the_pipelines_jobs_run_the_suites_and_gates_make_test_runs() -> None:
    make_test, jobs = dry_run("test"), dry_run(*PIPELINE_JOBS)
    assert set(suites_run(jobs)) == set(suites_run(make_test))
    assert gate_commands(jobs) == gate_commands(make_test) != set()


def test_the_checks_see_a_missing_repeated_or_thinned_suite() -> None:
    commands = (
        "ruff check src tests\n"
        ".venv/bin/python -m pytest -n 2 -m 'not tenfold and not infra' tests/unit tests/infra/test_x.py \\\n"
        "  tests/infra --ignore=tests/infra/test_y.py -k slow\n"
        'STACK_NAME="" .venv/bin/python -m pytest tests/e2e tests/unit -m e2e\n'
    )
    assert suites_run(commands) == Counter({"unit": 2, "infra": 1, "e2e": 1})
    assert deselections(commands) == ["--ignore=tests/infra/test_y.py", "-k", "-m not tenfold and not infra"]
    assert IGNORED_FAILURE.findall("test:\n\t-$(PY) -m pytest tests\n\t@-false\n\techo a-b\n") == ["\t-", "\t@-"]
    assert gate_commands("a/.tools/checkov/bin/checkov --file t.yaml\nrequirements/tools-checkov.txt\n") == {
        "a/.tools/checkov/bin/checkov --file t.yaml"
    }
