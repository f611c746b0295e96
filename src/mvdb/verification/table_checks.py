"""What only a look at the whole table can tell: its key schema, that every item is a valid
movie whose stored ETag still matches its document, how many there are, and a digest of the
content that two copies of the same data share.

``inspect_table`` reads the table once (a consistent Scan); ``table_results`` turns the report
into checks, against what is expected of it (a backup's item count and digest, or a minimum).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from mvdb.domain.models import Movie, compute_etag
from mvdb.repository.dynamodb import from_item
from mvdb.verification.read_checks import CheckResult

__all__ = [
    "ATTRIBUTE_DEFINITIONS",
    "KEY_SCHEMA",
    "TableReport",
    "content_digest",
    "inspect_table",
    "item_line",
    "table_results",
]

# The movies table's key, as every client relies on it (infra/template.yaml defines the table;
# tests/unit/verification/test_table_checks.py holds these two equal to it).
KEY_SCHEMA: Final = ({"AttributeName": "year", "KeyType": "HASH"}, {"AttributeName": "title", "KeyType": "RANGE"})
ATTRIBUTE_DEFINITIONS: Final = (
    {"AttributeName": "year", "AttributeType": "N"},
    {"AttributeName": "title", "AttributeType": "S"},
)
# Findings listed in a report at most (the counts are always complete).
_MAX_LISTED = 20


def item_line(item: Mapping[str, Any]) -> bytes:
    """One item in canonical DynamoDB JSON: keys sorted, no spaces, UTF-8, binary values as base64
    text (as DynamoDB's exports write them)."""
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_base64).encode()


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is no DynamoDB JSON value")


def content_digest(items: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 (hex) of the sorted canonical lines of ``items``, each followed by a newline.

    Independent of the order items come in (a Scan's order depends on partitions), so a table and
    any faithful copy of it, or a backup of it, have the same digest.
    """
    return _digest(item_line(item) for item in items)


def _digest(lines: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line + b"\n")
    return digest.hexdigest()


@dataclass
class TableReport:
    """What ``inspect_table`` found. ``invalid`` and ``etag_mismatches`` list up to 20 keys each."""

    table: str
    status: str
    key_schema_matches: bool
    item_count: int = 0
    content_sha256: str = ""
    invalid_count: int = 0
    invalid: list[str] = field(default_factory=list)
    etag_mismatch_count: int = 0
    etag_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key_text(item: Mapping[str, Any]) -> str:
    year = item.get("year", {}).get("N", "?")
    title = item.get("title", {}).get("S", "?")
    return f"{year} {title!r}"


def inspect_table(client: Any, table: str, *, page_size: int = 500) -> TableReport:
    """Describe ``table`` and read every item of it once (consistent reads). Raises botocore errors."""
    started = time.perf_counter()
    described = client.describe_table(TableName=table)["Table"]
    key_matches = sorted(described["KeySchema"], key=lambda k: k["KeyType"]) == sorted(
        KEY_SCHEMA, key=lambda k: k["KeyType"]
    ) and all(a in described["AttributeDefinitions"] for a in ATTRIBUTE_DEFINITIONS)
    report = TableReport(table=table, status=str(described["TableStatus"]), key_schema_matches=key_matches)
    lines: list[bytes] = []
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True, "Limit": page_size}
    while True:
        page = client.scan(**request)
        for item in page.get("Items", []):
            lines.append(item_line(item))
            _inspect_item(item, report)
        if not page.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    report.item_count = len(lines)
    report.content_sha256 = _digest(lines)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _inspect_item(item: Mapping[str, Any], report: TableReport) -> None:
    stored = from_item(dict(item))
    try:
        Movie.model_validate(stored.document)
    except ValidationError as error:
        report.invalid_count += 1
        if len(report.invalid) < _MAX_LISTED:
            report.invalid.append(f"{_key_text(item)}: {error.errors()[0]['msg']}")
        return
    etag = item.get("etag", {}).get("S")
    if etag is not None and etag != compute_etag(stored.document):
        report.etag_mismatch_count += 1
        if len(report.etag_mismatches) < _MAX_LISTED:
            report.etag_mismatches.append(_key_text(item))


def table_results(
    report: TableReport,
    *,
    expected_count: int | None = None,
    expected_sha256: str | None = None,
    minimum_count: int = 1,
) -> list[CheckResult]:
    """The table's checks. With a backup to compare with, ``expected_count`` and
    ``expected_sha256`` (its item count and ``content_digest``); else at least ``minimum_count`` items."""
    results = [
        CheckResult("table is ACTIVE", report.status == "ACTIVE", f"status {report.status}"),
        CheckResult(
            "key schema is year (N, HASH) / title (S, RANGE)",
            report.key_schema_matches,
            "as every client expects" if report.key_schema_matches else "another key: clients would break",
        ),
        CheckResult(
            "every item is a valid movie",
            report.invalid_count == 0,
            f"{report.invalid_count} invalid of {report.item_count}"
            + (f": {report.invalid}" if report.invalid else ""),
        ),
        CheckResult(
            "every stored ETag matches its document",
            report.etag_mismatch_count == 0,
            f"{report.etag_mismatch_count} mismatches"
            + (f": {report.etag_mismatches}" if report.etag_mismatches else ""),
        ),
    ]
    if expected_count is not None:
        results.append(
            CheckResult(
                "item count equals the backup's",
                report.item_count == expected_count,
                f"{report.item_count} items, the backup holds {expected_count}",
            )
        )
    else:
        results.append(
            CheckResult(
                f"item count is at least {minimum_count}",
                report.item_count >= minimum_count,
                f"{report.item_count} items",
            )
        )
    if expected_sha256 is not None:
        results.append(
            CheckResult(
                "content digest equals the backup's",
                report.content_sha256 == expected_sha256,
                f"sha256 {report.content_sha256}, the backup's {expected_sha256}",
            )
        )
    return results
