"""The Lambda artifact as shipped: reproducible, its bytecode is the runtime's, and importing it
from a read-only directory (as Lambda's /var/task is) compiles nothing and writes nothing.

Built for real: pip installs the locked wheels (from its cache after the first time). What ships
is the run's shared build (tests/lambda_build.py); this module builds twice more: once again in a
fresh process, to compare the bytes, and once with this machine's native wheels, to import it here.
Each build takes about 10 s of CPU (9.9 s measured for ``make build``'s zips).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_build import LambdaZips, build_in_a_fresh_process
from tools.build.lambda_artifact import (
    BYTECODE_TAG,
    LAMBDA_LOCK,
    PLATFORM,
    RUNTIME_MAGIC,
    SDK_BUNDLED,
    Artifact,
    BuildError,
    build_function,
    bytecode_problems,
    compile_bytecode,
    host_platform,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.xdist_group("lambda-artifact")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_a_build_in_a_fresh_process_gives_the_bytes_of_the_runs_shared_build(
    lambda_zips: LambdaZips, tmp_path: Path
) -> None:
    """Two builds, each in an interpreter of its own with its own random hash seed: the run's shared
    one (tests/lambda_build.py, maybe made by another xdist worker) and this one."""
    rebuilt = build_in_a_fresh_process(tmp_path)

    assert rebuilt.function.read_bytes() == lambda_zips.function.read_bytes()
    assert rebuilt.hook.read_bytes() == lambda_zips.hook.read_bytes()


def test_every_module_in_the_artifact_carries_the_runtimes_bytecode(lambda_zips: LambdaZips) -> None:
    assert bytecode_problems(lambda_zips.function) == []
    assert bytecode_problems(lambda_zips.hook) == []


def test_our_code_ships_its_sources_and_libraries_ship_bytecode_only(lambda_zips: LambdaZips) -> None:
    with zipfile.ZipFile(lambda_zips.function) as archive:
        names = set(archive.namelist())

    assert {"mvdb/app.py", f"mvdb/__pycache__/app.{BYTECODE_TAG}.pyc"} <= names
    assert "pydantic/main.pyc" in names
    assert "pydantic/main.py" not in names


def test_the_sdk_ships_as_decided(lambda_zips: LambdaZips) -> None:
    with zipfile.ZipFile(lambda_zips.function) as archive:
        names = archive.namelist()

    shipped = {top for top in ("boto3", "botocore") if any(n.startswith(f"{top}/") for n in names)}
    assert shipped == ({"boto3", "botocore"} if SDK_BUNDLED else set())


# -- importing it as Lambda does ------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """The shipped artifact with this machine's native wheels, so that it can be imported here."""
    return build_function(tmp_path_factory.mktemp("host"), platform=host_platform())


# Runs in a fresh interpreter whose only code on sys.path is the unzipped artifact. Every
# compile() of a file under the artifact is recorded (the import system compiles a source through
# it when it finds no usable bytecode), then the handler serves one request.
_PROBE = """
import json, sys
task_root = sys.argv[1]
compiled = []
def record(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].startswith(task_root):
        compiled.append(args[1])
sys.addaudithook(record)

import mvdb.app

class Context:
    function_name, function_version, memory_limit_in_mb = "mvdb", "1", 512
    invoked_function_arn, aws_request_id = "arn:aws:lambda:eu-central-1:123456789012:function:mvdb", "probe"
    def get_remaining_time_in_millis(self): return 10_000

response = mvdb.app.lambda_handler(json.loads(sys.argv[2]), Context())
print(json.dumps({"status": response["statusCode"], "compiled": compiled, "app": mvdb.app.__file__}))
"""


def _runtime_python() -> str:
    tag = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True, text=True
    ).stdout.strip()
    if tag != BYTECODE_TAG:
        pytest.fail(f"the tests run on {tag}; the artifact can only be imported by the runtime's {BYTECODE_TAG}")
    return sys.executable


@pytest.fixture
def read_only_task_root(host_artifact: Artifact, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "task"
    with zipfile.ZipFile(host_artifact.path) as archive:
        archive.extractall(root)
    paths = sorted(root.rglob("*"), reverse=True)  # children before their directories
    for path in [*paths, root]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    yield root
    for path in [root, *sorted(root.rglob("*"))]:
        path.chmod(stat.S_IRWXU)


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def _serve_first_request(task_root: Path, endpoint: str, table: str, client: Any) -> dict[str, Any]:
    """Import the handler from ``task_root`` in a fresh Python 3.13 and serve GET /movies/2013/Rush."""
    client.put_item(TableName=table, Item={"year": {"N": "2013"}, "title": {"S": "Rush"}})
    event = json.loads((PROJECT_ROOT / "tests" / "events" / "get_movie_rest_v1.json").read_text())
    event |= {"path": "/movies/2013/Rush", "pathParameters": {"year": "2013", "title": "Rush"}}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        "PYTHONPATH": str(task_root),
        "TABLE_NAME": table,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "REQUIRE_AUTH": "false",
    }
    result = subprocess.run(
        [_runtime_python(), "-c", _PROBE, str(task_root), json.dumps(event)],
        env=env,
        cwd=task_root,
        capture_output=True,
        text=True,
        check=True,
    )
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["app"] == str(task_root / "mvdb" / "app.py")  # the artifact's, not the source tree's
    assert outcome["status"] == 200
    return outcome


@pytest.mark.usefixtures("local_aws_env")
def test_importing_the_artifact_and_serving_a_request_compiles_and_writes_nothing(
    read_only_task_root: Path, dynamodb_local: Any, dynamodb_client: Any, movies_table: str
) -> None:
    before = _tree(read_only_task_root)

    outcome = _serve_first_request(read_only_task_root, dynamodb_local.endpoint, movies_table, dynamodb_client)

    assert outcome["compiled"] == []
    assert _tree(read_only_task_root) == before


@pytest.mark.usefixtures("local_aws_env")
def test_the_probe_sees_a_module_compiled_at_import(
    read_only_task_root: Path, dynamodb_local: Any, dynamodb_client: Any, movies_table: str
) -> None:
    cache = read_only_task_root / "mvdb" / "__pycache__"
    cache.chmod(0o755)
    (cache / f"app.{BYTECODE_TAG}.pyc").unlink()  # as if the build had missed one module
    cache.chmod(0o555)

    outcome = _serve_first_request(read_only_task_root, dynamodb_local.endpoint, movies_table, dynamodb_client)

    assert outcome["compiled"] == [str(read_only_task_root / "mvdb" / "app.py")]


# -- what the build refuses --------------------------------------------------------------------------


def test_the_build_refuses_to_compile_with_another_python_version(tmp_path: Path) -> None:
    other_python = tmp_path / "python3.12"
    other_python.write_text("#!/bin/sh\necho cpython-312 cb0d0d0a\n")
    other_python.chmod(0o755)
    (tmp_path / "tree").mkdir()

    with pytest.raises(BuildError, match="cpython-313 only"):
        compile_bytecode(tmp_path / "tree", str(other_python))


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


_UNCHECKED = RUNTIME_MAGIC + (0b01).to_bytes(4, "little") + bytes(8)


def test_a_module_without_bytecode_is_a_problem(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "a.zip",
        {"mvdb/app.py": b"", "mvdb/models.py": b"", f"mvdb/__pycache__/app.{BYTECODE_TAG}.pyc": _UNCHECKED},
    )

    assert bytecode_problems(archive) == [f"mvdb/models.py: no models.{BYTECODE_TAG}.pyc"]


@pytest.mark.parametrize(
    "header",
    [
        RUNTIME_MAGIC + bytes(4) + bytes(8),  # timestamp-based: checked against the source's mtime
        RUNTIME_MAGIC + (0b11).to_bytes(4, "little") + bytes(8),  # checked hash: reads the source every time
        (3495).to_bytes(2, "little") + b"\r\n" + (0b01).to_bytes(4, "little") + bytes(8),  # Python 3.12's
    ],
    ids=["timestamp", "checked-hash", "python-3.12"],
)
def test_bytecode_the_runtime_would_not_use_as_is_is_a_problem(tmp_path: Path, header: bytes) -> None:
    archive = _zip(tmp_path / "a.zip", {"pydantic/main.pyc": header})

    assert bytecode_problems(archive) == ["pydantic/main.pyc: not unchecked-hash bytecode of Python 3.13"]


def test_the_build_refuses_a_lock_without_the_sdk_it_bundles(tmp_path: Path) -> None:
    assert SDK_BUNDLED, "the SDK comes from the runtime now: refuse a lock that pins it instead"
    sdk = {"boto3", "botocore", "s3transfer", "python-dateutil", "six", "urllib3"}
    kept, skipping = [], False
    for line in LAMBDA_LOCK.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split("==")[0] in sdk
        if not skipping:
            kept.append(line)
    lock = tmp_path / "lambda.txt"
    lock.write_text("\n".join(kept) + "\n")

    with pytest.raises(BuildError, match="does not pin boto3"):
        build_function(tmp_path / "out", lock, platform=PLATFORM)


_READ_CHECKS = """
import json, sys
from mvdb.verification.in_process import HandlerReadApi, serve_table
from mvdb.verification.read_checks import run_read_checks
import mvdb.verification.restore_validation as validation

results = run_read_checks(HandlerReadApi(serve_table(sys.argv[1])))
print(json.dumps({"failed": [r.name for r in results if not r.passed], "module": validation.__file__}))
"""


@pytest.mark.usefixtures("local_aws_env")
def test_the_restore_validation_runs_the_read_checks_from_the_zip(
    read_only_task_root: Path, dynamodb_local: Any, dynamodb_client: Any, movies_table: str
) -> None:
    dynamodb_client.put_item(TableName=movies_table, Item={"year": {"N": "2013"}, "title": {"S": "Rush"}})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        "PYTHONPATH": str(read_only_task_root),
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
    }
    result = subprocess.run(
        [_runtime_python(), "-c", _READ_CHECKS, movies_table],
        env=env,
        cwd=read_only_task_root,
        capture_output=True,
        text=True,
        check=True,
    )

    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["module"] == str(read_only_task_root / "mvdb" / "verification" / "restore_validation.py")
    assert outcome["failed"] == []
