"""Cold start in CPU instructions and imported modules: what a loaded machine cannot blur.

Each process runs under Valgrind's callgrind and is counted whole, less ``python -c pass`` with
the same environment (interpreter start-up). Counted, against DynamoDB Local with the movies loaded:

floor
    ``import boto3``, create the DynamoDB client, one GetItem (from the artifact, as ``make bench``).
artifact / source tree
    import ``mvdb.app`` and serve the first ``GET /movies/2013/Rush``: from ``make build``'s
    artifact built for this machine, and from ``src/`` with the development venv.
the floor plus a library
    the floor, then importing what every Powertools REST API imports before any code of ours:
    the event handler package with Logger and Metrics; then pydantic's ``BaseModel``; then the
    parameter declarations (``Query``, ``Path``...) that routes validated by Powertools use.
    They show how much of the artifact's count is the libraries' import, which no import
    structure of ours removes.

Usage: ``python -m tools.bench.cold_instructions`` (about five minutes on two cores; needs
valgrind, ``make node_modules/.installed``). Instructions leave out the kernel's work (stat,
open, read of each module): the module counts are printed beside them for that.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.bench.cold_start import RUNTIME_PYTHON, function_globals_environment
from tools.bench.run import TABLE, _event, local_stack
from tools.build.lambda_artifact import build_function, host_platform

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "bench-instructions"

_FLOOR = """import sys, json
import boto3
client = boto3.client("dynamodb")
client.get_item(TableName=sys.argv[1], Key={"year": {"N": "2013"}, "title": {"S": "Rush"}}, ConsistentRead=True)
"""
_LAYERS = (
    ("floor + Powertools event handler, Logger, Metrics", "import aws_lambda_powertools.event_handler\n"
     "from aws_lambda_powertools import Logger, Metrics\n"),
    ("  + pydantic BaseModel", "from pydantic import BaseModel\n"),
    ("  + Powertools' validated parameters", "import aws_lambda_powertools.event_handler.openapi.params\n"),
)  # fmt: skip
_HANDLER = """import sys, json
import mvdb.app

class Context:
    function_name, function_version, memory_limit_in_mb = "mvdb", "1", 512
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:123456789012:function:mvdb", "bench"
    def get_remaining_time_in_millis(self): return 10_000

response = mvdb.app.lambda_handler(json.loads(sys.argv[2]), Context())
assert response["statusCode"] == 200, response
"""
_COUNT_MODULES = "\nprint('modules', len(sys.modules), file=sys.stderr)\n"


def _callgrind(python: str, code: str, env: dict[str, str], cwd: Path, event: str) -> tuple[int, int]:
    """(instructions, modules in ``sys.modules`` at the end) of one process running ``code``."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-c",
             code + _COUNT_MODULES, TABLE, event],
            env=env, cwd=cwd, capture_output=True, text=True, check=True,
        )  # fmt: skip
        total = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        modules = re.search(r"^modules (\d+)$", result.stderr, re.MULTILINE)
    if not (total and modules):
        raise RuntimeError(f"no count from callgrind: {result.stderr[-2000:]}")
    return int(total.group(1)), int(modules.group(1))


def main() -> int:
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    artifact = build_function(WORK, platform=host_platform(), name="artifact-zip")
    task = WORK / "task"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(task)
    with local_stack() as stack_env:
        event = json.dumps(_event("/movies/2013/Rush"))
        lambda_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            **stack_env,
            **function_globals_environment(),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(task),
        }
        source_env = {**lambda_env, "PYTHONPATH": str(ROOT / "src")}
        del source_env["PYTHONDONTWRITEBYTECODE"]
        # The source tree with its bytecode cached, as on a developer's machine.
        subprocess.run([sys.executable, "-c", _HANDLER, TABLE, event], env=source_env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        runs: dict[str, tuple[str, str, dict[str, str], Path]] = {
            "start-up (artifact env)": (RUNTIME_PYTHON, "import sys", lambda_env, task),
            "start-up (source env)": (sys.executable, "import sys", source_env, ROOT),
            "floor": (RUNTIME_PYTHON, _FLOOR, lambda_env, task),
            "artifact": (RUNTIME_PYTHON, _HANDLER, lambda_env, task),
            "source tree": (sys.executable, _HANDLER, source_env, ROOT),
        }
        code = _FLOOR
        for label, imports in _LAYERS:
            code += imports
            runs[label] = (RUNTIME_PYTHON, code, lambda_env, task)
        with ThreadPoolExecutor(max_workers=2) as pool:
            counted = dict(zip(runs, pool.map(lambda run: _callgrind(*run, event), runs.values()), strict=True))
    start, start_modules = counted.pop("start-up (artifact env)")
    source_start, source_start_modules = counted.pop("start-up (source env)")
    floor = counted["floor"][0] - start
    print("\n## Cold start in instructions (callgrind; import + first GET /movies/2013/Rush; start-up subtracted)")
    print(f"  {'':52s} {'M instr':>9s} {'x floor':>8s} {'modules':>8s}")
    for label, (instructions, modules) in counted.items():
        own, base = (source_start, source_start_modules) if label == "source tree" else (start, start_modules)
        counted_here = instructions - own
        print(f"  {label:52s} {counted_here / 1e6:9.1f} {counted_here / floor:7.3f}x {modules - base:8d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
