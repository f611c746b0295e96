"""``make bench``: cold start, warm latency, DynamoDB cost, loader throughput, artifact size.

Usage: python tools/bench/run.py [--cold-runs 15] [--warm-runs 300] [--loader-runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "moviedata.json"
TABLE = "mvdb-bench"
BENCH_MOVIE = "/movies/2099/Bench%20movie"
CLAIMS = {"claims": {"scope": "movies/read movies/write", "client_id": "bench"}}


def _event(path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    from mvdb_local.server import make_event

    raw = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return make_event("GET", raw, {"accept": "application/json"}, authorizer=CLAIMS)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the handler's log and EMF lines (written as in Lambda) to /dev/null, at the fd level:
    Powertools' logger holds its own reference to the stream, so redirect_stdout alone misses it."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@contextlib.contextmanager
def local_stack() -> Iterator[dict[str, str]]:
    """DynamoDB Local with the movies loaded; yields the environment the service needs."""
    import boto3

    from mvdb.loader import load_movies, read_records
    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.table import create_movies_table

    env = {
        "TABLE_NAME": TABLE,
        "REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "ENVIRONMENT": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
    }
    os.environ.update(env)
    with DynamoDBLocal() as dynamodb:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb.endpoint
        os.environ.update(env)
        client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
        create_movies_table(client, TABLE)
        load_movies(client, TABLE, read_records(DATA))
        yield env


# -- loader ---------------------------------------------------------------------------------


def bench_loader(env: dict[str, str], runs: int) -> None:
    import tempfile

    from mvdb_local.dynamodb_local import DynamoDBLocal

    print(f"\n## Loader (4,609 movies into an empty table; median of {runs})")
    _loader_runs("in memory (-inMemory, as the tests run it)", env["AWS_ENDPOINT_URL_DYNAMODB"], runs)
    with tempfile.TemporaryDirectory() as data_dir, DynamoDBLocal(data_dir=Path(data_dir)) as on_disk:
        _loader_runs("on disk (-dbPath, as make run keeps it)", on_disk.endpoint, runs)


def _loader_runs(label: str, endpoint: str, runs: int) -> None:
    from mvdb.cli import _client
    from mvdb.loader import load_movies, read_records
    from mvdb_local.table import create_movies_table

    records = read_records(DATA)
    client = _client(endpoint, "us-east-1")
    seconds = []
    for run in range(runs):
        table = f"mvdb-loader-{run}"
        create_movies_table(client, table)
        seconds.append(load_movies(client, table, records).seconds)
    rerun = load_movies(client, "mvdb-loader-0", records).seconds
    best = statistics.median(seconds)
    runs_text = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  {label}: {runs_text} s; median {best:.2f} s = {len(records) / best:,.0f} items/s")
    print(f"    rerun over the loaded table (idempotent overwrite): {rerun:.2f} s")


# -- cold start -----------------------------------------------------------------------------

_FLOOR = """
import time; t0 = time.perf_counter()
import boto3; boto3.client("dynamodb")
print(time.perf_counter() - t0)
"""
_HANDLER = """
import json, sys, time; t0 = time.perf_counter()
import mvdb.app
t1 = time.perf_counter()
if len(sys.argv) > 1:
    from mvdb_local.server import LambdaContext
    response = mvdb.app.lambda_handler(json.loads(sys.argv[1]), LambdaContext())
    assert response["statusCode"] == 200, response
print(t1 - t0, time.perf_counter() - t1)
"""


def _fresh_process(code: str, env: dict[str, str], *args: str) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(v) for v in result.stdout.strip().splitlines()[-1].split()]


def bench_cold_start(env: dict[str, str], runs: int) -> None:
    event = json.dumps(_event("/movies/2013/Rush"))
    floor, imports, first = [], [], []
    for _ in range(runs):  # interleaved: a noisy moment hits every variant alike
        floor.append(_fresh_process(_FLOOR, env)[0])
        imports.append(_fresh_process(_HANDLER, env)[0])
        imported, served = _fresh_process(_HANDLER, env, event)
        first.append(imported + served)
    floor_ms, import_ms, first_ms = median_ms(floor), median_ms(imports), median_ms(first)
    print(f"\n## Cold start (median of {runs} fresh processes, interleaved; interpreter start-up excluded)")
    print(f"  floor: import boto3 + create the DynamoDB client   {floor_ms:7.1f} ms")
    print(f"  import mvdb.app (handler module)                    {import_ms:7.1f} ms")
    print(f"  import mvdb.app + first request (GetItem)           {first_ms:7.1f} ms")
    print(f"  ratio (import + first request) / floor              {first_ms / floor_ms:7.2f}x")
    _import_breakdown(env)


def _import_breakdown(env: dict[str, str]) -> None:
    """Cumulative import cost of the heavy top-level packages on the handler's import path."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mvdb.app"],
        env={**os.environ, **env},
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
        top = name.strip()
        if top.count(".") <= 1 or top.startswith("mvdb"):
            cumulative[top] = max(cumulative.get(top, 0), int(cum))
    heavy = sorted(cumulative.items(), key=lambda item: -item[1])[:12]
    print("  heaviest imports (cumulative, one process; nested modules overlap):")
    for name, micros in heavy:
        print(f"    {micros / 1000:7.1f} ms  {name}")


# -- tracing ------------------------------------------------------------------------------------

OTEL_BIN = ROOT / ".tools" / "otel" / "bin"
_OTEL_ENV = {
    # What the AWS Distro for OpenTelemetry layer sets up: auto-instrumentation (botocore
    # included), X-Ray trace ids and propagation. Spans go to the console exporter here, as
    # there is no collector; in Lambda they go to the layer's collector extension on localhost.
    "OTEL_SERVICE_NAME": "mvdb",
    "OTEL_TRACES_EXPORTER": "console",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_PROPAGATORS": "xray",
    "OTEL_PYTHON_ID_GENERATOR": "xray",
}


def bench_tracing(env: dict[str, str], runs: int) -> None:
    """Whole-process time of import + first request, with and without OpenTelemetry auto-instrumentation."""
    if not (OTEL_BIN / "opentelemetry-instrument").exists():
        print("\n## Tracing overhead: skipped (.tools/otel missing: make .tools/otel/.installed)")
        return
    event = json.dumps(_event("/movies/2013/Rush"))
    plain_env = {**env, "PYTHONPATH": str(ROOT / "src")}
    command = [str(OTEL_BIN / "python"), "-c", _HANDLER, event]
    plain, traced = [], []
    for _ in range(runs):
        plain.append(_wall_time(command, plain_env))
        traced.append(_wall_time([str(OTEL_BIN / "opentelemetry-instrument"), *command], {**plain_env, **_OTEL_ENV}))
    plain_ms, traced_ms = median_ms(plain), median_ms(traced)
    print(f"\n## Tracing overhead (median of {runs} fresh processes, whole process incl. interpreter start-up)")
    print(f"  import + first request, no instrumentation          {plain_ms:7.1f} ms")
    print(f"  same under opentelemetry-instrument (ADOT's way)     {traced_ms:7.1f} ms")
    added = traced_ms - plain_ms
    print(f"  added by OpenTelemetry auto-instrumentation          {added:7.1f} ms ({traced_ms / plain_ms:.2f}x)")


def _wall_time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env={**os.environ, **env}, capture_output=True, check=True)
    return time.perf_counter() - started


# -- warm latency ---------------------------------------------------------------------------


def _timed(call: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def bench_warm(env: dict[str, str], runs: int) -> None:
    import boto3

    import mvdb.app
    from mvdb_local.server import LambdaContext

    raw = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"])
    key = {"year": {"N": "2013"}, "title": {"S": "Rush"}}
    cases = {
        "single get": (
            _event("/movies/2013/Rush"),
            lambda: raw.get_item(TableName=TABLE, Key=key, ConsistentRead=True),
        ),
        "page of a year (20)": (
            _event("/movies", {"year": "2013"}),
            lambda: raw.query(
                TableName=TABLE,
                KeyConditionExpression="#y = :y",
                ExpressionAttributeNames={"#y": "year"},
                ExpressionAttributeValues={":y": {"N": "2013"}},
                Limit=21,
            ),
        ),
    }
    context = LambdaContext()
    print(f"\n## Warm latency (handler in-process vs the raw boto3 call it makes; median of {runs}, interleaved)")
    # The handler writes a log line and an EMF line per request, as in Lambda; send them nowhere.
    with quiet_stdout():
        for event, raw_call in cases.values():
            for _ in range(20):  # warm both paths: connections, caches
                mvdb.app.lambda_handler(event, context)
                raw_call()
        results = {}
        for name, (event, raw_call) in cases.items():
            ours, floor = [], []
            for _ in range(runs):
                ours += _timed(lambda event=event: mvdb.app.lambda_handler(event, context), 1)
                floor += _timed(raw_call, 1)
            results[name] = (median_ms(floor), median_ms(ours))
    for name, (floor_ms, ours_ms) in results.items():
        print(
            f"  {name:22s} raw boto3 {floor_ms:6.2f} ms   handler {ours_ms:6.2f} ms   ratio {ours_ms / floor_ms:5.2f}x"
        )


# -- DynamoDB cost --------------------------------------------------------------------------


def bench_capacity(env: dict[str, str]) -> None:
    """What each request type costs in DynamoDB: operations and consumed capacity units."""
    import mvdb.app
    from mvdb_local.server import LambdaContext, make_event

    seen: list[tuple[str, float]] = []
    client = mvdb.app.app.service._repository._client  # type: ignore[attr-defined]  # the service's own client

    def ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def record(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        capacity = parsed.get("ConsumedCapacity") or {}
        seen.append((model.name, float(capacity.get("CapacityUnits", 0.0))))

    client.meta.events.register("before-parameter-build.dynamodb", ask_for_capacity)
    client.meta.events.register("after-call.dynamodb", record)
    body = json.dumps({"year": 2099, "title": "Bench movie", "info": {"rating": 5}})
    write = {"content-type": "application/json"}
    requests = [
        ("GET /movies/{year}/{title}", make_event("GET", "/movies/2013/Rush", authorizer=CLAIMS)),
        ("GET /movies?year=2013 (20)", make_event("GET", "/movies?year=2013", authorizer=CLAIMS)),
        ("GET /movies?year&genre (20)", make_event("GET", "/movies?year=2013&genre=Drama", authorizer=CLAIMS)),
        ("GET /movies?genre (scan, 20)", make_event("GET", "/movies?genre=Drama", authorizer=CLAIMS)),
        ("POST /movies", make_event("POST", "/movies", write, body.encode(), authorizer=CLAIMS)),
        (
            "PUT /movies/{year}/{title}",
            make_event(
                "PUT", "/movies/2099/Bench%20movie", {**write, "if-match": "*"}, body.encode(), authorizer=CLAIMS
            ),
        ),
        (
            "DELETE /movies/{year}/{title}",
            make_event("DELETE", "/movies/2099/Bench%20movie", {"if-match": "*"}, authorizer=CLAIMS),
        ),
        ("GET /health", make_event("GET", "/health")),
    ]
    print("\n## DynamoDB cost per request (ReturnConsumedCapacity=TOTAL; DynamoDB Local reports the same units)")
    with quiet_stdout():
        rows = []
        for name, event in requests:
            seen.clear()
            status = mvdb.app.lambda_handler(event, LambdaContext())["statusCode"]
            rows.append((name, status, list(seen)))
    for name, status, calls in rows:
        ops = ", ".join(f"{op} {units:g} CU" for op, units in calls) or "none"
        print(f"  {name:32s} {status}  {ops}")


def artifact_size() -> None:
    zips = sorted((ROOT / "build" / "lambda").glob("*.zip"))
    print("\n## Artifact")
    if not zips:
        print("  no build/lambda/*.zip: run `make build` first")
    for path in zips:
        print(f"  {path.relative_to(ROOT)}: {path.stat().st_size / 1_048_576:.2f} MB zipped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm-runs", type=int, default=300)
    parser.add_argument("--loader-runs", type=int, default=3)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"# mvdb benchmarks — {started} — {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with local_stack() as env:
        bench_cold_start(env, args.cold_runs)
        bench_tracing(env, args.cold_runs)
        bench_warm(env, args.warm_runs)
        bench_capacity(env)
        bench_loader(env, args.loader_runs)
    artifact_size()
    return 0


if __name__ == "__main__":
    sys.exit(main())
