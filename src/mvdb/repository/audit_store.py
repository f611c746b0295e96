"""The audit trail's storage: one JSON object per change of a movie, never overwritten.

The layout is the same in S3 (``S3AuditStore``, the bucket with Object Lock of
``infra/stacks/audit.yaml``) and on this machine (``DirectoryAuditStore``, a directory laid out
like the bucket, which the local stack's audit consumer writes and its API reads)::

    movies/<year, 4 digits>/<SHA-256 of the title, hex>/<40-digit inverted sequence number>-<eventID>.json

* A movie's records share one prefix: its history is one listing. The title is hashed because
  a title may be 1,024 bytes of UTF-8, S3's whole limit on a key, and may hold ``/``.
* The record's name comes from the stream record alone (its sequence number and eventID), so a
  redelivered record has the name of its first delivery. ``put_new`` writes a name only if it
  does not exist (S3's conditional write ``If-None-Match: *``; locally an exclusive create): a
  duplicate overwrites nothing and adds no object version, which matters under Object Lock,
  where every version is kept until its retention ends.
* Sequence numbers of one item's records increase with its changes (DynamoDB Streams shows each
  item's changes in order); inverted (10^40 - 1 - n, zero-padded) they sort newest first, the
  order in which S3 lists keys (ascending UTF-8 bytes).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvdb.domain.changes import AUDIT_RECORD_NAME, AuditEntry
from mvdb.domain.errors import StorageUnavailable
from mvdb.domain.query import MovieKey

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["DirectoryAuditStore", "S3AuditStore", "movie_prefix", "record_key", "record_name"]

_SEQUENCE_DIGITS = 40  # DynamoDB Streams: a SequenceNumber is 21 to 40 digits
_INVERSION_BASE = 10**_SEQUENCE_DIGITS - 1
_GETS_IN_PARALLEL = 8


def movie_prefix(key: MovieKey) -> str:
    """The key prefix of every audit record of the movie ``key`` (ends with ``/``)."""
    return f"movies/{key.year:04d}/{hashlib.sha256(key.title.encode('utf-8')).hexdigest()}/"


def record_name(sequence_number: str, event_id: str) -> str:
    """The name of the record of one stream record: newest first within a movie. Raises ValueError for a
    sequence number that is not 1 to 40 digits or an eventID that is not a plain identifier."""
    if not sequence_number.isdigit() or len(sequence_number) > _SEQUENCE_DIGITS:
        raise ValueError(f"not a stream sequence number: {sequence_number!r}")
    name = f"{_INVERSION_BASE - int(sequence_number):0{_SEQUENCE_DIGITS}d}-{event_id}.json"
    if not AUDIT_RECORD_NAME.match(name):
        raise ValueError(f"not a stream eventID: {event_id!r}")
    return name


def record_key(key: MovieKey, sequence_number: str, event_id: str) -> str:
    """The object key of the audit record of one stream record about the movie ``key``."""
    return movie_prefix(key) + record_name(sequence_number, event_id)


def _encode(record: dict[str, Any]) -> bytes:
    # Canonical: the same stream record always makes the same bytes.
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class S3AuditStore:
    """Audit records in an S3 bucket (versioned, Object Lock in compliance mode: its default retention
    applies to every object written, so the writer never sets retention itself)."""

    def __init__(self, client: BaseClient, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put_new(self, key: str, record: dict[str, Any]) -> bool:
        """Write ``record`` under ``key`` unless an object is there already; True if written.

        ``If-None-Match: *`` makes S3 refuse (412) a key that exists, atomically; a 409 (a
        conflicting write of the same key in flight) is raised for Lambda to retry. Object Lock
        needs an integrity checksum on every PUT: SHA-256 here.
        """
        from botocore.exceptions import ClientError

        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=_encode(record),
                ContentType="application/json",
                IfNoneMatch="*",
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False
            raise
        return True

    def history(self, key: MovieKey, *, start_after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = movie_prefix(key)
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": limit}
        if start_after is not None:
            request["StartAfter"] = prefix + start_after
        try:
            listed = self._client.list_objects_v2(**request)
            keys = [item["Key"] for item in listed.get("Contents", [])]
            with ThreadPoolExecutor(max_workers=_GETS_IN_PARALLEL) as pool:
                records = list(pool.map(self._read, keys))
        except (BotoCoreError, ClientError) as error:
            raise StorageUnavailable("The audit trail cannot be read right now; retry shortly.") from error
        more = bool(listed.get("IsTruncated")) and keys
        entries = [AuditEntry(key[len(prefix) :], record) for key, record in zip(keys, records, strict=True)]
        return entries, entries[-1].name if more else None

    def _read(self, key: str) -> dict[str, Any]:
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        record: dict[str, Any] = json.loads(body)
        return record


class DirectoryAuditStore:
    """Audit records as files under ``root``, laid out as in the bucket (the local stack's store).

    A record is written to a temporary file and then hard-linked to its name, which fails if the
    name exists: no reader ever sees half a record, and a duplicate changes nothing.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    def put_new(self, key: str, record: dict[str, Any]) -> bool:
        path = self._root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".incoming-", delete=False) as incoming:
            incoming.write(_encode(record))
        try:
            os.link(incoming.name, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(incoming.name)
        return True

    def history(self, key: MovieKey, *, start_after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        directory = self._root / movie_prefix(key)
        names = sorted(
            (path.name for path in directory.glob("*.json") if AUDIT_RECORD_NAME.match(path.name)),
            key=lambda name: name.encode("utf-8"),
        )
        if start_after is not None:
            names = [name for name in names if name.encode("utf-8") > start_after.encode("utf-8")]
        page = names[:limit]
        entries = [AuditEntry(name, json.loads((directory / name).read_bytes())) for name in page]
        return entries, page[-1] if len(names) > limit else None
