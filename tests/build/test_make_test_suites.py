"""`make test` runs every test suite under tests/ once, whole, and every gate the pipelines' jobs run.

Its commands are read from `make -n` (what make would run, nothing run). `make test` runs the suites
in one pytest session and the gates' tools beside the linters; the pipelines run the same suites and
tools as jobs of their own, read here from the pipeline files (Bitbucket's steps on every push,
GitHub's ci.yml), so the two lists cannot drift apart: a suite or a gate in one only would pass in
CI and never run in the other. (Spectral ran in `make test` only, for a while, because the pipelines'
tests listed the gates by hand.)
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shlex
import subprocess
from collections import Counter
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.pipelines.conftest import BITBUCKET_PIPELINES, CI_WORKFLOW, load_yaml

# The end-to-end suite runs in the pipelines after each deploy, against the deployed stack
# (tests/pipelines: test_every_deploy_is_followed_by_the_deployed_tests_of_that_stack).
DEPLOYED_TESTS = "test-e2e"
# The offline advisory audit: the pipelines run `make audit-online` instead, which asks today's
# advisory services and fails when it cannot reach them.
OFFLINE_ONLY = ("audit", "npm-audit")
# The tools of the pipelines' check jobs other than pytest: cfn-lint (templates, translation,
# bootstrap), checkov, the render check, the SAM translation and the pipelines' supply-chain policy.
GATE_COMMAND = re.compile(
    r"/bin/(cfn-lint|checkov) |-m tools\.(build\.render_infra|build\.sam_translate|security\.check_pipelines)\b"
)
# Deselecting options a whole-suite run must not carry (`-m` is checked on its own).
DESELECTING = re.compile(r"^(--ignore(-glob)?|--deselect|-k)(=|$)")
IGNORED_FAILURE = re.compile(r"^\t[@+]*-", re.MULTILINE)  # a recipe line make runs on past its failure
# `make -n` runs for real every recipe line that names $(MAKE) or starts with `+` (GNU make manual,
# "How the MAKE Variable Works"): such a line must be a sub-make and nothing else, or whatever else it
# runs runs inside every dry run these tests make.
RUN_BY_A_DRY_RUN = re.compile(r"^\t[@-]*\+|\$[({]MAKE[)}]")
SUB_MAKE_ALONE = re.compile(r"^\t[@-]*\$\(MAKE\)[^;&|`<>\n]*$")


@functools.cache  # each costs a second or two: make -n runs the sub-makes ($(MAKE) lines), each dry too
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


def lines_a_dry_run_runs_for_more_than_a_sub_make(makefile: str) -> list[str]:
    """The recipe lines of ``makefile`` (continuations joined) that `make -n` runs and that do more than run make."""
    logical = re.sub(r"\\\n", " ", makefile).splitlines()
    recipe = [line for line in logical if line.startswith("\t")]
    return [line for line in recipe if RUN_BY_A_DRY_RUN.search(line) and not SUB_MAKE_ALONE.match(line)]


def make_targets(command_lines: list[str]) -> list[str]:
    """The targets of the ``make ...`` lines among ``command_lines``, in order, variables (NAME=value) left out."""
    words = [shlex.split(line) for line in command_lines]
    return [word for line in words if line[:1] == ["make"] for word in line[1:] if "=" not in word]


def bitbucket_gate_targets(document: dict[str, Any]) -> list[str]:
    """The make targets of the steps Bitbucket runs on every push (the `default` pipeline)."""
    steps = [entry["step"] for item in document["pipelines"]["default"] for entry in item["parallel"]["steps"]]
    return make_targets([line for step in steps for line in step["script"]])


def github_gate_targets(document: dict[str, Any]) -> list[str]:
    """The make targets of the `run` steps of GitHub's ci.yml, which every pull request runs."""
    return make_targets([step["run"] for job in document["jobs"].values() for step in job["steps"] if "run" in step])


def static_checks() -> list[str]:
    """The targets of make test's static step (TEST_STATIC_CHECKS in the Makefile)."""
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    definition = re.search(r"^TEST_STATIC_CHECKS\s*:?=(.*)$", makefile, re.MULTILINE)
    assert definition, "the Makefile defines TEST_STATIC_CHECKS"
    return definition.group(1).split()


def command_lines(commands: str) -> set[str]:
    return {line.strip() for line in commands.splitlines() if line.strip()}


def make_database() -> str:
    """make's rules with their prerequisites expanded (``make -p``; -n: help's recipe is printed, not run)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-p", "-n", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def prerequisites_beyond_installs(database: str, targets: tuple[str, ...]) -> list[str]:
    """The prerequisites of ``targets`` in ``database`` (make -p output) other than installs (``.../.installed``)."""
    rules = dict(re.findall(r"^([\w./-]+):(?!=)(.*)$", database, re.MULTILINE))
    return [p for target in targets for p in rules[target].split() if not p.endswith("/.installed")]


# make test's recipe: the installs, seed and TEST_STATIC_CHECKS; one pytest session; the end-to-end suite.
MAKE_TEST_STEPS = (
    re.compile(r"\$\(MAKE\) --no-print-directory -j 2 --output-sync=target seed \$\(TEST_STATIC_CHECKS\)"),
    re.compile(r"\$\(PYTEST_XDIST\) .*\$\(TEST_SUITES\)"),
    re.compile(r"\$\(MAKE\) --no-print-directory test-e2e"),
)


def make_test_steps_beyond_the_three(makefile: str) -> list[str]:
    """The lines of make test's recipe other than its three steps: a check there would bypass the gates' comparison."""
    recipe = re.search(r"^test:.*\n((?:\t.*\n)*)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has a test target"
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    return [line for line in lines if not any(step.fullmatch(line) for step in MAKE_TEST_STEPS)]


def static_commands_not_run_by(targets: list[str]) -> set[str]:
    """The commands of make test's static checks that ``targets`` never run, the offline audit's aside."""
    required = command_lines(dry_run(*static_checks())) - command_lines(dry_run(*OFFLINE_ONLY))
    return required - command_lines(dry_run(*targets))


PIPELINE_GATES = {
    "bitbucket-pipelines.yml": bitbucket_gate_targets(load_yaml(BITBUCKET_PIPELINES)),
    ".github/workflows/ci.yml": github_gate_targets(load_yaml(CI_WORKFLOW)),
}


def test_every_suite_runs_once_in_make_test() -> None:
    suites = {path.parent.name for path in (PROJECT_ROOT / "tests").glob("*/test_*.py")}
    run = suites_run(dry_run("test"))
    assert set(run) == suites, f"never run: {sorted(suites - set(run))}; not a suite: {sorted(set(run) - suites)}"
    assert [suite for suite, times in run.items() if times > 1] == []


def test_make_test_runs_each_suite_whole() -> None:
    assert deselections(dry_run("test")) == []
    assert IGNORED_FAILURE.findall((PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("pipeline", PIPELINE_GATES)
def test_the_pipelines_jobs_run_the_suites_and_gates_make_test_runs(pipeline: str) -> None:
    make_test, jobs = dry_run("test"), dry_run(*PIPELINE_GATES[pipeline], DEPLOYED_TESTS)
    assert set(suites_run(jobs)) == set(suites_run(make_test))
    assert gate_commands(jobs) == gate_commands(make_test) != set()


@pytest.mark.parametrize("pipeline", PIPELINE_GATES)
def test_the_pipelines_gates_run_every_static_check_of_make_test(pipeline: str) -> None:
    assert static_commands_not_run_by(PIPELINE_GATES[pipeline]) == set()


def test_the_static_check_sees_a_gate_a_pipeline_leaves_out() -> None:
    # The lint jobs as they were before they ran Spectral.
    document = load_yaml(BITBUCKET_PIPELINES)
    lint = document["definitions"]["steps"][0]["step"]
    lint["script"] = ["make lint typecheck"]
    targets = bitbucket_gate_targets(document)

    missing = static_commands_not_run_by(targets)

    assert "check-openapi" not in targets
    assert {line.split()[0] for line in missing} == {"node_modules/.bin/spectral", ".venv/bin/python"}


def test_the_offline_audits_leave_out_nothing_but_themselves() -> None:
    # Their commands are left out of the comparison, and so would be those of a check made their prerequisite.
    assert prerequisites_beyond_installs(make_database(), OFFLINE_ONLY) == []


def test_the_prerequisite_check_sees_a_check_hidden_behind_an_offline_audit() -> None:
    database = "npm-audit: .venv/.installed\naudit: .venv/.installed openapi-diff .tools/audit/.installed\nX := 1\n"
    assert prerequisites_beyond_installs(database, OFFLINE_ONLY) == ["openapi-diff"]


def test_make_test_runs_its_static_checks_only_through_test_static_checks() -> None:
    database = make_database()
    assert prerequisites_beyond_installs(database, ("test", "install", "seed")) == ["install"]
    assert make_test_steps_beyond_the_three((PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")) == []


def test_the_step_check_sees_a_check_added_to_make_test_itself() -> None:
    makefile = (
        "test: install\n"
        "\t$(MAKE) --no-print-directory -j 2 --output-sync=target seed $(TEST_STATIC_CHECKS)\n"
        "\t$(PY) -m tools.openapi.breaking_changes\n"
        "\t$(PYTEST_XDIST) --durations=15 $(TEST_SUITES)\n"
        "\t$(MAKE) --no-print-directory test-e2e\n"
        "\n"
        "lint:\n\truff check\n"
    )
    assert make_test_steps_beyond_the_three(makefile) == ["$(PY) -m tools.openapi.breaking_changes"]


def test_a_dry_run_runs_nothing_but_sub_makes() -> None:
    assert lines_a_dry_run_runs_for_more_than_a_sub_make((PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")) == []


def test_the_dry_run_check_sees_a_command_beside_a_sub_make() -> None:
    # make audit as it was: in a pipeline (no offline advisory data) every dry run of make test ran
    # the online audit, and failed where its venv was not installed.
    makefile = (
        "audit:\n"
        '\t@if [ -d "$(AUDIT_DB)" ]; then \\\n'
        "\t  $(PY) -m tools.security.audit_locks $(LOCKS); \\\n"
        "\telse \\\n"
        "\t  $(MAKE) --no-print-directory .tools/audit/.installed && $(AUDIT_ONLINE); \\\n"
        "\tfi\n"
        "check:\n\t+$(PY) -m tools.check\n"
        "test:\n\t$(MAKE) --no-print-directory -j 2 seed $(CHECKS)\n\t@$(MAKE) test-e2e\n"
    )
    assert [line.split()[0] for line in lines_a_dry_run_runs_for_more_than_a_sub_make(makefile)] == [
        "@if",
        "+$(PY)",
    ]


def test_make_test_reads_the_same_in_a_pipeline_without_the_offline_advisory_data(tmp_path) -> None:
    pipeline = {**os.environ, "GITHUB_ACTIONS": "true", "CI": "true"}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", f"AUDIT_DB={tmp_path / 'absent'}", "test"],
        cwd=PROJECT_ROOT,
        env=pipeline,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "-m tools.security.audit_online --pip-audit .tools/audit/bin/pip-audit --locks" in result.stdout


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
