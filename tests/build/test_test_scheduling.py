"""A slow module's shared fixture is built once per run, not once per xdist worker.

Under ``--dist load`` (xdist's default) or ``--dist loadgroup`` without a group, a module's tests are
spread over the workers, and each worker builds the module's ``scope="module"`` fixtures itself. For
the restore drill that meant two drills at once on two cores: each passed its 240 s limit in CI and
every test of the module errored. A module marked ``slow`` (pyproject.toml: a process of its own, a
build, a tool run) whose module-scoped fixture does that work names an ``xdist_group``, and every
parallel pytest run in the Makefile uses ``--dist loadgroup``, which keeps a group on one worker —
when it works: with pytest 9.2 xdist 3.8 silently ignores every group (pytest-dev/pytest-xdist#1386),
so the installed pair is run here on two workers to prove that a group stays on one.

The longest tests are handed out first (``tests/conftest.py``: ``longest_modules_first``), so that
none starts last and runs alone while the other worker waits.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import longest_modules_first

ROOT = Path(__file__).resolve().parents[2]
PARALLEL_PYTEST = re.compile(r"pytest\b.*\s-n\s")


def _is_module_scoped_fixture(decorator: ast.expr) -> bool:
    return isinstance(decorator, ast.Call) and any(
        keyword.arg == "scope" and isinstance(keyword.value, ast.Constant) and keyword.value.value == "module"
        for keyword in decorator.keywords
    )


def _pytestmark_source(tree: ast.Module, source: str) -> str:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return ast.get_source_segment(source, node.value) or ""
    return ""


def slow_module_fixtures_spread_over_workers(source: str) -> list[str]:
    """Module-scoped fixtures of a module marked ``slow`` that has no ``xdist_group``: names, in order."""
    tree = ast.parse(source)
    marks = _pytestmark_source(tree, source)
    if "mark.slow" not in marks or "xdist_group" in marks:
        return []
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any(_is_module_scoped_fixture(d) for d in node.decorator_list)
    ]


def parallel_runs_without_groups(makefile: str) -> list[str]:
    """Makefile lines that run pytest on several workers without ``--dist loadgroup``.

    The end-to-end run against a deployed stack is left out: its tests wait on the network, not on
    fixtures, and it spreads them over four workers on purpose.
    """
    lines = makefile.replace("\\\n", " ").splitlines()
    return [
        line.strip()
        for line in lines
        if PARALLEL_PYTEST.search(line) and "--dist loadgroup" not in line and "tests/e2e" not in line
    ]


_WORKER_RECORDING_MODULE = """
import os
import pytest
{marks}
@pytest.mark.parametrize("n", range(12))
def test_records_its_worker(n):
    with open(os.environ["WORKERS_FILE"] + "-{name}", "a") as workers:
        workers.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def workers_that_ran(tmp_path: Path, modules: dict[str, str]) -> dict[str, set[str]]:
    """Runs ``modules`` (name -> pytestmark line) with xdist on two workers, loadgroup; each module's workers."""
    for name, marks in modules.items():
        (tmp_path / f"test_{name}.py").write_text(_WORKER_RECORDING_MODULE.format(marks=marks, name=name))
    env = {**os.environ, "WORKERS_FILE": str(tmp_path / "workers"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    isolated = ["-p", "xdist", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *isolated, "-n", "2", "--dist", "loadgroup", "-q", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {name: set((tmp_path / f"workers-{name}").read_text().split()) for name in modules}


@pytest.mark.slow  # two pytest workers in processes of their own: ~3 s
def test_xdist_runs_a_group_on_one_worker_while_both_workers_run_tests(tmp_path: Path) -> None:
    ran = workers_that_ran(
        tmp_path, {"grouped": 'pytestmark = pytest.mark.xdist_group("drill")', "spread": "pytestmark = []"}
    )
    # xdist hands each worker one unit of work first, so both run something: the observation sees two
    # workers, and the group is on one of them. (How many of the rest each worker takes is a race.)
    assert (len(ran["grouped"]), len(ran["grouped"] | ran["spread"])) == (1, 2)


def test_every_slow_modules_shared_fixture_runs_on_one_worker() -> None:
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if (names := slow_module_fixtures_spread_over_workers(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_every_parallel_pytest_run_in_the_makefile_keeps_groups_together() -> None:
    assert parallel_runs_without_groups((ROOT / "Makefile").read_text(encoding="utf-8")) == []


def test_the_check_finds_the_drill_module_that_ran_twice_in_ci() -> None:
    broken = (
        "pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]\n"
        "\n"
        '@pytest.fixture(scope="module")\n'
        "def drill(dynamodb_local, tmp_path_factory):\n"
        "    return run_the_drill()\n"
    )
    assert slow_module_fixtures_spread_over_workers(broken) == ["drill"]


def test_the_check_finds_a_parallel_run_that_ignores_groups() -> None:
    broken = "check-infra:\n\t$(PY) -m pytest tests/infra -n 2 --shared-dynamodb-local\n"
    assert parallel_runs_without_groups(broken) == ["$(PY) -m pytest tests/infra -n 2 --shared-dynamodb-local"]


class _Item:
    """What ``longest_modules_first`` reads of a collected test: its module's path and its markers."""

    def __init__(self, module: str, name: str, *markers: str) -> None:
        self.path, self.name, self.markers = Path(module), name, set(markers)

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.markers else None


def test_contract_modules_go_first_then_slow_ones_and_each_module_stays_whole_and_in_order() -> None:
    collected = [
        _Item("tests/unit/test_a.py", "a1"),
        _Item("tests/integration/test_b.py", "b1"),
        _Item("tests/integration/test_b.py", "b2", "slow"),  # one slow test moves its whole module
        _Item("tests/integration/test_b.py", "b3"),
        _Item("tests/unit/test_c.py", "c1"),
        _Item("tests/contract/test_d.py", "d1", "contract", "slow"),
        _Item("tests/contract/test_d.py", "d2", "contract"),
    ]
    ordered = longest_modules_first(collected)  # type: ignore[arg-type]
    assert [item.name for item in ordered] == ["d1", "d2", "b1", "b2", "b3", "a1", "c1"]


def test_make_pytest_hands_out_work_in_the_order_collected() -> None:
    # xdist's default (--loadscope-reorder) hands out the groups with the most tests first, whatever the order.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [xdist_command] = [line for line in makefile.splitlines() if line.startswith("PYTEST_XDIST :=")]
    assert "--no-loadscope-reorder" in xdist_command.split()
