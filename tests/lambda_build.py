"""The Lambda zips as ``make build`` makes them, built once per test run and read by every test that only reads them.

One build is ``python -m tools.build.lambda_artifact`` in a fresh process with a random hash seed
(``build_in_a_fresh_process``): the arm64 function zip and the pre-traffic hook's zip, about 10 s
of CPU. The SBOM tests and the reproducibility test each built their own, three builds per
``make pytest``; now the first xdist worker to ask builds into the run's shared temporary
directory, under a lock (``tests/shared_output.py``), and every other test reads that build. The
reproducibility test makes one build more, in a process of its own, and compares the bytes.
Tests that need a build of their own (a broken lock, another platform) still make it.

Shared means read-only. The zips are read-only on disk, and each test that reads them through
the ``lambda_zips`` fixture (tests/conftest.py) fails if their SHA-256 changed while it ran: as
root, file modes do not stop a write, and a test that edited the shared zip in place would change
what every later test reads. A test that wants an altered zip writes a copy of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.shared_output import produced_once

__all__ = ["LambdaZips", "build_in_a_fresh_process", "built_once"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_ZIP = "mvdb.zip"
HOOK_ZIP = "pre-traffic-hook.zip"
# Written beside the shared zips by the worker that built them: what every reader compares with.
BUILT_SHA256 = "built-sha256.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class LambdaZips:
    """One build's zips: ``function`` (mvdb.zip), ``hook`` (pre-traffic-hook.zip) and their SHA-256 as built."""

    function: Path
    hook: Path
    built_sha256: dict[Path, str] = field(default_factory=dict)  # path -> hex digest

    @property
    def paths(self) -> list[Path]:
        """Both zips, the function's first (the order ``make build`` hands them to the SBOM)."""
        return [self.function, self.hook]

    def changed(self) -> list[str]:
        """The zips whose bytes are no longer those of the build (empty when none)."""
        return [path.name for path in self.paths if _sha256(path) != self.built_sha256[path]]


def build_in_a_fresh_process(output_dir: Path) -> LambdaZips:
    """Run the build (``make build``'s first step) in a new interpreter with a random hash seed, into ``output_dir``.

    Fails the test with the build's output when it fails.
    """
    result = subprocess.run(
        [sys.executable, "-m", "tools.build.lambda_artifact", "--output-dir", str(output_dir)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONHASHSEED": "random"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"the Lambda build failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    zips = (output_dir / FUNCTION_ZIP, output_dir / HOOK_ZIP)
    return LambdaZips(*zips, built_sha256={path: _sha256(path) for path in zips})


def built_once(tmp_path_factory: pytest.TempPathFactory) -> LambdaZips:
    """The run's shared build: made by the first worker that asks, read by all (see the module docstring)."""

    def build_read_only(directory: Path) -> None:
        zips = build_in_a_fresh_process(directory)
        for path in zips.paths:
            path.chmod(0o444)
        (directory / BUILT_SHA256).write_text(json.dumps({p.name: d for p, d in zips.built_sha256.items()}))

    directory = produced_once(tmp_path_factory, "lambda-zips", build_read_only)
    built = json.loads((directory / BUILT_SHA256).read_text())
    zips = (directory / FUNCTION_ZIP, directory / HOOK_ZIP)
    return LambdaZips(*zips, built_sha256={path: built[path.name] for path in zips})
