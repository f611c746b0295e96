"""The search index function: ``mvdb.streams.search_indexer.lambda_handler``.

Subscribed to the movies table's stream. Each record says only which movie changed; the
handler reconciles that movie's index entries with the table (``DynamoDBSearchIndex``), so
redelivered, reordered or stale records do no harm and the images in the record are not used.
A record whose reconcile fails is reported back (partial batch response) and retried by
Lambda; one that keeps failing goes to the dead-letter queue, and ``mvdb reindex`` repairs it.

Environment: ``TABLE_NAME``, ``SEARCH_INDEX_TABLE_NAME`` and ``REGION``, as the API function's.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from mvdb.config import get_settings
from mvdb.domain.ports import ReconcileOutcome, SearchIndex
from mvdb.observability import logger, metrics
from mvdb.repository.dynamodb import create_client
from mvdb.repository.index_reconciler import DynamoDBSearchIndex, ReconcileReport
from mvdb.streams.batch import movie_key_of, stream_batch_handler

__all__ = ["lambda_handler", "search_index"]

_OUTCOME_METRICS: dict[ReconcileOutcome, str] = {
    "unchanged": "MoviesAlreadyIndexed",
    "indexed": "MoviesIndexed",
    "removed": "MoviesUnindexed",
}


def _count(outcome: ReconcileOutcome, report: ReconcileReport) -> None:
    metrics.add_metric(name=_OUTCOME_METRICS[outcome], unit=MetricUnit.Count, value=1)
    for name, value in (
        ("IndexEntriesWritten", report.entries_written),
        ("IndexEntriesDeleted", report.entries_deleted),
        ("IndexWritesSuperseded", report.superseded),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@lru_cache(maxsize=1)
def search_index() -> SearchIndex:
    """The process's one ``SearchIndex`` (its boto3 client makes no call until the first record)."""
    settings = get_settings()
    return DynamoDBSearchIndex(
        create_client(settings), settings.table_name, settings.search_index_table_name, on_report=_count
    )


def reconcile_record(record: DynamoDBRecord) -> ReconcileOutcome:
    """Reconcile the movie the record is about; raises (and the record is retried) when that fails."""
    key = movie_key_of(record)
    if key is None:
        logger.warning("stream record for a key no movie can have: not indexed", extra={"event_id": record.event_id})
        metrics.add_metric(name="UnindexableRecords", unit=MetricUnit.Count, value=1)
        return "unchanged"
    return search_index().reconcile(key)


lambda_handler = stream_batch_handler(reconcile_record)
