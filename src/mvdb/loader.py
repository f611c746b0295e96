"""Load movies into the table: validate everything first, write in parallel batches, then index them.

Idempotent by construction: every write is a full PutItem of the validated movie (with its
ETag), so a rerun, or a rerun after a kill half-way, leaves exactly the same items. When it
returns, every movie it wrote has its search index entries too: it reconciles each one itself
(``DynamoDBSearchIndex``, safe beside the stream function doing the same), so a search right
after a load finds them. A movie already indexed at its current version costs one read.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvdb.config import default_search_index_table_name
from mvdb.domain.models import Movie, MovieCreate, compute_etag
from mvdb.domain.query import MovieKey
from mvdb.repository.dynamodb import to_item
from mvdb.repository.index_reconciler import DynamoDBSearchIndex, reconcile_all

__all__ = [
    "BATCH_SIZE",
    "InvalidRecord",
    "LoadReport",
    "load_movies",
    "read_records",
    "validate_records",
    "write_batch",
]

BATCH_SIZE = 25  # BatchWriteItem's maximum
_MAX_BATCH_ATTEMPTS = 8


@dataclass(frozen=True)
class InvalidRecord:
    index: int
    reason: str


@dataclass
class LoadReport:
    """What a load did: records read, movies written and indexed, records refused, keys not indexed."""

    total: int = 0
    written: int = 0
    indexed: int = 0
    invalid: list[InvalidRecord] = field(default_factory=list)
    not_indexed: list[MovieKey] = field(default_factory=list)  # DynamoDB kept refusing: run `mvdb reindex`
    seconds: float = 0.0
    index_seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


def read_records(path: Path) -> list[Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path} must hold a JSON array of movies")
    return data


def validate_records(records: Sequence[Any]) -> tuple[list[dict[str, Any]], list[InvalidRecord]]:
    """The valid movies as documents, and each invalid record with its index and reason."""
    documents: list[dict[str, Any]] = []
    invalid: list[InvalidRecord] = []
    seen: dict[tuple[int, str], int] = {}
    for index, record in enumerate(records):
        try:
            movie = MovieCreate.model_validate(record)
        except ValidationError as error:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in error.errors())
            invalid.append(InvalidRecord(index, reasons))
            continue
        key = (movie.year, movie.title)
        if key in seen:
            invalid.append(InvalidRecord(index, f"duplicate of record {seen[key]} ({movie.title!r}, {movie.year})"))
            continue
        seen[key] = index
        documents.append(Movie(year=movie.year, title=movie.title, info=movie.info).document())
    return documents, invalid


def _batches(items: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_documents(client: Any, table: str, documents: Sequence[dict[str, Any]]) -> int:
    return write_batch(client, table, [to_item(d, compute_etag(d)) for d in documents])


def write_batch(client: Any, table: str, items: Sequence[dict[str, Any]]) -> int:
    """Put up to ``BATCH_SIZE`` DynamoDB items (attribute-value maps) with BatchWriteItem, retrying
    what DynamoDB leaves unprocessed; returns how many. Raises RuntimeError when some stay unprocessed."""
    requests = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(_MAX_BATCH_ATTEMPTS):
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return len(items)
        # Throttled: back off with full jitter before sending what was left.
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not security
    raise RuntimeError(f"{len(requests)} items still unprocessed after {_MAX_BATCH_ATTEMPTS} attempts")


def load_movies(
    client: Any,
    table: str,
    records: Sequence[Any],
    *,
    index_table: str | None = None,
    skip_invalid: bool = False,
    workers: int = 8,
    on_progress: Callable[[int], None] | None = None,
    on_indexed: Callable[[int], None] | None = None,
) -> LoadReport:
    """Validate all records, then (unless some are invalid and ``skip_invalid`` is off) write and index them.

    ``index_table`` is the search index table (``<table>-search-index`` unless named).
    ``on_progress`` is told of movies written, ``on_indexed`` of movies reconciled.
    """
    started = time.perf_counter()
    documents, invalid = validate_records(records)
    report = LoadReport(total=len(records), invalid=invalid)
    if invalid and not skip_invalid:
        report.seconds = time.perf_counter() - started
        return report
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_write_documents, client, table, batch) for batch in _batches(documents, BATCH_SIZE)]
        for future in as_completed(futures):
            count = future.result()
            report.written += count
            if on_progress is not None:
                on_progress(count)
    report.seconds = time.perf_counter() - started
    index = DynamoDBSearchIndex(client, table, index_table or default_search_index_table_name(table))
    keys = [MovieKey(document["year"], document["title"]) for document in documents]
    report.not_indexed = reconcile_all(index, keys, workers=workers, on_done=on_indexed)
    report.indexed = len(keys) - len(report.not_indexed)
    report.index_seconds = time.perf_counter() - started - report.seconds
    return report
