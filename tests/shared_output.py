"""Outputs made once per test run and shared by every pytest-xdist worker.

A session-scoped fixture runs once per worker process: with ``-n 2`` an expensive step (a Lambda
build, a recorded ``sam package`` + ``sam deploy``) would run twice, or race with itself in the
same directory. ``produced_once`` makes it run once: the first worker to ask produces the
output under an exclusive lock in the run's shared temporary directory, every other worker
waits for that lock and reads the same files.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["produced_once"]

_COMPLETE = ".complete"


def _shared_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is <run>/popen-gw<N>; the run's directory is shared by all.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def produced_once(tmp_path_factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], None]) -> Path:
    """The directory ``produce`` filled for ``name`` in this test run, produced by the first worker that asks.

    ``produce`` gets an empty directory. If it raises, nothing is marked complete and the
    next worker to ask tries again (and fails the same way, reporting it too).
    """
    base = _shared_base(tmp_path_factory)
    directory = base / name
    with (base / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (directory / _COMPLETE).exists():
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True)
                produce(directory)
                (directory / _COMPLETE).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return directory
