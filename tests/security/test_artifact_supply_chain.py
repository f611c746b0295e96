"""The Lambda artifact is built only from hash-pinned wheels, and its SBOM accounts for every
package inside it. Built for real (pip downloads the arm64 wheels, or takes them from its cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.build.lambda_artifact import LAMBDA_LOCK, SDK_BUNDLED, build_function
from tools.security.sbom import packages_in

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


def test_the_sbom_lists_every_package_in_the_artifact_with_version_and_hash(tmp_path: Path) -> None:
    out = tmp_path / "out"
    artifact = build_function(out, LAMBDA_LOCK)
    sbom_file = tmp_path / "sbom.json"
    subprocess.run(
        [sys.executable, "-m", "tools.security.sbom", "--artifact", str(artifact.path), "--output", str(sbom_file)],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    sbom = json.loads(sbom_file.read_text())
    listed = {c["name"]: c for c in sbom["components"]}
    shipped = packages_in(artifact.path)
    assert set(listed) == set(shipped)
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core"} <= set(listed)
    for name, version in shipped.items():
        component = listed[name]
        assert component["version"] == version
        assert component["purl"] == f"pkg:pypi/{name}@{version}"
        assert [h["alg"] for h in component["hashes"]] == ["SHA-256"]
        assert len(component["hashes"][0]["content"]) == 64
    assert ({"boto3", "botocore"} <= set(listed)) == SDK_BUNDLED  # the SDK is listed when the zip carries it


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
