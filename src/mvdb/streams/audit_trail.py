"""The audit trail function: ``mvdb.streams.audit_trail.lambda_handler``.

Subscribed to the movies table's stream (NEW_AND_OLD_IMAGES). Each record of a change becomes
one audit record: the movie before and after (the documents the API serves, with their ETags),
the operation, the client, the request id and the time of the change, and where in the stream
it came from. It is written, once, to storage that cannot be altered (``AUDIT_BUCKET_NAME``: S3
with Object Lock; locally ``AUDIT_DIRECTORY``), under a name made of the stream record's
sequence number and eventID (``mvdb.repository.audit_store``):

* Lambda delivers each record at least once; a redelivered record maps to the same name and
  the conditional write leaves the first one as it is: exactly one record per change.
* Records may arrive in any order across batches and retries; the name orders a movie's
  history by its stream sequence numbers, not by arrival.
* The MODIFY record of a delete's first step (``last_change.operation == "delete"`` in the new
  image: the deleter named on the item, nothing else changed) is no change of the movie and
  makes no record; the REMOVE record after it carries that deleter.
* A change made around the service (``mvdb load``, an operator) carries no ``last_change``: it is
  still recorded, with ``client_id`` null and the stream's time.

A record whose write fails is reported back (partial batch response) and retried by Lambda; a
batch given up goes to the dead-letter queue (infra/stacks/audit.yaml), and its records can be
replayed from the stream while it still holds them (24 hours): docs/operations.md.

Environment: ``AUDIT_BUCKET_NAME`` (or ``AUDIT_DIRECTORY`` locally), ``REGION``, and ``TABLE_NAME``
(required of every function's settings; this one reads no table).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from mvdb.config import ConfigurationError, get_settings
from mvdb.observability import logger, metrics
from mvdb.repository.audit_store import DirectoryAuditStore, S3AuditStore, record_key
from mvdb.repository.dynamodb import LAST_CHANGE, from_item
from mvdb.streams.batch import movie_key_of, stream_batch_handler

__all__ = ["AUDIT_RECORD_VERSION", "audit_record", "audit_store", "lambda_handler", "record_change"]

AUDIT_RECORD_VERSION = 1
_OPERATION_OF_EVENT = {"INSERT": "create", "MODIFY": "replace", "REMOVE": "delete"}  # for unattributed changes


class AuditStore(Protocol):
    def put_new(self, key: str, record: dict[str, Any]) -> bool: ...


@lru_cache(maxsize=1)
def audit_store() -> AuditStore:
    """The process's store: the bucket ``AUDIT_BUCKET_NAME`` names, else the directory ``AUDIT_DIRECTORY``."""
    settings = get_settings()
    if settings.audit_bucket_name:
        import boto3

        return S3AuditStore(boto3.client("s3", region_name=settings.region), settings.audit_bucket_name)
    if not settings.audit_directory:
        raise ConfigurationError(
            "Set AUDIT_BUCKET_NAME (or, on this machine, AUDIT_DIRECTORY) to where audit records go."
        )
    return DirectoryAuditStore(Path(settings.audit_directory))


def _text(attributes: dict[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    return value.get("S") if isinstance(value, dict) else None


def _last_change(image: dict[str, Any] | None) -> dict[str, str] | None:
    """The ``Change`` stored on an item image (wire format), or None."""
    change = (image or {}).get(LAST_CHANGE, {}).get("M")
    if not isinstance(change, dict):
        return None
    fields = {name: _text(change, name) for name in ("operation", "client_id", "request_id", "at")}
    return {name: value for name, value in fields.items() if value is not None}


def _empty_maps_typed(value: Any) -> Any:
    """An image's attribute values with every empty map typed as one (``{"M": {}}``).

    DynamoDB Local's stream sends an empty map as ``{}`` (measured with its 3.3.0 jar: an item
    with ``"info": {"M": {}}`` arrives as ``"info": {}``, an empty list keeps its ``L``); DynamoDB
    sends ``{"M": {}}``. No other attribute value is empty, so reading ``{}`` as a map is exact.
    """
    if isinstance(value, dict):
        if not value:
            return {"M": {}}
        if "M" in value:
            return {"M": {name: _empty_maps_typed(member) for name, member in value["M"].items()}}
        if "L" in value:
            return {"L": [_empty_maps_typed(member) for member in value["L"]]}
    return value


def _image(image: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    if not image:
        return None, None
    stored = from_item({name: _empty_maps_typed(value) for name, value in image.items()})
    return stored.document, stored.etag


def _iso(epoch_seconds: Any) -> str | None:
    if not isinstance(epoch_seconds, (int, float)):
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_record(raw: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The object key and the audit record of one stream record (as Lambda delivers it), or None when it
    records no change of a movie (a delete's first step, or a key no movie can have).

    Deterministic: the same stream record always gives the same key and the same record.
    """
    record = DynamoDBRecord(raw)
    key = movie_key_of(record)
    if key is None:
        return None
    stream = raw["dynamodb"]
    event_name = raw["eventName"]
    old, new = stream.get("OldImage"), stream.get("NewImage")
    if event_name == "REMOVE":
        marker = _last_change(old)
        change = marker if marker and marker.get("operation") == "delete" else None
    else:
        change = _last_change(new)
        if change and change.get("operation") == "delete":
            return None  # the deleter named on the item; the REMOVE record that follows is the change
    before, before_etag = _image(old)
    after, after_etag = _image(new)
    stream_time = _iso(stream.get("ApproximateCreationDateTime"))
    body = {
        "version": AUDIT_RECORD_VERSION,
        "movie": {"year": key.year, "title": key.title},
        "operation": (change or {}).get("operation") or _OPERATION_OF_EVENT[event_name],
        "client_id": (change or {}).get("client_id"),
        "request_id": (change or {}).get("request_id"),
        "changed_at": (change or {}).get("at") or stream_time,
        "before": before,
        "before_etag": before_etag,
        "after": after,
        "after_etag": after_etag,
        "stream": {
            "event_id": raw["eventID"],
            "event_name": event_name,
            "sequence_number": stream["SequenceNumber"],
            "approximate_creation_time": stream_time,
            "source_arn": raw.get("eventSourceARN"),
        },
    }
    return record_key(key, stream["SequenceNumber"], raw["eventID"]), body


def record_change(record: DynamoDBRecord) -> bool:
    """Write the audit record of one stream record; True if it was new. Raises (and the record is
    retried) when the store refuses or cannot be reached."""
    made = audit_record(record.raw_event)
    if made is None:
        metrics.add_metric(name="AuditRecordsSkipped", unit=MetricUnit.Count, value=1)
        return False
    key, body = made
    written = audit_store().put_new(key, body)
    metrics.add_metric(
        name="AuditRecordsWritten" if written else "AuditRecordsDuplicate", unit=MetricUnit.Count, value=1
    )
    if not written:
        logger.info("audit record already stored (stream redelivery)", extra={"event_id": record.event_id})
    return written


lambda_handler = stream_batch_handler(record_change)
