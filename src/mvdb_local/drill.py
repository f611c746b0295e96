"""``python -m mvdb_local.drill`` (``make drill``): a restore drill on DynamoDB Local, with evidence.

1. A movies table, created from infra/template.yaml and loaded with the 4,609 movies (or the
   movies of ``--data``, a file in the same format).
2. Back it up to files (``mvdb backup``: a DynamoDB export, every file checksummed).
3. Damage the table: delete movies, change one behind the API's back (its stored ETag no
   longer matches), and show that the table checks see the damage.
4. Restore: into the damaged table is refused (a restore never overwrites); into a new table,
   created from the template's definition, it succeeds.
5. Validate the new table with the same checks AWS Backup restore testing runs
   (``mvdb.verification``): the table checks against the backup's item count and content digest,
   and the read-only checks of the deployed tests through the API's own handler, read-only.
6. Print the evidence (counts, checksums, timings, every check) and keep it as JSON in
   ``--output`` (default build/drill/<export id>/evidence.json, beside the backup).

Exit status 0 when the damage was detected and the restored table passed every check, else 1.
``--endpoint`` uses a DynamoDB Local that is already running (the tests' own); without it one
is started in memory on a free port and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvdb_local import PROJECT_ROOT

__all__ = ["DATA_FILE", "main", "run_drill"]

DATA_FILE = PROJECT_ROOT / "data" / "moviedata.json"
_DELETED = 25  # movies the damage step deletes
# The table checks that must see that damage: nothing less, and nothing else.
_DAMAGE_SEEN_BY = frozenset(
    {"item count equals the backup's", "content digest equals the backup's", "every stored ETag matches its document"}
)
_LOCAL_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    # The read checks call the API's handler in this process: its access log is not the drill's
    # evidence (the checks' results are); its metrics are discarded (serve_table).
    "LOG_LEVEL": "WARNING",
    "ENVIRONMENT": "drill",
}


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 10, "mode": "adaptive"}, max_pool_connections=16)
    return boto3.client("dynamodb", endpoint_url=endpoint, config=config)


@contextmanager
def _dynamodb(endpoint: str | None) -> Iterator[str]:
    if endpoint:
        yield endpoint
        return
    from mvdb_local.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal(heap="512m") as local:
        yield local.endpoint


def _timed(timings: dict[str, float], step: str, started: float) -> None:
    timings[step] = round(time.perf_counter() - started, 3)


def run_drill(endpoint: str, output: Path, *, table: str | None = None, data_file: Path = DATA_FILE) -> dict[str, Any]:
    """Run the drill against DynamoDB Local at ``endpoint`` with the movies of ``data_file`` (a JSON array
    of movies, as ``mvdb load`` reads); returns the evidence (also written to disk)."""
    from mvdb.cli import _LOCAL_CREDENTIALS
    from mvdb.loader import load_movies, read_records
    from mvdb.table_export import TableExists, back_up_table, restore_into_new_table
    from mvdb.verification.in_process import HandlerReadApi, serve_table
    from mvdb.verification.read_checks import run_read_checks
    from mvdb.verification.table_checks import inspect_table, table_results
    from mvdb_local.table import create_movies_table, create_tables

    # DynamoDB Local accepts any credentials; these keep boto3 from looking for real ones.
    credentials = {name.upper(): value for name, value in _LOCAL_CREDENTIALS.items()}
    os.environ.update(_LOCAL_ENV | credentials | {"AWS_ENDPOINT_URL_DYNAMODB": endpoint})
    client = _client(endpoint)
    timings: dict[str, float] = {}
    source = table or f"mvdb-drill-{datetime.now(UTC):%Y%m%d%H%M%S}"
    evidence: dict[str, Any] = {
        "drill": "mvdb restore drill",
        "started": datetime.now(UTC).isoformat(),
        "endpoint": endpoint,
    }

    started = time.perf_counter()
    create_tables(client, source, if_missing=False)  # `mvdb load` indexes what it writes, as in AWS
    loaded = load_movies(client, source, read_records(data_file))
    _timed(timings, "load", started)
    evidence["source"] = {"table": source, "data_file": str(data_file), "loaded": loaded.written}

    started = time.perf_counter()
    backup = back_up_table(client, source, output)
    _timed(timings, "backup", started)
    evidence["backup"] = backup.as_dict()

    started = time.perf_counter()
    evidence["damage"] = _damage(client, source)
    damaged = inspect_table(client, source)
    caught = [
        c.name
        for c in table_results(damaged, expected_count=backup.item_count, expected_sha256=backup.content_sha256)
        if not c.passed
    ]
    detected = set(caught) == _DAMAGE_SEEN_BY
    evidence["damage"] |= {
        "item_count": damaged.item_count,
        "content_sha256": damaged.content_sha256,
        "detected_by": caught,
    }
    _timed(timings, "damage and detect", started)

    def new_table(c: Any, name: str) -> None:
        create_movies_table(c, name, if_missing=False)

    try:
        restore_into_new_table(client, backup.directory, source, create_table=new_table)
        evidence["overwrite_refused"] = False
    except TableExists as refused:
        evidence["overwrite_refused"] = str(refused)

    restored = f"{source}-restored"
    started = time.perf_counter()
    restore = restore_into_new_table(client, backup.directory, restored, create_table=new_table)
    _timed(timings, "restore", started)
    evidence["restore"] = {k: v for k, v in restore.__dict__.items() if k != "checks"}

    started = time.perf_counter()
    read_results = run_read_checks(HandlerReadApi(serve_table(restored)))
    checks = restore.checks + [r.__dict__ for r in read_results]
    _timed(timings, "validation", started)
    passed = all(c["passed"] for c in checks)
    evidence["validation"] = {"table": restored, "result": "SUCCESSFUL" if passed else "FAILED", "checks": checks}
    evidence["timings_s"] = timings | {"total": round(sum(timings.values()), 3)}
    evidence["result"] = "PASSED" if passed and detected and evidence["overwrite_refused"] else "FAILED"
    evidence_file = backup.directory / "evidence.json"
    evidence_file.write_text(json.dumps(evidence, indent=2, default=str) + "\n", encoding="utf-8")
    evidence["evidence_file"] = str(evidence_file)
    return evidence


def _damage(client: Any, table: str) -> dict[str, Any]:
    """Delete ``_DELETED`` movies and change the info of one more without its ETag."""
    items = client.scan(TableName=table, Limit=_DELETED + 1, ConsistentRead=True)["Items"]
    deleted = []
    for item in items[:_DELETED]:
        client.delete_item(TableName=table, Key={"year": item["year"], "title": item["title"]})
        deleted.append(f"{item['year']['N']} {item['title']['S']!r}")
    altered = items[_DELETED]
    client.update_item(
        TableName=table,
        Key={"year": altered["year"], "title": altered["title"]},
        UpdateExpression="SET #info.#plot = :plot",
        ExpressionAttributeNames={"#info": "info", "#plot": "plot"},
        ExpressionAttributeValues={":plot": {"S": "Changed behind the API's back by the restore drill."}},
    )
    return {"deleted": len(deleted), "altered": f"{altered['year']['N']} {altered['title']['S']!r}"}


def _print(evidence: dict[str, Any]) -> None:
    backup, damage, restore, validation = (evidence[k] for k in ("backup", "damage", "restore", "validation"))
    print(f"restore drill {evidence['result']} ({evidence['started']}, DynamoDB Local at {evidence['endpoint']})")
    print(f"  source    {evidence['source']['table']}: {backup['item_count']} items, sha256 {backup['content_sha256']}")
    print(f"  backup    {backup['directory']} ({len(backup['files'])} data file(s), {backup['seconds']} s)")
    for data_file in backup["files"]:
        print(f"            {data_file['key']}: {data_file['item_count']} items, sha256 {data_file['sha256']}")
    print(
        f"  damage    {damage['deleted']} deleted, {damage['altered']} altered: {damage['item_count']} items, "
        f"sha256 {damage['content_sha256']}; detected by: {', '.join(damage['detected_by']) or 'NOTHING'}"
    )
    print(f"  overwrite {'refused' if evidence['overwrite_refused'] else 'NOT refused'}")
    print(
        f"  restore   {restore['table']}: {restore['item_count']} of {restore['expected_count']} items, "
        f"sha256 {restore['content_sha256']} ({restore['seconds']} s)"
    )
    print(f"  validation {validation['result']}:")
    for check in validation["checks"]:
        print(f"    {'PASS' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}")
    print("  timings   " + ", ".join(f"{step} {seconds} s" for step, seconds in evidence["timings_s"].items()))
    print(f"  evidence  {evidence['evidence_file']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mvdb_local.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="a running DynamoDB Local (default: start one in memory)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "build" / "drill", help="default: %(default)s")
    parser.add_argument("--data", type=Path, default=DATA_FILE, help="the movies to load (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the evidence as JSON")
    args = parser.parse_args(argv)
    from mvdb_local.dynamodb_local import LocalStackError

    try:
        with _dynamodb(args.endpoint) as endpoint:
            evidence = run_drill(endpoint, args.output, data_file=args.data)
    except (LocalStackError, OSError) as error:  # e.g. no Java, or --output names a file
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(evidence, indent=2, default=str))
    else:
        _print(evidence)
    return 0 if evidence["result"] == "PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
