"""The project is built by the hash-pinned backend of requirements/build.txt, never by one pip
fetches on its own: with that lock installed, ``pip install --no-build-isolation -e .`` needs no
package index at all, while the default (isolated) build would have to download setuptools.

Runs pip for real in a fresh venv, with no index and no configuration (``PIP_CONFIG_FILE=/dev/null``).
About 10 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

# One worker runs the whole module, so its expensive module-scoped fixture is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("build-backend")]

ROOT = Path(__file__).resolve().parents[2]
BUILD_LOCK = ROOT / "requirements" / "build.txt"
NO_INDEX = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": ""}


@pytest.fixture(scope="module")
def backend_only_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding nothing but what requirements/build.txt installs (hash-checked)."""
    location = tmp_path_factory.mktemp("backend") / "venv"
    venv.create(location, with_pip=True)
    python = location / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--require-hashes", "--only-binary=:all:", "-r", str(BUILD_LOCK)],
        check=True,
    )
    return python


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    return copy


def pip_install_editable(python: Path, project: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [str(python), "-m", "pip", "install", "--no-deps", *flags, "-e", str(project)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **NO_INDEX})


def test_the_build_backend_lock_pins_exactly_what_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    locked = BUILD_LOCK.read_text()
    for requirement in declared:
        assert "==" in requirement, f"[build-system] requires must pin exactly: {requirement}"
        assert f"{requirement} \\\n    --hash=sha256:" in locked, f"{requirement}: not hash-locked in {BUILD_LOCK.name}"


def test_the_project_installs_with_no_index_using_the_hash_pinned_backend(
    backend_only_venv: Path, tmp_path: Path
) -> None:
    result = pip_install_editable(backend_only_venv, project_copy(tmp_path), "--no-build-isolation")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_isolated_build_would_fetch_its_backend_from_an_index(backend_only_venv: Path, tmp_path: Path) -> None:
    """Why the Makefile passes --no-build-isolation: without it, pip looks for setuptools again."""
    result = pip_install_editable(backend_only_venv, project_copy(tmp_path))
    assert result.returncode != 0
    assert "setuptools" in result.stdout + result.stderr
