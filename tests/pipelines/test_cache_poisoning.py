"""A poisoned cache never runs in a step that gets cloud credentials or builds what is deployed.

Bitbucket's caches are shared by the pipelines of every branch: whichever run saves a cache first
decides what later steps restore. These tests play that attacker against bitbucket-pipelines.yml
as written. An earlier run installs the project's venv for real (``make .venv/.installed``, from
an index served here, with a one-package lock standing in for requirements/dev.txt), then poisons
everything a cache could carry: a ``.pth`` file and a line appended to an installed module in
the venv, the downloaded wheel in pip's cache, files in .tools, node_modules and npm's cache.
Each step with ``oidc: true`` or artifacts is then restored as Bitbucket restores it (only the
caches the step lists) into a fresh clone, and runs the step's own set-up, ``make
.venv/.installed``: the poison never runs. The only cache such a step restores is pip's download
cache, and its tampered wheel fails the hash check, so the step stops there. Against a copy whose
dev deploy restores the venv, as the pipeline once did, the same poison runs: the test can fail.

The index is on a free local port and pip reads no configuration; only the two wheels the index
serves are downloaded first (PyPI). About 40 s on these machines.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.pipelines.conftest import BITBUCKET_PIPELINES, PROJECT_ROOT, load_yaml
from tools.security.check_pipelines import bitbucket_cache_paths, bitbucket_steps, is_sealed_bitbucket_step

# One worker runs the whole module, so its expensive module-scoped fixture is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cache-poisoning")]

PACKAGE = "annotated-types"  # small and pure Python; its pin and hashes come from requirements/lambda.txt
MODULE = "annotated_types"
POISONED_PATHS = (".venv", ".tools", "node_modules", "~/.cache/pip", "~/.npm")


def one_package_lock() -> str:
    lock = (PROJECT_ROOT / "requirements" / "lambda.txt").read_text()
    block = re.search(rf"^{PACKAGE}==.*?(?=^\S)", lock, re.MULTILINE | re.DOTALL)
    assert block, f"{PACKAGE} is no longer in requirements/lambda.txt: pick another small package"
    return block.group(0)


class _CachedLikePyPI(SimpleHTTPRequestHandler):
    """Files served with PyPI's kind of cache headers, so pip keeps them in its HTTP cache."""

    def end_headers(self) -> None:
        if self.path.endswith(".whl"):
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PEP 503 index on a free local port with the wheels of the one-package lock and of requirements/build.txt."""
    root = tmp_path_factory.mktemp("index")
    lock = root / "lock.txt"
    lock.write_text(one_package_lock())
    subprocess.run(
        ["python3", "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--require-hashes",
         "-r", str(lock), "-r", str(PROJECT_ROOT / "requirements" / "build.txt"), "-d", str(root / "files")],
        check=True,
    )  # fmt: skip
    for wheel in (root / "files").glob("*.whl"):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>\n')
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_CachedLikePyPI, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


def fresh_clone(destination: Path) -> Path:
    """What a step starts from: the files make .venv/.installed reads, with new timestamps (as a clone has)."""
    for name in ("Makefile", "pyproject.toml", "README.md", "requirements/build.txt"):
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / name, destination / name)
    (destination / "requirements" / "dev.txt").write_text(one_package_lock())
    shutil.copytree(
        PROJECT_ROOT / "src", destination / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    return destination


def set_up_the_venv(clone: Path, home: Path, index: str) -> subprocess.CompletedProcess[str]:
    """The step's own set-up, ``make .venv/.installed``, with pip reading only ``index`` and ``home``'s cache
    (pip's cache is the only thing under ``~`` it uses)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))},
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": index,
        "PIP_TRUSTED_HOST": "127.0.0.1",
        "PIP_CACHE_DIR": str(home / ".cache" / "pip"),
    }
    command = ["make", "--no-print-directory", ".venv/.installed"]
    return subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)


def resolve(path: str, clone: Path, home: Path) -> Path:
    return home / path.removeprefix("~/") if path.startswith("~/") else clone / path


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file the poison writes to when it runs."""
    return tmp_path_factory.mktemp("marker") / "poison-ran"


@pytest.fixture(scope="module")
def poisoned_cache_store(tmp_path_factory: pytest.TempPathFactory, index: str, marker: Path) -> dict[str, Path]:
    """Cache path -> what an attacker's earlier run leaves there for the next step to restore."""
    run = tmp_path_factory.mktemp("earlier-run")
    clone, home = fresh_clone(run / "clone"), run / "home"
    installed = set_up_the_venv(clone, home, index)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    runs = f"import pathlib; pathlib.Path({str(marker)!r}).open('a').write('{{}}\\n')"
    (site_packages,) = (clone / ".venv" / "lib").glob("python3*/site-packages")
    (site_packages / "zz_poison.pth").write_text(runs.format("pth") + "\n")
    with (site_packages / MODULE / "__init__.py").open("a") as module:
        module.write("\n" + runs.format("module") + "\n")
    wheels = [b for b in (home / ".cache" / "pip").rglob("*.body") if b.read_bytes()[:2] == b"PK"]
    assert wheels, "pip kept no download in its cache: the index's cache headers no longer work"
    for body in wheels:
        with zipfile.ZipFile(body, "a") as wheel:
            wheel.writestr("zz_poison.pth", runs.format("cached wheel") + "\n")
    for path in (".tools", "node_modules", "~/.npm"):
        resolve(path, clone, home).mkdir(parents=True, exist_ok=True)
        (resolve(path, clone, home) / "poison.py").write_text(runs.format(path))
    return {path: resolve(path, clone, home) for path in POISONED_PATHS}


def restore(bitbucket: dict[str, Any], step: dict[str, Any], store: dict[str, Path], clone: Path, home: Path) -> None:
    """Bitbucket's restore: each cache the step lists, and nothing else, back where it was."""
    paths = bitbucket_cache_paths(bitbucket)
    for cache in step.get("caches", []):
        saved = store.get(paths[cache])
        if saved is not None:
            shutil.copytree(saved, resolve(paths[cache], clone, home), symlinks=True, dirs_exist_ok=True)


def run_the_step(
    bitbucket: dict[str, Any], step: dict[str, Any], store: dict[str, Path], workdir: Path, index: str
) -> subprocess.CompletedProcess[str]:
    clone, home = fresh_clone(workdir / "clone"), workdir / "home"
    restore(bitbucket, step, store, clone, home)
    set_up = set_up_the_venv(clone, home, index)
    python = clone / ".venv" / "bin" / "python"
    if python.exists():  # whatever the set-up left behind starts, as the step's make targets would
        subprocess.run([str(python), "-c", f"import {MODULE}"], capture_output=True, check=False)
    return set_up


def test_no_poison_from_an_earlier_run_reaches_a_credentialed_or_building_step(
    poisoned_cache_store: dict[str, Path], index: str, marker: Path, tmp_path: Path
) -> None:
    bitbucket = load_yaml(BITBUCKET_PIPELINES)
    sealed = [step for _, step in bitbucket_steps(bitbucket) if is_sealed_bitbucket_step(step)]
    assert any(step.get("oidc") for step in sealed), "no step gets credentials any more?"
    tried: set[tuple[str, ...]] = set()
    for step in sealed:
        caches = tuple(sorted(step.get("caches", [])))
        if caches in tried:
            continue  # the same caches restore the same poison: one run says it
        tried.add(caches)
        marker.unlink(missing_ok=True)
        set_up = run_the_step(bitbucket, step, poisoned_cache_store, tmp_path / str(len(tried)), index)
        assert not marker.exists(), f"{step['name']}: the poison ran ({marker.read_text().split()})"
        # pip's cache is the one thing restored; its tampered wheel fails the hash check, so the step stops.
        if "~/.cache/pip" in {bitbucket_cache_paths(bitbucket)[cache] for cache in caches}:
            # The one cache restored: its tampered wheel fails the hash check, and the step stops there.
            assert set_up.returncode != 0
            assert "THESE PACKAGES DO NOT MATCH THE HASHES" in set_up.stderr, set_up.stderr
        else:
            assert set_up.returncode == 0, set_up.stderr


def test_the_same_poison_runs_in_a_deploy_step_that_restores_the_venv(
    poisoned_cache_store: dict[str, Path], index: str, marker: Path, tmp_path: Path
) -> None:
    """Why no step may restore an installed environment: pip --require-hashes checks downloads only."""
    bitbucket = load_yaml(BITBUCKET_PIPELINES)
    bitbucket["definitions"]["caches"]["venv"] = {"key": {"files": ["requirements/dev.txt"]}, "path": ".venv"}
    deploy = next(step for _, step in bitbucket_steps(bitbucket) if step.get("deployment") == "dev")
    deploy["caches"] = [*deploy.get("caches", []), "venv"]
    marker.unlink(missing_ok=True)
    set_up = run_the_step(bitbucket, deploy, poisoned_cache_store, tmp_path, index)
    assert set_up.returncode == 0, set_up.stderr  # make .venv/.installed finds everything installed
    assert set(marker.read_text().split()) == {"pth", "module"}  # the .pth runs at every interpreter start
