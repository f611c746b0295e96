"""``make bench``: cold start, warm latency, DynamoDB cost, loader throughput, artifact size.

Usage: python -m tools.bench.run [--cold-runs 20] [--warm-runs 400] [--loader-runs 3]
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

from mvdb.api.scopes import ALL_SCOPES

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "moviedata.json"
TABLE = "mvdb-bench"
BENCH_MOVIE = "/movies/2099/Bench%20movie"
CLAIMS = {"claims": {"scope": " ".join(ALL_SCOPES), "client_id": "bench"}}


def _event(path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    from mvdb_local.gateway import request_event

    raw = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return request_event("GET", raw, {"accept": "application/json"}, authorizer=CLAIMS)


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
    from mvdb_local.table import create_tables

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
        create_tables(client, TABLE)
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
    from mvdb_local.table import create_tables

    records = read_records(DATA)
    client = _client(endpoint, "us-east-1")
    seconds = []
    for run in range(runs):
        table = f"mvdb-loader-{run}"
        create_tables(client, table)
        seconds.append(load_movies(client, table, records).seconds)
    rerun = load_movies(client, "mvdb-loader-0", records).seconds
    best = statistics.median(seconds)
    runs_text = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  {label}: {runs_text} s; median {best:.2f} s = {len(records) / best:,.0f} items/s")
    print(f"    rerun over the loaded table (idempotent overwrite): {rerun:.2f} s")


# -- cold start (tools/bench/cold_start.py) ------------------------------------------------------

BENCH_BUILD = ROOT / "build" / "bench"


def bench_cold(env: dict[str, str], runs: int) -> None:
    from tools.bench.cold_start import bench_cold_start, import_breakdown, prepare_variants

    prepared = prepare_variants(BENCH_BUILD, env)
    bench_cold_start(prepared, TABLE, json.dumps(_event("/movies/2013/Rush")), runs)
    import_breakdown(prepared)


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


_TRACED_HANDLER = """
import json, sys, time; t0 = time.perf_counter()
import mvdb.app
from mvdb_local.server import LambdaContext
response = mvdb.app.lambda_handler(json.loads(sys.argv[1]), LambdaContext())
assert response["statusCode"] == 200, response
"""


def bench_tracing(env: dict[str, str], runs: int) -> None:
    """Whole-process time of import + first request, with and without OpenTelemetry auto-instrumentation."""
    if not (OTEL_BIN / "opentelemetry-instrument").exists():
        print("\n## Tracing overhead: skipped (.tools/otel missing: make .tools/otel/.installed)")
        return
    event = json.dumps(_event("/movies/2013/Rush"))
    plain_env = {**env, "PYTHONPATH": str(ROOT / "src")}
    command = [str(OTEL_BIN / "python"), "-c", _TRACED_HANDLER, event]
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
            f"  {name:22s} raw boto3 {floor_ms:6.2f} ms   handler {ours_ms:6.2f} ms"
            f"   added {ours_ms - floor_ms:+5.2f} ms   ratio {ours_ms / floor_ms:5.2f}x"
        )


def bench_warm_breakdown(env: dict[str, str], runs: int) -> None:
    """What the handler's per-request steps cost on a warm GET: the handler with one step switched
    off, interleaved with the whole handler (the switches exist in this benchmark only)."""
    import boto3

    import mvdb.app
    from mvdb_local.server import LambdaContext

    raw = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"])
    key = {"year": {"N": "2013"}, "title": {"S": "Rush"}}
    provider = type(mvdb.app.metrics.provider)
    api = mvdb.app.app
    flush, add_metadata = provider.flush_metrics, provider.add_metadata

    def drop_metrics(self: Any, raise_on_empty_metrics: bool = False) -> None:
        self.clear_metrics()

    switches: dict[str, Callable[[], None]] = {
        "whole handler": lambda: None,
        "without the access-log fields (EMF metadata)": lambda: setattr(
            provider, "add_metadata", lambda *_, **__: None
        ),
        "without the EMF flush": lambda: setattr(provider, "flush_metrics", drop_metrics),
        "without the route lookup (metric dimension)": lambda: setattr(
            api, "route_of", lambda _event: "/movies/{year}/{title+}"
        ),
    }

    def restore() -> None:
        provider.flush_metrics, provider.add_metadata = flush, add_metadata
        vars(api).pop("route_of", None)  # the class's own method again

    event, context = _event("/movies/2013/Rush"), LambdaContext()
    samples: dict[str, list[float]] = {"raw GetItem": [], **{name: [] for name in switches}}
    with quiet_stdout():
        for _ in range(runs):
            samples["raw GetItem"] += _timed(lambda: raw.get_item(TableName=TABLE, Key=key, ConsistentRead=True), 1)
            for name, switch_off in switches.items():
                switch_off()
                try:
                    samples[name] += _timed(lambda: mvdb.app.lambda_handler(event, context), 1)
                finally:
                    restore()
    raw_ms, whole_ms = median_ms(samples["raw GetItem"]), median_ms(samples["whole handler"])
    print(f"\n## Warm GET, step by step (median of {runs} each, interleaved)")
    print(f"  raw GetItem {raw_ms:.2f} ms; whole handler {whole_ms:.2f} ms (added {whole_ms - raw_ms:+.2f} ms)")
    for name in list(switches)[1:]:
        saved = whole_ms - median_ms(samples[name])
        print(f"  {name:46s} {median_ms(samples[name]):6.2f} ms   the step costs {saved:+.2f} ms")
    _bench_page_conversion(raw, runs)


def _bench_page_conversion(raw: Any, runs: int) -> None:
    """A year's page: what turning the Query's 20 items into movie documents costs, beside the Query."""
    from mvdb.repository.dynamodb import from_item

    query = {
        "TableName": TABLE,
        "KeyConditionExpression": "#y = :y",
        "ExpressionAttributeNames": {"#y": "year"},
        "ExpressionAttributeValues": {":y": {"N": "2013"}},
        "Limit": 21,
    }
    items = raw.query(**query)["Items"][:20]
    queried, converted = [], []
    for _ in range(runs):
        queried += _timed(lambda: raw.query(**query), 1)
        converted += _timed(lambda: [from_item(item) for item in items], 1)
    print(
        f"  year page: raw Query {median_ms(queried):.2f} ms; converting its 20 items to documents"
        f" (repository from_item) {median_ms(converted):.2f} ms"
    )


# -- DynamoDB cost --------------------------------------------------------------------------


def bench_capacity(env: dict[str, str]) -> None:
    """What each request type costs in DynamoDB: operations and consumed capacity units."""
    import mvdb.app
    from mvdb_local.gateway import request_event
    from mvdb_local.server import LambdaContext

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
        ("GET /movies/{year}/{title}", request_event("GET", "/movies/2013/Rush", authorizer=CLAIMS)),
        ("GET /movies?year=2013 (20)", request_event("GET", "/movies?year=2013", authorizer=CLAIMS)),
        ("GET /movies?year&genre (20)", request_event("GET", "/movies?year=2013&genre=Drama", authorizer=CLAIMS)),
        ("GET /movies?genre (index, 20)", request_event("GET", "/movies?genre=Drama", authorizer=CLAIMS)),
        ("POST /movies", request_event("POST", "/movies", write, body.encode(), authorizer=CLAIMS)),
        (
            "PUT /movies/{year}/{title}",
            request_event(
                "PUT", "/movies/2099/Bench%20movie", {**write, "if-match": "*"}, body.encode(), authorizer=CLAIMS
            ),
        ),
        (
            "DELETE /movies/{year}/{title}",
            request_event("DELETE", "/movies/2099/Bench%20movie", {"if-match": "*"}, authorizer=CLAIMS),
        ),
        ("GET /health", request_event("GET", "/health")),
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
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--warm-runs", type=int, default=400)
    parser.add_argument("--only", choices=["cold", "warm"], help="run one section only (default: all)")
    parser.add_argument("--loader-runs", type=int, default=3)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"# mvdb benchmarks — {started} — {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with local_stack() as env:
        if args.only in (None, "cold"):
            bench_cold(env, args.cold_runs)
        if args.only is None:
            bench_tracing(env, args.cold_runs)
        if args.only in (None, "warm"):
            bench_warm(env, args.warm_runs)
            bench_warm_breakdown(env, args.warm_runs)
        if args.only is None:
            bench_capacity(env)
            bench_loader(env, args.loader_runs)
    artifact_size()
    return 0


if __name__ == "__main__":
    sys.exit(main())
