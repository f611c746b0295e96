"""Back a table up to files, and restore such files into a new table.

The files are laid out as a DynamoDB full export in ``DYNAMODB_JSON`` ("DynamoDB table export
output format", Amazon DynamoDB developer guide), so that the same code reads a backup made here
and an export made by DynamoDB itself (``ExportTableToPointInTime``, copied down from S3)::

    <root>/AWSDynamoDB/<export id>/
        manifest-summary.json    version 2020-06-30, itemCount, outputFormat DYNAMODB_JSON, ...
        manifest-files.json      one JSON line per data file: itemCount, md5Checksum (base64 MD5
                                 of the file), etag (hex MD5), dataFileS3Key
        data/<n>.json.gz         gzip, one {"Item": {<attribute-value map>}} per line
        mvdb-backup.json         ours: the SHA-256 of every file above, the table's key schema,
                                 its item count and content digest (``content_digest``)

A backup holds every item of the table: its directories are made 0700 and its files 0600 (this
user only, whatever the umask). Binary attribute values are base64 text, as in DynamoDB's
exports. Every data file is checked (MD5 from the manifest; SHA-256 from ``mvdb-backup.json``
when there is one) before anything is written, and a restore only ever creates a new table: it
refuses one that exists.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

from mvdb.loader import BATCH_SIZE, write_batch
from mvdb.verification.table_checks import content_digest, inspect_table, table_results

__all__ = [
    "BACKUP_FILE",
    "EXPORT_VERSION",
    "BackupReport",
    "DataFile",
    "ExportInvalid",
    "RestoreReport",
    "TableExists",
    "back_up_table",
    "read_items",
    "restore_into_new_table",
    "verify_export",
]

EXPORT_VERSION: Final = "2020-06-30"  # manifest-summary.json "version" of DynamoDB's exports
BACKUP_FILE: Final = "mvdb-backup.json"
BACKUP_FORMAT: Final = "mvdb-backup/1"
_SUMMARY = "manifest-summary.json"
_FILES = "manifest-files.json"
_ITEMS_PER_FILE = 10_000
_PRIVATE_DIRECTORY, _PRIVATE_FILE = 0o700, 0o600  # a backup is the table's data: this user only


class ExportInvalid(ValueError):
    """The files are not a complete, intact export; ``problems`` lists every finding."""

    def __init__(self, directory: Path, problems: list[str]) -> None:
        super().__init__(f"{directory} is not an intact export: " + "; ".join(problems))
        self.problems = problems


class TableExists(RuntimeError):
    """A restore goes into a new table only; this one exists already."""


@dataclass(frozen=True)
class DataFile:
    key: str  # dataFileS3Key: AWSDynamoDB/<export id>/data/<name>
    item_count: int
    md5_base64: str
    sha256: str
    size_bytes: int


@dataclass
class BackupReport:
    directory: Path
    export_id: str
    table: str
    item_count: int
    content_sha256: str
    files: list[DataFile]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "export_id": self.export_id,
            "table": self.table,
            "item_count": self.item_count,
            "content_sha256": self.content_sha256,
            "files": [f.__dict__ for f in self.files],
            "seconds": self.seconds,
        }


@dataclass
class RestoreReport:
    table: str
    item_count: int
    expected_count: int
    content_sha256: str
    expected_sha256: str | None
    seconds: float
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(check["passed"] for check in self.checks)


# -- DynamoDB JSON as exports write it (binary values as base64 text) ------------------------------


def _to_export(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _to_export(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_export(v) for v in value]
    return value


def _from_export(attribute: Mapping[str, Any]) -> dict[str, Any]:
    ((kind, value),) = attribute.items()
    if kind == "B":
        return {"B": base64.b64decode(value)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in value]}
    if kind == "M":
        return {"M": {k: _from_export(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [_from_export(v) for v in value]}
    return {kind: value}


def _item_from_export(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _from_export(attribute) for name, attribute in item.items()}


# -- back up ----------------------------------------------------------------------------------


def back_up_table(client: Any, table: str, root: Path, *, items_per_file: int = _ITEMS_PER_FILE) -> BackupReport:
    """Export every item of ``table`` (consistent Scan) to ``root/AWSDynamoDB/<export id>/``.

    ``root`` and its missing parents are created; a ``root`` that is a file raises NotADirectoryError.
    """
    started = time.perf_counter()
    start_time = datetime.now(UTC)
    export_id = f"{int(start_time.timestamp() * 1000):014d}-{secrets.token_hex(4)}"
    directory = root / "AWSDynamoDB" / export_id
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file: give --output a directory (it is created if missing)")
    # Missing parents are made as `mkdir -p` makes them (the umask's mode): only the backup's own are private.
    root.parent.mkdir(parents=True, exist_ok=True)
    for level in (root, root / "AWSDynamoDB", directory, directory / "data"):
        level.mkdir(mode=_PRIVATE_DIRECTORY, exist_ok=level != directory)
    described = client.describe_table(TableName=table)["Table"]
    files: list[DataFile] = []
    exported: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []
    for item in _scan(client, table):
        chunk.append(_to_export(item))
        if len(chunk) == items_per_file:
            files.append(_write_data_file(directory, export_id, len(files), chunk))
            exported += chunk
            chunk = []
    if chunk or not files:
        files.append(_write_data_file(directory, export_id, len(files), chunk))
        exported += chunk
    digest = content_digest(exported)
    end_time = datetime.now(UTC)
    manifest_files = "".join(
        json.dumps({"itemCount": f.item_count, "md5Checksum": f.md5_base64, "etag": _etag(f), "dataFileS3Key": f.key})
        + "\n"
        for f in files
    )
    _write_private(directory / _FILES, manifest_files.encode())
    summary = {
        "version": EXPORT_VERSION,
        "exportArn": f"{described['TableArn']}/export/{export_id}",
        "startTime": _timestamp(start_time),
        "endTime": _timestamp(end_time),
        "tableArn": described["TableArn"],
        "tableId": described.get("TableId"),
        "exportTime": _timestamp(start_time),
        "s3Bucket": None,
        "s3Prefix": None,
        "s3SseAlgorithm": None,
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"AWSDynamoDB/{export_id}/{_FILES}",
        "billedSizeBytes": 0,
        "itemCount": len(exported),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    _write_private(directory / _SUMMARY, (json.dumps(summary, indent=2) + "\n").encode())
    backup = {
        "format": BACKUP_FORMAT,
        "table": table,
        "keySchema": described["KeySchema"],
        "attributeDefinitions": described["AttributeDefinitions"],
        "itemCount": len(exported),
        "contentSha256": digest,
        "sha256": {name: _sha256(directory / name) for name in (_SUMMARY, _FILES)}
        | {_local_path(f.key): f.sha256 for f in files},
    }
    _write_private(directory / BACKUP_FILE, (json.dumps(backup, indent=2) + "\n").encode())
    return BackupReport(
        directory, export_id, table, len(exported), digest, files, round(time.perf_counter() - started, 3)
    )


def _write_private(path: Path, data: bytes) -> None:
    """A new file of mode 0600 (O_EXCL: a backup's names are new; nothing may be waiting there)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _write_data_file(directory: Path, export_id: str, index: int, items: list[dict[str, Any]]) -> DataFile:
    name = f"{index:05d}-{secrets.token_hex(4)}.json.gz"
    lines = "".join(json.dumps({"Item": item}, ensure_ascii=False) + "\n" for item in items).encode()
    data = gzip.compress(lines, mtime=0)
    _write_private(directory / "data" / name, data)
    return DataFile(
        key=f"AWSDynamoDB/{export_id}/data/{name}",
        item_count=len(items),
        md5_base64=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def _etag(data_file: DataFile) -> str:
    return base64.b64decode(data_file.md5_base64).hex()


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _local_path(key: str) -> str:
    """Where a manifest's dataFileS3Key lies in an export's directory: ``data/<name>``."""
    return f"data/{PurePosixPath(key).name}"


# -- verify and read ----------------------------------------------------------------------------


def verify_export(directory: Path) -> dict[str, Any]:
    """Check every file of the export in ``directory``; returns its summary manifest.

    Checks: both manifests parse, every data file exists with the MD5 its manifest line gives
    and the item count it claims (the counts adding up to the summary's ``itemCount``), and, when
    ``mvdb-backup.json`` is there, every file's SHA-256. Raises ExportInvalid listing every problem.
    """
    problems: list[str] = []
    try:
        summary = json.loads((directory / _SUMMARY).read_text(encoding="utf-8"))
        entries = [json.loads(line) for line in (directory / _FILES).read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError) as error:
        raise ExportInvalid(directory, [f"manifests unreadable: {error}"]) from None
    if summary.get("outputFormat") != "DYNAMODB_JSON":
        problems.append(f"outputFormat {summary.get('outputFormat')!r}, not DYNAMODB_JSON")
    backup = _read_backup_file(directory, problems)
    counted = 0
    for entry in entries:
        path = directory / _local_path(str(entry.get("dataFileS3Key", "")))
        if not path.is_file():
            problems.append(f"{path.name}: missing")
            continue
        data = path.read_bytes()
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if md5 != entry.get("md5Checksum"):
            problems.append(f"{path.name}: MD5 {md5}, the manifest says {entry.get('md5Checksum')}")
            continue
        expected_sha = (backup or {}).get("sha256", {}).get(_local_path(entry["dataFileS3Key"]))
        if backup is not None and hashlib.sha256(data).hexdigest() != expected_sha:
            problems.append(f"{path.name}: SHA-256 differs from {BACKUP_FILE}")
            continue
        lines = [line for line in gzip.decompress(data).splitlines() if line.strip()]
        if len(lines) != entry.get("itemCount"):
            problems.append(f"{path.name}: {len(lines)} items, the manifest says {entry.get('itemCount')}")
        counted += len(lines)
    if counted != summary.get("itemCount") and not problems:
        problems.append(f"{counted} items in the data files, the summary says {summary.get('itemCount')}")
    if problems:
        raise ExportInvalid(directory, problems)
    return dict(summary) | {"backup": backup}


def _read_backup_file(directory: Path, problems: list[str]) -> dict[str, Any] | None:
    path = directory / BACKUP_FILE
    if not path.is_file():
        return None  # an export made by DynamoDB itself
    backup: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for name in (_SUMMARY, _FILES):
        if (directory / name).is_file() and _sha256(directory / name) != backup.get("sha256", {}).get(name):
            problems.append(f"{name}: SHA-256 differs from {BACKUP_FILE}")
    return backup


def read_items(directory: Path) -> Iterator[dict[str, Any]]:
    """Every item of the export, as an attribute-value map a DynamoDB client can write."""
    for line in (directory / _FILES).read_text(encoding="utf-8").splitlines():
        if not line:
            continue
        data = gzip.decompress((directory / _local_path(json.loads(line)["dataFileS3Key"])).read_bytes())
        for item_line in data.splitlines():
            if item_line.strip():
                yield _item_from_export(json.loads(item_line)["Item"])


# -- restore ------------------------------------------------------------------------------------


def restore_into_new_table(
    client: Any,
    directory: Path,
    table: str,
    *,
    create_table: Callable[[Any, str], object],
    workers: int = 4,
) -> RestoreReport:
    """Restore the export in ``directory`` into a table ``table`` that does not exist yet.

    The export is verified first (``verify_export``); then ``create_table(client, table)`` makes
    the table (the caller's one definition of its shape), the items are written in batches, and
    the new table is read back and compared with the export: item count, content digest, and
    the table checks. Raises TableExists, ExportInvalid (before anything is created), botocore errors.
    """
    started = time.perf_counter()
    summary = verify_export(directory)
    if _exists(client, table):
        raise TableExists(f"table {table} exists already: a restore creates a new table, it never overwrites one")
    create_table(client, table)
    batch: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = []
        for item in read_items(directory):
            batch.append(item)
            if len(batch) == BATCH_SIZE:
                futures.append(pool.submit(write_batch, client, table, batch))
                batch = []
        if batch:
            futures.append(pool.submit(write_batch, client, table, batch))
        for future in futures:
            future.result()
    backup = summary.get("backup") or {}
    expected_sha256 = backup.get("contentSha256") or content_digest(_to_export(item) for item in read_items(directory))
    report = inspect_table(client, table)
    checks = table_results(report, expected_count=int(summary["itemCount"]), expected_sha256=expected_sha256)
    return RestoreReport(
        table=table,
        item_count=report.item_count,
        expected_count=int(summary["itemCount"]),
        content_sha256=report.content_sha256,
        expected_sha256=expected_sha256,
        seconds=round(time.perf_counter() - started, 3),
        checks=[check.__dict__ for check in checks],
    )


def _exists(client: Any, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True
