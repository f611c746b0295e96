"""``make bench-search``: what a complete search costs at 1x and at 10x the data, through the Lambda handler.

The 10x data set is the data set plus nine copies in which titles, actors, directors and genres
are suffixed " (copy N)": the answer to each name, genre and year search is the same at both
scales, only ``min_rating``'s grows tenfold. Each scale runs on a DynamoDB Local started from its
seed (``mvdb_local.seed``: the data loaded and indexed by ``mvdb load``; the 10x seed takes a
while to build the first time, then it is reused). Every search goes through
``mvdb.app.lambda_handler`` with ``limit=20``, following ``next_cursor`` to the end, with
``ReturnConsumedCapacity=TOTAL`` on every DynamoDB call (all tables); its results are checked
against a raw Scan of the movies table: every match exactly once. The scales alternate, three
rounds; capacity is deterministic, wall time is the median.

Then the cost of the other reads (a year's listing, one movie) and of writes: movies created,
replaced and deleted through the handler, then indexed by the search index function's handler
from the stream, with the capacity of both (write amplification: WCU per movie written).

Usage: python -m tools.bench.search [--rounds 3] [--writes 300]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from tools.bench.run import CLAIMS, quiet_stdout

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "moviedata.json"
TENFOLD = ROOT / "build" / "bench" / "moviedata-10x.json"
TABLE = "mvdb-movies"  # the seed's table
PAGE = 20

SEARCHES: list[tuple[str, dict[str, str], Callable[[dict[str, Any]], bool]]] = [
    ('actor="Tom Hanks"', {"actor": "Tom Hanks"}, lambda m: "Tom Hanks" in m["info"].get("actors", [])),
    (
        'director="Christopher Nolan"',
        {"director": "Christopher Nolan"},
        lambda m: "Christopher Nolan" in m["info"].get("directors", []),
    ),
    ('genre="Sci-Fi"', {"genre": "Sci-Fi"}, lambda m: "Sci-Fi" in m["info"].get("genres", [])),
    ("min_rating=8.5", {"min_rating": "8.5"}, lambda m: m["info"].get("rating", -1) >= 8.5),
    (
        'year=2013 genre="Action"',
        {"year": "2013", "genre": "Action"},
        lambda m: m["year"] == 2013 and "Action" in m["info"].get("genres", []),
    ),
]


class BenchmarkFailed(RuntimeError):
    """What was measured is not what the search must do (a match missing or repeated): no figures then."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchmarkFailed(message)


def tenfold(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data set and nine copies whose titles, actors, directors and genres end in " (copy N)"."""
    copies = list(records)
    for n in range(1, 10):
        suffix = f" (copy {n})"
        for record in records:
            info = dict(record.get("info", {}))
            for field_name in ("actors", "directors", "genres"):
                if field_name in info:
                    info[field_name] = [name + suffix for name in info[field_name]]
            copies.append({**record, "title": record["title"] + suffix, "info": info})
    return copies


# -- measuring DynamoDB calls ---------------------------------------------------------------------------


@dataclass
class Calls:
    """The DynamoDB calls one piece of work made: operation, capacity per table, items read."""

    operations: list[str] = field(default_factory=list)
    read_units: float = 0.0
    write_units: float = 0.0
    by_table: dict[str, float] = field(default_factory=dict)
    keys_read: list[str] = field(default_factory=list)

    @property
    def reread(self) -> int:
        return len(self.keys_read) - len(set(self.keys_read))


@contextlib.contextmanager
def measured(client: Any) -> Iterator[Calls]:
    """Every DynamoDB call ``client`` makes inside the block, with ReturnConsumedCapacity=TOTAL."""
    calls = Calls()

    def ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        calls.operations.append(model.name)
        capacity = parsed.get("ConsumedCapacity") or []
        for entry in capacity if isinstance(capacity, list) else [capacity]:
            units = float(entry.get("CapacityUnits", 0.0))
            calls.by_table[entry["TableName"]] = calls.by_table.get(entry["TableName"], 0.0) + units
            if model.name in {"GetItem", "Query", "Scan", "BatchGetItem"}:
                calls.read_units += units
            else:
                calls.write_units += units
        for item in parsed.get("Items", []):
            key = item.get("pk", item.get("year")), item.get("sk", item.get("title"))
            calls.keys_read.append(json.dumps(key, sort_keys=True))

    events = client.meta.events
    events.register("before-parameter-build.dynamodb", ask_for_capacity)
    events.register("after-call.dynamodb", record)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", ask_for_capacity)
        events.unregister("after-call.dynamodb", record)


# -- one scale: a DynamoDB Local and the handler serving its table ------------------------------------


@dataclass
class Scale:
    name: str
    records: list[dict[str, Any]]
    endpoint: str

    def use(self, table: str = TABLE) -> Any:
        """Point the handlers at ``table`` of this scale (settings and services rebuilt); returns the API's client.

        The app reads its settings once per process, as in Lambda; switching scales rebuilds them
        as a new container would.
        """
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = self.endpoint
        os.environ["TABLE_NAME"] = table
        import mvdb.app  # reads its settings on first import: after the environment is set
        from mvdb.api.http_api import create_app, lambda_handler_of
        from mvdb.config import get_settings
        from mvdb.streams.search_indexer import search_index

        get_settings.cache_clear()
        search_index.cache_clear()
        mvdb.app.settings = get_settings()
        mvdb.app.app = create_app(mvdb.app.settings)
        mvdb.app.lambda_handler = lambda_handler_of(mvdb.app.app)
        return mvdb.app.app.service._repository._client  # type: ignore[attr-defined]  # the service's own client


def call(path: str) -> dict[str, Any]:
    import mvdb.app
    from mvdb_local.gateway import request_event
    from mvdb_local.server import LambdaContext

    response = mvdb.app.lambda_handler(request_event("GET", path, authorizer=CLAIMS), LambdaContext())
    check(response["statusCode"] == 200, f"GET {path} answered {response['statusCode']}: {response.get('body')}")
    body: dict[str, Any] = json.loads(response["body"])
    return body


@dataclass
class SearchRun:
    calls: Calls
    pages: int
    results: list[tuple[int, str]]
    seconds: float


def complete_search(client: Any, params: dict[str, str]) -> SearchRun:
    """The search followed to its last page through the handler, and what it cost."""
    results: list[tuple[int, str]] = []
    pages, cursor = 0, None
    started = time.perf_counter()
    with measured(client) as calls:
        while True:
            query = {**params, "limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            page = call(f"/movies?{urlencode(query, quote_via=quote)}")
            pages += 1
            results += [(item["year"], item["title"]) for item in page["items"]]
            cursor = page.get("next_cursor")
            if cursor is None:
                break
    return SearchRun(calls, pages, results, time.perf_counter() - started)


def admin_client(endpoint: str) -> Any:
    """A client for the benchmark's own scans and descriptions: a 10x database outlasts the service's 2 s timeout."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", endpoint_url=endpoint, config=Config(read_timeout=300))


def raw_scan(endpoint: str) -> tuple[list[dict[str, Any]], float]:
    """Every movie of the table by a raw Scan (the ground truth), and what that scan cost in RCU."""
    from mvdb.repository.dynamodb import from_item

    client = admin_client(endpoint)
    movies: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": TABLE}
    with measured(client) as calls:
        while True:
            page = client.scan(**request)
            movies += [from_item(item).document for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return movies, calls.read_units


# -- writes -------------------------------------------------------------------------------------------


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: its attribute names and values, in bytes.

    DynamoDB developer guide, "Item sizes and formats": a string is its UTF-8 bytes, a number about
    (significant digits / 2) + 1 bytes, a boolean or null 1 byte, a list or map 3 bytes plus 1 per
    element plus its elements (a map's keys counted like names), a set the sum of its elements.
    """
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def value_bytes(value: dict[str, Any]) -> int:
    """One attribute value's size (DynamoDB's rules, as ``item_bytes`` gives them)."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in content)
    if kind == "NS":
        return sum(value_bytes({"N": element}) for element in content)
    if kind == "L":
        return 3 + sum(value_bytes(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(key.encode()) + value_bytes(element) + 1 for key, element in content.items())
    raise ValueError(f"no size rule for {kind}")


def _units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


@dataclass
class Priced:
    """Capacity by AWS's documented rules, from the sizes of the items each request touched.

    DynamoDB Local reports a TransactWriteItems as if each table had one item in it (measured:
    1, 2 or 5 puts of 1.5 KB in one transaction are all reported as 4 WCU), so the index's writes
    are priced here instead: a transactional write is 2 WCU per KB of each item ("Transactional
    write requests require two WCUs ... for items up to 1 KB", DynamoDB pricing), a delete and a
    condition check by the size of the item they touch; a strongly consistent read 1 RCU per 4 KB
    of each item, at least 1.
    """

    sizes: dict[str, int]  # size of every item before the work, by table and key
    read_units: float = 0.0
    write_units: float = 0.0

    def price(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            for action in params["TransactItems"]:
                [(kind, body)] = action.items()
                size = item_bytes(body["Item"]) if kind == "Put" else self.sizes.get(_key(body), 0)
                self.write_units += 2 * _units(size, 1024)
        elif model.name == "PutItem":
            self.write_units += _units(item_bytes(params["Item"]), 1024)
        elif model.name == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                for key in request["Keys"]:
                    self.read_units += _units(self.sizes.get(_key({"TableName": table, "Key": key}), 0), 4096)


def _key(body: dict[str, Any]) -> str:
    return json.dumps([body["TableName"], body.get("Key") or {}], sort_keys=True)


def _sizes(client: Any, tables: list[str]) -> dict[str, int]:
    """The size of every item of ``tables``, by table and key (the key attributes named as in the tables)."""
    sizes: dict[str, int] = {}
    for table in tables:
        key_names = [k["AttributeName"] for k in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = client.scan(**request)
            for item in page["Items"]:
                sizes[_key({"TableName": table, "Key": {name: item[name] for name in key_names}})] = item_bytes(item)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sizes


def bench_writes(scale: Scale, count: int) -> None:
    """Create, replace and delete ``count`` movies through the handler; index them from the stream."""
    import boto3

    import mvdb.app
    from mvdb.streams.search_indexer import lambda_handler as search_indexer
    from mvdb.streams.search_indexer import search_index
    from mvdb_local.gateway import request_event
    from mvdb_local.server import LambdaContext
    from mvdb_local.streams import LocalStreamPoller, StreamConsumer
    from mvdb_local.table import create_tables

    table = "mvdb-bench-writes"
    create_tables(scale.use(), table)
    api_client = scale.use(table)
    index_client = search_index()._client  # type: ignore[attr-defined]  # the stream handler's own client
    streams = boto3.client("dynamodbstreams", endpoint_url=scale.endpoint)
    poller = LocalStreamPoller(api_client, streams, table, [StreamConsumer("search-indexer", search_indexer)])
    sample = random.Random(14).sample(scale.records, count)
    context = LambdaContext

    def handle(method: str, path: str, body: Any = None, etag: str | None = None) -> dict[str, Any]:
        headers = {"content-type": "application/json", **({"if-match": etag} if etag else {})}
        raw = json.dumps(body).encode() if body is not None else None
        response = mvdb.app.lambda_handler(request_event(method, path, headers, raw, authorizer=CLAIMS), context())
        check(response["statusCode"] in (200, 201, 204), f"{method} {path}: {response}")
        return response

    print(f"\n## Writes ({count} movies of the data set through the handler, then indexed from the stream)")
    print(
        "  per movie        movies table  index function: RCU  WCU (AWS's rules)  WCU (DynamoDB Local's report)"
        "  write amplification"
    )
    etags: dict[str, str] = {}
    for operation in ("create", "replace", "delete"):
        with measured(api_client) as api_calls, quiet_stdout():
            for record in sample:
                path = f"/movies/{record['year']}/{quote(record['title'], safe='')}"
                if operation == "create":
                    response = handle("POST", "/movies", record)
                elif operation == "replace":
                    info = {**record["info"], "genres": ["Bench"], "actors": ["Bench Actor"]}
                    response = handle("PUT", path, {"info": info}, etags[path])
                else:
                    response = handle("DELETE", path, None, etags[path])
                etags[path] = (response.get("multiValueHeaders") or {}).get("ETag", [""])[0]
        priced = Priced(_sizes(admin_client(scale.endpoint), [table, f"{table}-search-index"]))
        index_client.meta.events.register("provide-client-params.dynamodb", priced.price)
        try:
            with measured(index_client) as reported, quiet_stdout():
                poller.drain()
        finally:
            index_client.meta.events.unregister("provide-client-params.dynamodb", priced.price)
        base = api_calls.write_units / count
        reads, writes, as_reported = (
            units / count for units in (priced.read_units, priced.write_units, reported.write_units)
        )
        print(
            f"  {operation:<16} {base:>5.2f} WCU    {reads:>14.2f}  {writes:>17.2f}  {as_reported:>29.2f}"
            f"  {(base + writes) / base:>18.1f}x"
        )
    api_client.delete_table(TableName=table)
    api_client.delete_table(TableName=f"{table}-search-index")


# -- the report ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over both scales (default 3)")
    parser.add_argument("--writes", type=int, default=300, help="movies written in the write benchmark")
    args = parser.parse_args()
    from mvdb_local.__main__ import LOCAL_ENV  # the local stack's settings: region, dummy credentials

    for name, value in {**LOCAL_ENV, "ENVIRONMENT": "bench", "REQUIRE_AUTH": "true"}.items():
        os.environ.setdefault(name, value)

    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.seed import seeded_database

    records = json.loads(DATA.read_text(encoding="utf-8"))
    TENFOLD.parent.mkdir(parents=True, exist_ok=True)
    big = tenfold(records)
    text = json.dumps(big, ensure_ascii=False)
    if not TENFOLD.exists() or TENFOLD.read_text(encoding="utf-8") != text:
        TENFOLD.write_text(text, encoding="utf-8")
    print(f"# mvdb search benchmark — {time.strftime('%Y-%m-%d %H:%M %Z')} — {os.cpu_count()} cores")
    started = time.monotonic()
    seeds = {"1x": seeded_database(DATA), "10x": seeded_database(TENFOLD)}
    print(f"seeds ready in {time.monotonic() - started:.0f} s ({len(records):,} and {len(big):,} movies)")
    with DynamoDBLocal(heap="1g", seed=seeds["1x"]) as small, DynamoDBLocal(heap="1g", seed=seeds["10x"]) as large:
        scales = [Scale("1x", records, small.endpoint), Scale("10x", big, large.endpoint)]
        report(scales, args.rounds)
        bench_writes(scales[0], args.writes)
    return 0


def report(scales: list[Scale], rounds: int) -> None:
    truth: dict[str, list[dict[str, Any]]] = {}
    scan_rcu: dict[str, float] = {}
    for scale in scales:
        truth[scale.name], scan_rcu[scale.name] = raw_scan(scale.endpoint)
        check(len(truth[scale.name]) == len(scale.records), f"{scale.name}: the table does not hold the data set")
    runs: dict[tuple[str, str], list[SearchRun]] = {}
    with quiet_stdout():
        for _ in range(rounds):
            for label, params, _predicate in SEARCHES:
                for scale in scales:
                    runs.setdefault((label, scale.name), []).append(complete_search(scale.use(), params))
    print(
        f"\n## Complete searches through the handler, limit={PAGE}, following next_cursor to the end "
        f"(median of {rounds}, scales interleaved; one raw Scan of the table: "
        f"1x {scan_rcu['1x']:g} RCU, 10x {scan_rcu['10x']:g} RCU)"
    )
    for label, _params, predicate in SEARCHES:
        costs = {}
        for scale in scales:
            run = runs[(label, scale.name)][-1]
            expected = sorted((m["year"], m["title"]) for m in truth[scale.name] if predicate(m))
            check(sorted(run.results) == expected, f"{label} at {scale.name}: not every match exactly once")
            check(len(run.results) == len(set(run.results)), f"{label} at {scale.name}: a match came twice")
            costs[scale.name] = statistics.median(r.calls.read_units for r in runs[(label, scale.name)])
        growth = costs["10x"] / costs["1x"]
        print(f"search {label}: 1x {costs['1x']:g} RCU, 10x {costs['10x']:g} RCU, growth {growth:.2f}x")
        for scale in scales:
            run = runs[(label, scale.name)][-1]
            seconds = statistics.median(r.seconds for r in runs[(label, scale.name)])
            per_result = costs[scale.name] / len(run.results)
            per_page = costs[scale.name] / run.pages
            print(
                f"    {scale.name:>3}: {len(run.results)} results exactly once, {run.pages} HTTP pages, "
                f"{len(run.calls.operations)} DynamoDB calls ({', '.join(sorted(set(run.calls.operations)))}), "
                f"{per_page:.2f} RCU per page, {per_result:.3f} RCU per result, items read twice: "
                f"{run.calls.reread}, {seconds * 1000:.0f} ms"
            )
        if label.startswith("min_rating"):
            small, large = (costs[s.name] / len(runs[(label, s.name)][-1].results) for s in scales)
            print(f"    RCU per result: 1x {small:.3f}, 10x {large:.3f}, ratio {large / small:.2f}x")
    other_reads(scales)


def other_reads(scales: list[Scale]) -> None:
    print("\n## Other reads (through the handler)")
    for scale in scales:
        client = scale.use()
        with quiet_stdout():
            year = complete_search(client, {"year": "2013"})
        with measured(client) as get, quiet_stdout():
            call("/movies/2013/Rush")
        print(
            f"  {scale.name:>3}: year=2013 listing: {len(year.results)} movies, {year.pages} pages, "
            f"{year.calls.read_units / year.pages:.2f} RCU per page of {PAGE} (the last one short), items read "
            f"twice: {year.calls.reread}; GET /movies/2013/Rush: {get.read_units:g} RCU ({', '.join(get.operations)})"
        )
        from mvdb.config import get_settings

        admin = admin_client(scale.endpoint)
        described = {
            name: admin.describe_table(TableName=name)["Table"]
            for name in (TABLE, get_settings().search_index_table_name)
        }
        sizes = ", ".join(
            f"{name} {table['ItemCount']:,} items {table['TableSizeBytes'] / 1e6:.1f} MB"
            for name, table in described.items()
        )
        print(f"       storage: {sizes}")


if __name__ == "__main__":
    sys.exit(main())
