"""``mvdb reindex``: build or repair the search index of an existing movies table.

Year by year (the movies table's partitions, 1870-2100) it reads the year's movies and the
year's manifests (two Queries), and reconciles (``DynamoDBSearchIndex.reconcile``) every movie
whose manifest does not record its current version, and every manifest whose movie is gone.
A movie already in step costs nothing more than being read. Reconciling is safe beside the
stream function and live writes: each movie is re-read consistently and written under the
manifest's optimistic lock, so whoever writes last writes the truth.

After each year a checkpoint item (``pk`` ``reindex``, ``sk`` ``progress`` in the index
table) records the next year and the counts so far: a run that is killed resumes after the
last year it finished (``restart=True`` starts over). The checkpoint is removed when a run
completes. Rerunning a completed run is harmless: it finds everything in step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mvdb.domain.models import MAX_YEAR, MIN_YEAR
from mvdb.domain.query import MovieKey
from mvdb.repository.index_reconciler import DynamoDBSearchIndex, in_step, reconcile_all

__all__ = ["ReindexReport", "reindex"]

_CHECKPOINT_KEY = {"pk": {"S": "reindex"}, "sk": {"S": "progress"}}
_COUNTS = ("checked", "in_step", "reconciled", "removed")


@dataclass
class ReindexReport:
    """Counts of one run (including the runs it resumed): movies read, already in step, reconciled, removed."""

    checked: int = 0
    in_step: int = 0
    reconciled: int = 0
    removed: int = 0
    failed: list[MovieKey] = field(default_factory=list)  # DynamoDB kept refusing: run again
    resumed_from_year: int | None = None
    seconds: float = 0.0


def reindex(
    client: Any,
    table: str,
    index_table: str,
    *,
    workers: int = 8,
    restart: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ReindexReport:
    """Bring the whole index in step with ``table``; ``on_progress`` is told of every movie read."""
    started = time.perf_counter()
    index = DynamoDBSearchIndex(client, table, index_table)
    report = ReindexReport()
    first_year = MIN_YEAR
    checkpoint = None if restart else client.get_item(TableName=index_table, Key=_CHECKPOINT_KEY, ConsistentRead=True)
    if checkpoint and "Item" in checkpoint:
        saved = checkpoint["Item"]
        first_year = report.resumed_from_year = int(saved["next_year"]["N"])
        for name in _COUNTS:
            setattr(report, name, int(saved[name]["N"]))
    for year in range(first_year, MAX_YEAR + 1):
        movies = {item["title"]["S"]: item for item in _query(client, table, "year", {"N": str(year)})}
        manifest_partition = {"S": f"manifest#{year:04d}"}
        manifests = {item["sk"]["S"]: item for item in _query(client, index_table, "pk", manifest_partition)}
        behind = [MovieKey(year, title) for title, item in movies.items() if not in_step(item, manifests.get(title))]
        gone = [MovieKey(year, title) for title in manifests.keys() - movies.keys()]
        report.failed += reconcile_all(index, behind + gone, workers=workers)
        report.checked += len(movies)
        report.in_step += len(movies) - len(behind)
        report.reconciled += len(behind)
        report.removed += len(gone)
        if on_progress is not None and movies:
            on_progress(len(movies))
        if movies or manifests:  # an empty year costs two reads to redo, not worth a write
            _save_checkpoint(client, index_table, year + 1, report)
    client.delete_item(TableName=index_table, Key=_CHECKPOINT_KEY)
    report.seconds = time.perf_counter() - started
    return report


def _query(client: Any, table: str, partition_key: str, value: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every item of one partition of ``table``."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": partition_key},
        "ExpressionAttributeValues": {":k": value},
    }
    while True:
        page = client.query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _save_checkpoint(client: Any, index_table: str, next_year: int, report: ReindexReport) -> None:
    counts = {name: {"N": str(getattr(report, name))} for name in _COUNTS}
    client.put_item(TableName=index_table, Item={**_CHECKPOINT_KEY, "next_year": {"N": str(next_year)}, **counts})
