"""The Lambda artifact is built only from hash-pinned wheels (its SBOM: test_sbom.py). Built for
real (pip downloads the arm64 wheels, or takes them from its cache)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.build.lambda_artifact import LAMBDA_LOCK, build_function

pytestmark = pytest.mark.slow


def lock_copy(tmp_path: Path, edit: str | None = None, append: str = "") -> Path:
    text = LAMBDA_LOCK.read_text()
    if edit:
        text = edit
    lock = tmp_path / "lambda.txt"
    lock.write_text(text + append)
    return lock


def test_a_tampered_hash_makes_the_build_fail(tmp_path: Path) -> None:
    original = LAMBDA_LOCK.read_text()
    first_hash = original.index("--hash=sha256:") + len("--hash=sha256:")
    tampered = original[:first_hash] + "0" * 64 + original[first_hash + 64 :]
    # Every wheel of that one package now has a wrong expected hash... except the others listed
    # for it; drop those so the tampered one is the only one pip may accept.
    with pytest.raises(subprocess.CalledProcessError):
        build_function(tmp_path / "out", lock_copy(tmp_path, edit=_only_first_hash(tampered)))


def test_an_unpinned_dependency_makes_the_build_fail(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        build_function(tmp_path / "out", lock_copy(tmp_path, append="attrs\n"))


def test_a_dependency_without_hashes_makes_the_build_fail(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        build_function(tmp_path / "out", lock_copy(tmp_path, append="attrs==25.3.0\n"))


def _only_first_hash(lock_text: str) -> str:
    """Keep one hash line for the first package: the tampered one."""
    lines = lock_text.splitlines(keepends=True)
    kept, in_first, seen_hash = [], False, False
    for line in lines:
        stripped = line.strip()
        if not in_first and stripped and not stripped.startswith("#") and "==" in stripped:
            in_first = True
            kept.append(line)
            continue
        if in_first and stripped.startswith("--hash="):
            if not seen_hash:
                kept.append(line.rstrip().rstrip("\\").rstrip() + "\n")
                seen_hash = True
            continue
        if in_first and seen_hash:
            in_first = False
        kept.append(line)
    return "".join(kept)
