"""The Lambda artifact is built only from hash-pinned wheels (its SBOM: test_sbom.py). Built for
real (pip downloads the arm64 wheels, or takes them from its cache), from a lock of one entry of
requirements/lambda.txt, as written there, plus the broken line: pip refuses the whole lock for it
either way, but with the whole lock it first fetched every other wheel (~3 s of CPU, ~7 s of wall
a test; ~0.6 s and ~1.5 s with one)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tools.build.lambda_artifact import LAMBDA_LOCK, BuildError, build_function

pytestmark = pytest.mark.slow


PACKAGE = "annotated-types"  # small and pure Python


def one_entry_lock() -> str:
    """The lock's entry of PACKAGE: its pin, its hashes and its comments, as requirements/lambda.txt has them."""
    entry = re.search(rf"^{PACKAGE}==.*?(?=^\S)", LAMBDA_LOCK.read_text(), re.MULTILINE | re.DOTALL)
    assert entry, f"{PACKAGE} is no longer in {LAMBDA_LOCK.name}: pick another small package"
    return entry.group(0)


def lock_copy(tmp_path: Path, edit: str | None = None, append: str = "") -> Path:
    text = one_entry_lock()
    if edit:
        text = edit
    lock = tmp_path / "lambda.txt"
    lock.write_text(text + append)
    return lock


def test_pip_installs_the_one_entry_lock_as_it_is(tmp_path: Path) -> None:
    """The control: the build then stops only at its own check (no SDK in a one-entry lock), so each
    failure of pip below is the broken line's."""
    with pytest.raises(BuildError, match="does not pin boto3"):
        build_function(tmp_path / "out", lock_copy(tmp_path))


def test_a_tampered_hash_makes_the_build_fail(tmp_path: Path) -> None:
    original = one_entry_lock()
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
