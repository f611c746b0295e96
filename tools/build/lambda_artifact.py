"""Build the stack's Lambda artifacts for python3.13 on arm64, without Docker.

``build/lambda/mvdb.zip``
    The API function: the pinned wheels of ``requirements/lambda.txt`` for manylinux2014_aarch64
    / CPython 3.13 (installed with ``--require-hashes --no-deps``: the lock is the whole closure),
    plus the ``src/mvdb`` package. Not ``mvdb_local``, no tests, no ``__pycache__``. boto3 is not
    bundled: the python3.13 runtime provides it.
``build/lambda/pre-traffic-hook.zip``
    The CodeDeploy pre-traffic hook: ``functions/pre_traffic_hook/handler.py`` and the two small
    modules of ours it imports (``HOOK_SHARED_MODULES``: the API Gateway event builder and the
    API's scope names), so each is defined once; none of the service, no third-party package.

The zips are reproducible: entries sorted, timestamps fixed, permissions normalised, so the same
sources and lock give the same bytes, the same S3 key when SAM uploads them, and no new Lambda
version when nothing changed. The template's CodeUri points at these files: ``sam build``
treats a .zip CodeUri as already built, so what is tested here is exactly what is deployed.

Usage: ``python -m tools.build.lambda_artifact`` (``make build``).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Artifact", "build_function", "build_hook", "write_reproducible_zip"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_LOCK = PROJECT_ROOT / "requirements" / "lambda.txt"
SERVICE_PACKAGE = PROJECT_ROOT / "src" / "mvdb"
HOOK_SOURCE = PROJECT_ROOT / "functions" / "pre_traffic_hook" / "handler.py"
SOURCE_ROOT = PROJECT_ROOT / "src"
# Modules under src/ that the hook imports, with the package __init__ files on their way.
HOOK_SHARED_MODULES = (
    "apigateway_events/__init__.py",
    "apigateway_events/rest_api.py",
    "mvdb/__init__.py",
    "mvdb/api/__init__.py",
    "mvdb/api/scopes.py",
)
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "lambda"

# The Lambda runtime the template declares: python3.13 on arm64 (Graviton).
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"
# Our budget for the zipped function, for cold start (Lambda's own limit for a direct upload is 50 MB).
MAX_ZIPPED_BYTES = 10 * 1024 * 1024
# The earliest time a zip entry can carry; any fixed value makes the archive reproducible.
_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_CACHE_DIRECTORY = "__pycache__"
# pip --target puts console scripts in bin/; the runtime never runs them.
_SCRIPTS_DIRECTORY = "bin"
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class Artifact:
    path: Path
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    sha256: str

    def summary(self) -> str:
        shown = self.path.relative_to(PROJECT_ROOT) if self.path.is_relative_to(PROJECT_ROOT) else self.path
        return (
            f"{shown}: {self.zipped_bytes / 1_048_576:.2f} MiB zipped "
            f"({self.zipped_bytes} bytes; {self.unzipped_bytes / 1_048_576:.2f} MiB unzipped, {self.files} files) "
            f"sha256 {self.sha256}"
        )


def _packaged_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or path.suffix in _EXCLUDED_SUFFIXES or _CACHE_DIRECTORY in relative.parts:
            continue
        if relative.parts[0] == _SCRIPTS_DIRECTORY:
            continue
        yield path


def write_reproducible_zip(root: Path, destination: Path) -> Artifact:
    """Zip every file under ``root`` (caches excluded) so that equal trees give equal bytes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    files = unzipped = 0
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _packaged_files(root):
            entry = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_FIXED_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # Unix, so the permission bits below are honoured
            entry.external_attr = 0o100644 << 16  # a regular file, readable by the runtime's user
            data = path.read_bytes()
            archive.writestr(entry, data, compresslevel=9)
            files += 1
            unzipped += len(data)
    digest = hashlib.sha256(destination.read_bytes()).hexdigest()
    return Artifact(destination, files, unzipped, destination.stat().st_size, digest)


def _install_dependencies(lock: Path, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files for the build machine's Python are of no use to the runtime
        "--platform",
        PLATFORM,
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--require-hashes",
        "--no-deps",
        "--target",
        str(target),
        "-r",
        str(lock),
    ]
    subprocess.run(command, check=True)


def build_function(output_dir: Path = DEFAULT_OUTPUT, lock: Path = LAMBDA_LOCK) -> Artifact:
    staging = output_dir / "mvdb"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _install_dependencies(lock, staging)
    shutil.copytree(SERVICE_PACKAGE, staging / "mvdb", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return write_reproducible_zip(staging, output_dir / "mvdb.zip")


def build_hook(output_dir: Path = DEFAULT_OUTPUT) -> Artifact:
    staging = output_dir / "pre-traffic-hook"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(HOOK_SOURCE, staging / HOOK_SOURCE.name)
    for module in HOOK_SHARED_MODULES:
        (staging / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SOURCE_ROOT / module, staging / module)
    return write_reproducible_zip(staging, output_dir / "pre-traffic-hook.zip")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda artifacts for python3.13/arm64 (no Docker).")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    output_dir = args.output_dir.resolve()
    function = build_function(output_dir)
    hook = build_hook(output_dir)
    for artifact in (function, hook):
        print(artifact.summary())
    if function.zipped_bytes >= MAX_ZIPPED_BYTES:
        print(
            f"error: {function.path.name} is {function.zipped_bytes} bytes zipped; the budget is "
            f"{MAX_ZIPPED_BYTES} (10 MiB). Is something bundled that the runtime provides (boto3)?",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
