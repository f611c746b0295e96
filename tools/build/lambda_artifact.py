"""Build the stack's Lambda artifacts for python3.13 on arm64, without Docker.

``build/lambda/mvdb.zip``
    The API function: the pinned wheels of ``requirements/lambda.txt`` for manylinux2014_aarch64
    / CPython 3.13 (installed with ``--require-hashes --no-deps``: the lock is the whole closure),
    the AWS SDK for Python included (see ``SDK_BUNDLED``), plus the ``src/mvdb`` package and
    ``src/apigateway_events`` (the restore validation function, which runs from this same zip, calls
    the API's handler in-process with API Gateway's events). Not ``mvdb_local``, no tests, no
    console scripts.
``build/lambda/pre-traffic-hook.zip``
    The CodeDeploy pre-traffic hook: ``functions/pre_traffic_hook/handler.py`` and the two small
    modules of ours it imports (``HOOK_SHARED_MODULES``: the API Gateway event builder and the
    API's scope names), so each is defined once; none of the service, no third-party package.

**Bytecode.** Lambda unpacks a zip into ``/var/task``, which is read-only: Python can neither
write nor reuse a ``.pyc`` it compiles there, so a zip without bytecode compiles every module it
imports on every cold start. Every module in the zip is therefore compiled by the runtime's Python
(3.13; the build fails with any other), in *unchecked-hash* mode (PEP 552: no timestamps, never
compared with a source at import):

- our own package (``mvdb``) keeps its sources, each with ``__pycache__/<name>.cpython-313.pyc``
  beside it, so that a traceback through our code shows the failing line;
- third-party modules ship as sourceless ``<name>.pyc`` in place of ``<name>.py``: a traceback
  through them still names the file and line of the pinned version, the zip stays within its
  budget (sources and bytecode of the libraries together would take it past 5 MiB without the
  SDK) and the import system has one file less to look for.
  docs/adr/lambda-artifact-bytecode-and-sdk.md weighs the two layouts.

**Reproducible.** Entries sorted, timestamps fixed, permissions normalised, bytecode free of
timestamps and build paths (each file compiled as ``/var/task/<path>``, with ``PYTHONHASHSEED=0``):
the same sources and lock give the same bytes, the same S3 key when SAM uploads them, and no new
Lambda version when nothing changed. The template's CodeUri points at these files: ``sam build``
treats a .zip CodeUri as already built, so what is tested here is exactly what is deployed.

Usage: ``python -m tools.build.lambda_artifact`` (``make build``). ``--platform`` builds the same
artifact with another platform's native wheels (pydantic-core) so that it can be imported and
measured on the build machine (``make bench``, the artifact tests); only ``manylinux2014_aarch64``
is deployed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "BYTECODE_TAG",
    "PLATFORM",
    "RUNTIME_PYTHON",
    "SDK_BUNDLED",
    "SDK_DISTRIBUTIONS",
    "Artifact",
    "BuildError",
    "build_function",
    "build_hook",
    "bytecode_problems",
    "compile_bytecode",
    "host_platform",
    "write_reproducible_zip",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_LOCK = PROJECT_ROOT / "requirements" / "lambda.txt"
SERVICE_PACKAGE = PROJECT_ROOT / "src" / "mvdb"
# Our other package in the function's zip: the one builder of API Gateway events.
EVENTS_PACKAGE = PROJECT_ROOT / "src" / "apigateway_events"
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
# Their top-level packages: ours, so they keep their sources beside their bytecode, as mvdb does.
_HOOK_SHARED_PACKAGES = tuple(sorted({module.split("/")[0] for module in HOOK_SHARED_MODULES}))
DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "lambda"

# The Lambda runtime the template declares: python3.13 on arm64 (Graviton).
PLATFORM = "manylinux2014_aarch64"
RUNTIME_PYTHON = (3, 13)
PYTHON_VERSION = "{}.{}".format(*RUNTIME_PYTHON)
# sys.implementation.cache_tag of the runtime: names the .pyc files its import system looks for.
BYTECODE_TAG = "cpython-{}{}".format(*RUNTIME_PYTHON)
# importlib.util.MAGIC_NUMBER of every CPython 3.13: the runtime ignores bytecode with another one.
RUNTIME_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
# PEP 552 flags word: bit 0 hash-based, bit 1 check the source. Unchecked hash: 0b01.
UNCHECKED_HASH_FLAGS = 0b01
# Where Lambda unpacks a .zip function; the name compiled into each code object (co_filename).
TASK_ROOT = PurePosixPath("/var/task")
# Top-level packages that ship their sources beside their bytecode: ours (see the module docstring).
SOURCES_SHIPPED = ("mvdb", "apigateway_events")

# Where the AWS SDK comes from: the zip (True) or the runtime (False). Decided in
# docs/adr/lambda-artifact-bytecode-and-sdk.md: bundled, so that the versions that run are the
# ones the lock pins, the SBOM names and the tests ran; a runtime update cannot change them. The
# build fails when the lock and this decision disagree.
SDK_BUNDLED = True
# What bundling the SDK adds to the zip (PyPI names), the runtime providing them otherwise. jmespath,
# botocore's other dependency, ships either way: Powertools needs it too.
SDK_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "python-dateutil", "six", "urllib3")
_SDK_TOP_LEVELS = ("boto3", "botocore", "s3transfer", "dateutil", "six", "urllib3")

# Budgets. Lambda refuses a zip over 50 MB uploaded directly and 250 MB unzipped (layers
# included); ours stay well under both. The application without the SDK has its own budget, so
# that bundling the SDK cannot hide a heavy new dependency.
MAX_ZIPPED_BYTES = 25 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIPPED_BYTES_WITHOUT_SDK = 5 * 1024 * 1024
# The earliest time a zip entry can carry; any fixed value makes the archive reproducible.
_FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_CACHE_DIRECTORY = "__pycache__"
# pip --target puts console scripts in bin/; the runtime never runs them.
_SCRIPTS_DIRECTORY = "bin"

# Run by the runtime's interpreter in a fresh process (see compile_bytecode). Unchecked-hash
# .pyc files carry a hash of the source instead of its mtime and are never checked against it.
# A module whose top-level package keeps its sources gets __pycache__/<name>.<tag>.pyc; any
# other is replaced by a sourceless <name>.pyc.
_COMPILE = """
import importlib.util, py_compile, sys
from pathlib import Path
root, task_root, kept = Path(sys.argv[1]), sys.argv[2], set(sys.argv[3:])
for source in sorted(root.rglob("*.py")):
    relative = source.relative_to(root)
    keep = relative.parts[0] in kept
    py_compile.compile(
        str(source),
        cfile=importlib.util.cache_from_source(str(source)) if keep else str(source.with_suffix(".pyc")),
        dfile=f"{task_root}/{relative.as_posix()}",
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not keep:
        source.unlink()
"""


class BuildError(RuntimeError):
    """The artifact cannot be built as the runtime needs it (wrong interpreter, missing bytecode, ...)."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    sha256: str
    sdk_zipped_bytes: int = 0  # the compressed size of the SDK's entries (0 when not bundled)

    def summary(self) -> str:
        shown = self.path.relative_to(PROJECT_ROOT) if self.path.is_relative_to(PROJECT_ROOT) else self.path
        text = (
            f"{shown}: {self.zipped_bytes / 1_048_576:.2f} MiB zipped "
            f"({self.zipped_bytes} bytes; {self.unzipped_bytes / 1_048_576:.2f} MiB unzipped, {self.files} files) "
            f"sha256 {self.sha256}"
        )
        if self.sdk_zipped_bytes:
            without = (self.zipped_bytes - self.sdk_zipped_bytes) / 1_048_576
            sdk = self.sdk_zipped_bytes / 1_048_576
            text += f"\n  of which the AWS SDK {sdk:.2f} MiB; without it {without:.2f} MiB"
        return text


def host_platform() -> str:
    """The pip platform tag of this machine's native wheels (for an artifact that runs here)."""
    machine = os.uname().machine
    return {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64", "arm64": "manylinux2014_aarch64"}[
        machine
    ]


def _is_packaged(root: Path, path: Path) -> bool:
    relative = path.relative_to(root)
    if path.is_dir() or relative.parts[0] == _SCRIPTS_DIRECTORY or path.suffix == ".pyo":
        return False
    if path.parent.name == _CACHE_DIRECTORY:
        # Only the runtime's cache file of a source that ships: no stray or foreign cache.
        stem, _, tag = path.name.removesuffix(".pyc").partition(".")
        return path.suffix == ".pyc" and tag == BYTECODE_TAG and (path.parent.parent / f"{stem}.py").is_file()
    return _CACHE_DIRECTORY not in relative.parts


def _packaged_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if _is_packaged(root, path):
            yield path


def write_reproducible_zip(root: Path, destination: Path) -> Artifact:
    """Zip every file under ``root`` (caches other than the runtime's excluded) so that equal trees give equal bytes."""
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
        sdk_bytes = sum(info.compress_size for info in archive.infolist() if _is_sdk_entry(info.filename))
    digest = hashlib.sha256(destination.read_bytes()).hexdigest()
    return Artifact(destination, files, unzipped, destination.stat().st_size, digest, sdk_bytes)


def _is_sdk_entry(name: str) -> bool:
    top = name.split("/")[0]
    if top.endswith(".dist-info"):
        return top.split("-")[0].lower().replace("_", "-") in SDK_DISTRIBUTIONS
    return top.split(".")[0] in _SDK_TOP_LEVELS  # a package, or a one-file module (six.pyc)


def compile_bytecode(
    root: Path, python: str = sys.executable, sources_shipped: tuple[str, ...] = SOURCES_SHIPPED
) -> None:
    """Compile every ``.py`` under ``root`` with ``python``, for the runtime to load as it is.

    Modules of the top-level packages ``sources_shipped`` get ``__pycache__/<name>.cpython-313.pyc``
    beside their source; every other module becomes a sourceless ``<name>.pyc``. ``python`` must
    be the runtime's version: bytecode is specific to a minor version, and the runtime ignores
    (and compiles again) a .pyc of another one. It runs in a fresh process with a fixed hash
    seed, so the bytes depend on the sources only. Raises BuildError for another interpreter,
    CalledProcessError when a file does not compile.
    """
    probe = "import importlib.util, sys; print(sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex())"
    tag, magic = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    if (tag, magic) != (BYTECODE_TAG, RUNTIME_MAGIC.hex()):
        raise BuildError(
            f"{python} compiles bytecode for {tag}, the Lambda runtime loads {BYTECODE_TAG} only: "
            f"build with Python {PYTHON_VERSION} (e.g. make build PYTHON=python{PYTHON_VERSION})."
        )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    subprocess.run([python, "-c", _COMPILE, str(root), str(TASK_ROOT), *sources_shipped], env=env, check=True)


def bytecode_problems(archive_path: Path) -> list[str]:
    """What in a zip would make the runtime compile at import: a source without its runtime
    bytecode, or bytecode that is not unchecked-hash bytecode of Python 3.13. Empty when none."""
    problems = []
    with zipfile.ZipFile(archive_path) as archive:
        names = set(archive.namelist())
        for name in sorted(names):
            path = PurePosixPath(name)
            if path.suffix == ".py":
                cached = path.parent / _CACHE_DIRECTORY / f"{path.stem}.{BYTECODE_TAG}.pyc"
                if cached.as_posix() not in names:
                    problems.append(f"{name}: no {cached.name}")
            elif path.suffix == ".pyc":
                header = archive.read(name)[:8]
                if header[:4] != RUNTIME_MAGIC or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
                    problems.append(f"{name}: not unchecked-hash bytecode of Python {PYTHON_VERSION}")
    return problems


def _install_dependencies(lock: Path, target: Path, platform: str) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # compiled below, by the runtime's Python, reproducibly
        "--platform",
        platform,
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


def _check_sdk_decision(staging: Path) -> None:
    bundled = (staging / "boto3").is_dir() and (staging / "botocore").is_dir()
    if bundled != SDK_BUNDLED:
        expected = "bundles" if SDK_BUNDLED else "takes from the runtime"
        raise BuildError(
            f"The build {expected} the AWS SDK (SDK_BUNDLED={SDK_BUNDLED}), but the lock "
            f"{'does not pin' if SDK_BUNDLED else 'pins'} boto3 and botocore: make requirements/lambda.in agree."
        )


def build_function(
    output_dir: Path = DEFAULT_OUTPUT,
    lock: Path = LAMBDA_LOCK,
    *,
    platform: str = PLATFORM,
    python: str = sys.executable,
    name: str = "mvdb",
) -> Artifact:
    """Install the lock, add ``src/mvdb`` and ``src/apigateway_events``, compile, zip to ``output_dir/<name>.zip``.

    Raises BuildError.
    """
    staging = output_dir / name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _install_dependencies(lock, staging, platform)
    _check_sdk_decision(staging)
    for package in (SERVICE_PACKAGE, EVENTS_PACKAGE):
        shutil.copytree(package, staging / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(staging / _SCRIPTS_DIRECTORY, ignore_errors=True)
    compile_bytecode(staging, python)
    artifact = write_reproducible_zip(staging, output_dir / f"{name}.zip")
    problems = bytecode_problems(artifact.path)
    if problems:
        raise BuildError(f"{len(problems)} modules in {artifact.path.name} would compile at import: {problems[:3]}")
    return artifact


def build_hook(output_dir: Path = DEFAULT_OUTPUT, *, python: str = sys.executable) -> Artifact:
    staging = output_dir / "pre-traffic-hook"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(HOOK_SOURCE, staging / HOOK_SOURCE.name)
    for module in HOOK_SHARED_MODULES:
        (staging / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SOURCE_ROOT / module, staging / module)
    compile_bytecode(staging, python, sources_shipped=(HOOK_SOURCE.name, *_HOOK_SHARED_PACKAGES))
    return write_reproducible_zip(staging, output_dir / "pre-traffic-hook.zip")


def _over_budget(function: Artifact) -> list[str]:
    problems = []
    if function.zipped_bytes >= MAX_ZIPPED_BYTES:
        problems.append(f"{function.zipped_bytes} bytes zipped; the budget is {MAX_ZIPPED_BYTES}")
    if function.unzipped_bytes >= MAX_UNZIPPED_BYTES:
        problems.append(f"{function.unzipped_bytes} bytes unzipped; the budget is {MAX_UNZIPPED_BYTES}")
    without_sdk = function.zipped_bytes - function.sdk_zipped_bytes
    if without_sdk >= MAX_ZIPPED_BYTES_WITHOUT_SDK:
        problems.append(f"{without_sdk} bytes zipped without the SDK; the budget is {MAX_ZIPPED_BYTES_WITHOUT_SDK}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda artifacts for python3.13/arm64 (no Docker).")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="default: %(default)s")
    parser.add_argument(
        "--platform", default=PLATFORM, help="pip platform of the native wheels (default: %(default)s, the runtime's)"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python 3.13 that compiles the bytecode")
    args = parser.parse_args(argv)
    output_dir = args.output_dir.resolve()
    try:
        function = build_function(output_dir, platform=args.platform, python=args.python)
        hook = build_hook(output_dir, python=args.python)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for artifact in (function, hook):
        print(artifact.summary())
    problems = _over_budget(function)
    for problem in problems:
        print(f"error: {function.path.name} is {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
