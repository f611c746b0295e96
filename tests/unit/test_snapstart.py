"""SnapStart hooks: registered with the runtime when it offers them, harmless elsewhere."""

from __future__ import annotations

import random
import subprocess
import sys
import types
from collections.abc import Callable

import pytest

from mvdb import snapstart


def test_without_the_runtime_s_snapshot_restore_module_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # None in sys.modules: the import fails
    assert snapstart.register_hooks() is False


def test_hooks_are_registered_when_the_runtime_offers_snapshot_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, Callable[[], None]] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.setdefault("before", hook)  # type: ignore[attr-defined]
    runtime.register_after_restore = lambda hook: registered.setdefault("after", hook)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert snapstart.register_hooks() is True
    assert registered == {"before": snapstart.warm_up, "after": snapstart.reseed}


_FRESH_PROCESS = """
from mvdb.domain.models import MovieCreate, MovieReplace
from mvdb import snapstart
before = (MovieCreate.__pydantic_complete__, MovieReplace.__pydantic_complete__)
snapstart.warm_up()
print(before, (MovieCreate.__pydantic_complete__, MovieReplace.__pydantic_complete__))
"""


@pytest.mark.slow  # a fresh interpreter, where the validators are still deferred
def test_warm_up_builds_the_deferred_request_validators() -> None:
    result = subprocess.run([sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["(False,", "False)", "(True,", "True)"]


def test_restored_environments_draw_different_random_numbers() -> None:
    random.seed(42)
    snapshot_state = random.getstate()
    snapstart.reseed()
    first = random.random()
    random.setstate(snapshot_state)
    snapstart.reseed()
    assert random.random() != first
