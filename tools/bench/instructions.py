"""Warm requests counted in CPU instructions (Valgrind's callgrind), not timed.

On a shared, loaded machine a millisecond moves with the neighbours; the number of instructions a
request executes does not. This counts them for the handler and for the raw boto3 call it makes,
so that a change to the warm path can be confirmed (or refuted) before ``make bench`` times it.

Each side runs in its own process under ``valgrind --tool=callgrind --instr-atstart=no``: the
process imports and warms up uninstrumented, then counting is switched on (``callgrind_control -i
on``) for exactly ``--requests`` calls and off again. DynamoDB Local answers in another process,
whose work is not counted: what is counted is the Python process's own (botocore's included,
which the raw call pays as well).

With ``--from-memory`` the handler alone is counted, its DynamoDB client answering every call with
the response DynamoDB Local gave the first time: what is left is exactly the handler's own work
(routing, validation, logging, metrics, the response), without botocore's, which the raw call
pays as well. Its counts repeat to within 0.1 % and take a fraction of the time.

With ``--sections`` the single GET's own work (from memory) is split by function, inclusive: one
counted process per entry of ``SECTIONS``, in which that function runs through ``operator.call``
and callgrind collects only inside it (``--toggle-collect=_operator_call``: no C helper, and
nothing else in a request calls ``operator.call``; the "no section" row proves it).

Usage: python -m tools.bench.instructions [--requests 50] [--profile] [--from-memory] [--sections] [--cpu-time 400]
  --profile: also print the handler's top functions by own time (cProfile, in-process)
  --cpu-time: time a warm single GET instead, interleaved: the raw call, the handler's own work
    (from memory) and the whole handler, in thread CPU and wall ms, with the handler's own GetItem
    timed inside it: with the counts, the milliseconds one million instructions take on this
    machine now, and whether the handler waits anywhere the raw call does not
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CASES = ("single get", "page of a year (20)")
SIDES = ("raw", "handler")
OWN = "handler, DynamoDB from memory"
_WARM_UP = 20
_SECTION_ENV = "MVDB_BENCH_SECTION"
# What a warm GET's own work is spent on, inclusive ("module:attribute path" of each function).
_EMF = "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch:AmazonCloudWatchEMFProvider"
_API = "aws_lambda_powertools.event_handler.api_gateway"
SECTIONS = {
    "no section (must be 0)": "-",
    "Powertools resolver, the route included": f"{_API}:ApiGatewayResolver.resolve",
    "  the route: path check (validated_path)": "mvdb.api.movies:validated_path",
    "  the route: key from the path (movie_key)": "mvdb.api.movies:movie_key",
    "  the route: MovieService.get": "mvdb.domain.service:MovieService.get",
    "    item -> document (from_item)": "mvdb.repository.dynamodb:from_item",
    "  the route: the response (_movie_response)": "mvdb.api.movies:_movie_response",
    "    the JSON body (json_text)": "mvdb.api.movies:json_text",
    "  the response builder's compression check": f"{_API}:ResponseBuilder._has_compression_enabled",
    "admission": "mvdb.api.admission:Admission.admit",
    "the finisher": "mvdb.api.responses:ResponseFinisher.finish",
    "the X-Ray trace id": "mvdb.api.http_api:_xray_trace_id",
    "Metrics: add_metric (x2)": f"{_EMF}.add_metric",
    "Metrics: add_metadata (x8)": f"{_EMF}.add_metadata",
    "Metrics: add_dimension (x3, two in the flush)": f"{_EMF}.add_dimension",
    "Metrics: the flush (EMF line)": f"{_EMF}.flush_metrics",
    "  serialize_metric_set": f"{_EMF}.serialize_metric_set",
    "  is_metrics_disabled (environment)": (
        "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch:is_metrics_disabled"
    ),
    "  clear_metrics": f"{_EMF}.clear_metrics",
    "Logger: append_keys": "aws_lambda_powertools.logging.logger:Logger.append_keys",
}


def _count_only_inside(spec: str) -> None:
    """Run the function ``spec`` names through ``operator.call``, where callgrind collects."""
    module_name, _, path = spec.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    function = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        return operator.call(function, *args, **kwargs)

    is_static = isinstance(owner, type) and isinstance(vars(owner).get(name), staticmethod)
    setattr(owner, name, staticmethod(counted) if is_static else counted)


class _TimedGetItem:
    """The real client, its ``get_item`` timed (thread CPU and wall seconds) into ``samples``."""

    def __init__(self, real: Any, samples: dict[str, list[float]]) -> None:
        self._real = real
        self._samples = samples

    def get_item(self, **request: Any) -> Any:
        import time

        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return self._real.get_item(**request)
        finally:
            self._samples.setdefault("handler's GetItem cpu", []).append(time.thread_time() - cpu)
            self._samples.setdefault("handler's GetItem wall", []).append(time.perf_counter() - wall)


class _FromMemory:
    """A DynamoDB client that answers each operation with what the real one answered it the first time."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._answers: dict[str, Any] = {}

    def get_item(self, **request: Any) -> Any:
        return self._answer("get_item", request)

    def query(self, **request: Any) -> Any:
        return self._answer("query", request)

    def _answer(self, operation: str, request: dict[str, Any]) -> Any:
        if operation not in self._answers:
            self._answers[operation] = getattr(self._real, operation)(**request)
        return self._answers[operation]


def _calls(case: str, env: dict[str, str]) -> tuple[Any, Any]:
    """(the handler's call, the raw boto3 call) for ``case``, ready to run."""
    import boto3

    import mvdb.app
    from mvdb_local.server import LambdaContext
    from tools.bench.run import TABLE, _event

    raw = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"])
    context = LambdaContext()
    if case == "single get":
        event = _event("/movies/2013/Rush")
        key = {"year": {"N": "2013"}, "title": {"S": "Rush"}}
        return (
            lambda: mvdb.app.lambda_handler(event, context),
            lambda: raw.get_item(TableName=TABLE, Key=key, ConsistentRead=True),
        )
    event = _event("/movies", {"year": "2013"})
    return (
        lambda: mvdb.app.lambda_handler(event, context),
        lambda: raw.query(
            TableName=TABLE,
            KeyConditionExpression="#y = :y",
            ExpressionAttributeNames={"#y": "year"},
            ExpressionAttributeValues={":y": {"N": "2013"}},
            Limit=21,
        ),
    )


def child(case: str, side: str, requests: int) -> None:
    """Runs in the counted process: warm up, then ``requests`` calls between two signals."""
    signal = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)  # the handler's log and EMF lines go nowhere
    handler, raw = _calls(case, dict(os.environ))
    if side == OWN:
        import mvdb.app

        repository: Any = mvdb.app.app.service._repository  # its client is the one the handler calls
        repository._client = _FromMemory(repository._client)
    section = os.environ.get(_SECTION_ENV, "")
    if section not in ("", "-"):
        _count_only_inside(section)
    call = raw if side == "raw" else handler
    for _ in range(_WARM_UP):
        call()
    os.write(signal, b"ready\n")
    sys.stdin.readline()
    for _ in range(requests):
        call()
    os.write(signal, b"done\n")
    sys.stdin.readline()


def count(case: str, side: str, requests: int, env: dict[str, str], section: str = "") -> int:
    """Instructions the ``side`` of ``case`` executes in ``requests`` calls (only inside the
    function ``section`` names, when given: a ``SECTIONS`` value)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            *(["--toggle-collect=_operator_call"] if section else []),
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "tools.bench.instructions",
            "--child",
            case,
            side,
            str(requests),
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env, _SECTION_ENV: section},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if process.stdin is None or process.stdout is None:
            raise RuntimeError("no pipes to the counted process")
        _expect(process, "ready")
        _callgrind_control(process.pid, "on")
        process.stdin.write("go\n")
        process.stdin.flush()
        _expect(process, "done")
        _callgrind_control(process.pid, "off")
        process.stdin.write("exit\n")
        process.stdin.flush()
        if process.wait() != 0:
            raise RuntimeError(f"{case} / {side}: the counted process failed")
        return _total_instructions(out)


def _expect(process: subprocess.Popen[str], word: str) -> None:
    line = process.stdout.readline().strip() if process.stdout else ""
    if line != word:
        process.kill()
        raise RuntimeError(f"expected {word!r} from the counted process, got {line!r}")


def _callgrind_control(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def _total_instructions(out: Path) -> int:
    text = out.read_text()
    match = re.search(r"^totals: (\d+)", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no totals in {out}")
    return int(match.group(1))


def profile(env: dict[str, str], requests: int, cases: Iterable[str]) -> None:
    import cProfile
    import pstats

    from tools.bench.run import quiet_stdout

    for case in cases:
        handler, _ = _calls(case, env)
        profiler = cProfile.Profile()
        with quiet_stdout():
            for _ in range(_WARM_UP):
                handler()
            profiler.enable()
            for _ in range(requests):
                handler()
            profiler.disable()
        print(f"\n## {case}: the handler's top functions (cProfile, {requests} requests)")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        # Where the handler's own time goes, outside the SDK (which the raw call pays as well).
        stats.sort_stats("cumulative").print_stats(r"mvdb|aws_lambda_powertools|pydantic", 40)


def cpu_times(env: dict[str, str], rounds: int) -> dict[str, float]:
    """Median thread CPU and wall milliseconds of a warm single GET, interleaved in one process:
    the raw ``GetItem``, the handler with DynamoDB answered from memory (its own work), and the
    handler against DynamoDB Local, its own GetItem timed inside it. With the instruction counts,
    the machine's milliseconds per million instructions (the raw call's is the reference: the same
    code every release); the handler's GetItem beside the raw one shows whether the handler waits
    for anything the raw call does not."""
    import statistics
    import time

    import mvdb.app
    from tools.bench.run import quiet_stdout

    handler, raw = _calls("single get", env)
    repository: Any = mvdb.app.app.service._repository  # its client is the one the handler calls
    real = repository._client
    from_memory = _FromMemory(real)
    samples: dict[str, list[float]] = {}
    timed_real = _TimedGetItem(real, samples)

    def timed(name: str, call: Any) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        call()
        samples.setdefault(f"{name} cpu", []).append(time.thread_time() - cpu)
        samples.setdefault(f"{name} wall", []).append(time.perf_counter() - wall)

    with quiet_stdout():
        for _ in range(_WARM_UP):
            handler()
            raw()
        for _ in range(rounds):
            timed("raw", raw)
            repository._client = from_memory
            try:
                timed("own", handler)
                repository._client = timed_real
                timed("handler", handler)
            finally:
                repository._client = real
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--from-memory", action="store_true", help="count the handler's own work only")
    parser.add_argument(
        "--sections", action="store_true", help="split a single GET's own work by function (SECTIONS), inclusive"
    )
    parser.add_argument(
        "--cpu-time",
        type=int,
        metavar="ROUNDS",
        help="time a single GET instead (thread CPU and wall ms, no callgrind)",
    )
    parser.add_argument("--case", choices=CASES, action="append", help="count this case only (repeatable)")
    parser.add_argument(
        "--stack-env", type=Path, help="JSON of the environment of a running local stack (default: start one)"
    )
    parser.add_argument("--child", nargs=3, metavar=("CASE", "SIDE", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, side, requests = args.child
        child(case, side, int(requests))
        return 0
    from tools.bench.run import local_stack

    stack = contextlib.nullcontext(json.loads(args.stack_env.read_text())) if args.stack_env else local_stack()
    with stack as env:
        os.environ.update(env)
        if args.cpu_time:
            times = cpu_times(env, args.cpu_time)
            print(f"# A warm single GET, medians of {args.cpu_time} interleaved rounds (ms)")
            for name, ms in times.items():
                print(f"  {name:24s} {ms:7.3f}")
            print(json.dumps(times))
            return 0
        print(f"# Instructions per warm request (callgrind; {args.requests} requests per side)")
        results: dict[str, dict[str, float]] = {}
        if args.sections:
            own = count("single get", OWN, args.requests, env) / args.requests
            print(f"  single get, the handler's own work (DynamoDB from memory)   {own / 1e6:7.3f} M")
            for label, section in SECTIONS.items():
                inside = count("single get", OWN, args.requests, env, section) / args.requests
                results[label] = {OWN: inside}
                print(f"  {label:58s} {inside / 1e6:7.3f} M", flush=True)
            print(json.dumps(results))
            return 0
        if args.from_memory:
            for case in args.case or CASES:
                own = count(case, OWN, args.requests, env) / args.requests
                results[case] = {OWN: own}
                print(f"  {case:22s} the handler's own work {own / 1e6:7.3f} M (DynamoDB from memory)", flush=True)
            print(json.dumps(results))
            return 0
        for case in args.case or CASES:
            results[case] = {side: count(case, side, args.requests, env) / args.requests for side in SIDES}
            raw, ours = results[case]["raw"], results[case]["handler"]
            print(
                f"  {case:22s} raw {raw / 1e6:7.3f} M   handler {ours / 1e6:7.3f} M"
                f"   added {(ours - raw) / 1e6:+7.3f} M   ratio {ours / raw:5.2f}x",
                flush=True,
            )
        print(json.dumps(results))
        if args.profile:
            profile(env, args.requests * 4, args.case or CASES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
