"""Cold start as Lambda runs it: a fresh ``python3.13`` importing the handler from the unzipped
artifact in a read-only directory, then serving its first ``GET /movies/2013/Rush``.

Variants, each in its own fresh processes, interleaved (one of each per round, so a noisy moment
hits them alike):

floor
    ``import boto3``, create the DynamoDB client, one GetItem: what any Python function that
    reads one item pays. boto3 is imported from the artifact, with its bytecode.
artifact
    what ships: ``make build``'s zip, built for this machine's platform (only the native wheels
    differ from the arm64 zip), unzipped, read-only.
artifact, SDK from the runtime
    the same zip without the SDK, the SDK on the path behind it, as the runtime provides it.
artifact without bytecode
    the zip as it was built before: sources only, so every import compiles.
source tree
    ``src/`` and the development venv, with bytecode cached (a warm-up run writes it).

Every variant runs with the environment the template's ``Globals`` give every function (e.g.
``PYDANTIC_DISABLE_PLUGINS``), read from ``infra/template.yaml``. Each process reports the wall
time and the CPU time it spent from its first statement to the response; interpreter start-up
(the same for every variant) is not counted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tools.build.lambda_artifact import (
    LAMBDA_LOCK,
    SDK_DISTRIBUTIONS,
    SERVICE_PACKAGE,
    build_function,
    host_platform,
    write_reproducible_zip,
)

__all__ = ["ColdStartVariants", "Sample", "bench_cold_start", "import_breakdown", "prepare_variants"]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
# The interpreter without the venv: only what PYTHONPATH names is importable besides the stdlib.
RUNTIME_PYTHON = getattr(sys, "_base_executable", sys.executable)
# What the runtime puts on the path for the SDK (boto3 and what it needs), top-level names.
_SDK_TOP_LEVELS = ("boto3", "botocore", "s3transfer", "dateutil", "six.pyc", "urllib3")

_FLOOR = """
import sys, time; t0, c0 = time.perf_counter(), time.process_time()
import boto3
client = boto3.client("dynamodb")
client.get_item(TableName=sys.argv[1], Key={"year": {"N": "2013"}, "title": {"S": "Rush"}}, ConsistentRead=True)
print(time.perf_counter() - t0, time.process_time() - c0)
"""
_HANDLER = """
import sys, time; t0, c0 = time.perf_counter(), time.process_time()
import json
import mvdb.app

class Context:
    function_name, function_version, memory_limit_in_mb = "mvdb", "1", 512
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:123456789012:function:mvdb", "bench"
    def get_remaining_time_in_millis(self): return 10_000

response = mvdb.app.lambda_handler(json.loads(sys.argv[2]), Context())
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
assert response["statusCode"] == 200, response
print(elapsed, cpu)
"""


@dataclass
class Sample:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def add(self, wall_s: float, cpu_s: float) -> None:
        self.wall_ms.append(wall_s * 1000)
        self.cpu_ms.append(cpu_s * 1000)


@dataclass(frozen=True)
class Variant:
    label: str
    python: str
    code: str
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class ColdStartVariants:
    variants: list[Variant]
    zipped_mib: dict[str, float]


def _read_only(root: Path) -> None:
    # Lambda's /var/task is read-only. As root, permission bits do not stop writes: the runs
    # also set PYTHONDONTWRITEBYTECODE, so no run leaves bytecode for the next one.
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)


def _writable(root: Path) -> None:
    if root.exists():
        for path in [root, *sorted(root.rglob("*"))]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def _zip_size_mib(root: Path, name: str) -> float:
    return write_reproducible_zip(root, root.parent / f"{name}.zip").zipped_bytes / 1_048_576


def function_globals_environment() -> dict[str, str]:
    """The variables ``infra/template.yaml``'s ``Globals`` set for every function (plain strings only)."""
    from tools.build.sam_translate import load_sam_template

    variables = load_sam_template(TEMPLATE)["Globals"]["Function"]["Environment"]["Variables"]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def prepare_variants(work: Path, env: dict[str, str]) -> ColdStartVariants:
    """Build the artifact for this machine and lay out every variant under ``work``."""
    _writable(work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    artifact = build_function(work, platform=host_platform(), name="artifact-zip")
    bundled, without_sdk, runtime_sdk, sources_only = (
        work / name for name in ("task", "task-without-sdk", "runtime-sdk", "task-without-bytecode")
    )
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(bundled)
    shutil.copytree(bundled, without_sdk)
    runtime_sdk.mkdir()
    for top in _SDK_TOP_LEVELS:
        shutil.move(without_sdk / top, runtime_sdk / top)
    for dist_info in without_sdk.glob("*.dist-info"):
        if dist_info.name.split("-")[0].lower().replace("_", "-") in SDK_DISTRIBUTIONS:
            shutil.move(dist_info, runtime_sdk / dist_info.name)
    # The artifact as built before it carried bytecode: the lock's wheels and our sources.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--platform", host_platform(), "--python-version", "3.13", "--implementation", "cp",
         "--only-binary=:all:", "--require-hashes", "--no-deps", "--target", str(sources_only), "-r", str(LAMBDA_LOCK)],
        check=True,
    )  # fmt: skip
    shutil.copytree(SERVICE_PACKAGE, sources_only / "mvdb", ignore=shutil.ignore_patterns("__pycache__"))
    zipped = {
        "artifact": artifact.zipped_bytes / 1_048_576,
        "artifact, SDK from the runtime": _zip_size_mib(without_sdk, "without-sdk"),
        "artifact without bytecode": _zip_size_mib(sources_only, "without-bytecode"),
    }
    for root in (bundled, without_sdk, runtime_sdk, sources_only):
        _read_only(root)

    lambda_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        **env,
        **function_globals_environment(),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    source_env = {**lambda_env, "PYTHONPATH": str(ROOT / "src")}
    del source_env["PYTHONDONTWRITEBYTECODE"]  # the source tree runs with its bytecode cached
    variants = [
        Variant("floor", RUNTIME_PYTHON, _FLOOR, {**lambda_env, "PYTHONPATH": str(bundled)}, bundled),
        Variant("artifact", RUNTIME_PYTHON, _HANDLER, {**lambda_env, "PYTHONPATH": str(bundled)}, bundled),
        Variant(
            "artifact, SDK from the runtime",
            RUNTIME_PYTHON,
            _HANDLER,
            {**lambda_env, "PYTHONPATH": f"{without_sdk}:{runtime_sdk}"},
            without_sdk,
        ),
        Variant(
            "artifact without bytecode",
            RUNTIME_PYTHON,
            _HANDLER,
            {**lambda_env, "PYTHONPATH": str(sources_only)},
            sources_only,
        ),
        Variant("source tree (bytecode cached)", sys.executable, _HANDLER, source_env, ROOT),
    ]
    return ColdStartVariants(variants, zipped)


def _run(variant: Variant, table: str, event: str) -> tuple[float, float]:
    result = subprocess.run(
        [variant.python, "-c", variant.code, table, event],
        env=variant.env,
        cwd=variant.cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = (float(v) for v in result.stdout.strip().splitlines()[-1].split())
    return wall, cpu


def _spread(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4)
    return f"{quartiles[0]:6.1f}–{quartiles[2]:6.1f}"


def bench_cold_start(prepared: ColdStartVariants, table: str, event: str, runs: int) -> dict[str, Sample]:
    """Run every variant ``runs`` times, interleaved; print medians, quartiles and ratios to the floor."""
    source_tree = prepared.variants[-1]
    _run(source_tree, table, event)  # writes the source tree's bytecode once, as a developer's machine has it
    samples = {variant.label: Sample() for variant in prepared.variants}
    for _ in range(runs):
        for variant in prepared.variants:
            samples[variant.label].add(*_run(variant, table, event))
    floor = samples["floor"]
    floor_wall, floor_cpu = statistics.median(floor.wall_ms), statistics.median(floor.cpu_ms)
    print(
        f"\n## Cold start: import + first GET /movies/2013/Rush (median of {runs} fresh processes each, interleaved;"
        " interpreter start-up excluded)"
    )
    print(f"  {'':36s} {'wall ms':>8s} {'quartiles':>15s} {'x floor':>8s} | {'CPU ms':>7s} {'x floor':>8s}")
    for label, sample in samples.items():
        wall, cpu = statistics.median(sample.wall_ms), statistics.median(sample.cpu_ms)
        print(
            f"  {label:36s} {wall:8.1f} {_spread(sample.wall_ms):>15s} {wall / floor_wall:7.2f}x |"
            f" {cpu:7.1f} {cpu / floor_cpu:7.2f}x"
        )
    print("  zip size: " + ", ".join(f"{label} {mib:.2f} MiB" for label, mib in prepared.zipped_mib.items()))
    return samples


def import_breakdown(prepared: ColdStartVariants) -> None:
    """Cumulative import cost of the heaviest packages on the handler's import path, from the artifact."""
    artifact = next(v for v in prepared.variants if v.label == "artifact")
    result = subprocess.run(
        [artifact.python, "-X", "importtime", "-c", "import mvdb.app"],
        env=artifact.env,
        cwd=artifact.cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    cumulative: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not cum.isdigit():
            continue
        if name.count(".") <= 1 or name.startswith("mvdb"):
            cumulative[name] = max(cumulative.get(name, 0), int(cum))
    heavy = sorted(cumulative.items(), key=lambda item: -item[1])[:12]
    print("  heaviest imports from the artifact (cumulative, one process; nested modules overlap):")
    for name, micros in heavy:
        print(f"    {micros / 1000:7.1f} ms  {name}")
