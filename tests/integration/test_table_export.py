"""Backups as DynamoDB exports, and restores into a new table only, against DynamoDB Local."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mvdb.loader import load_movies
from mvdb.table_export import (
    BACKUP_FILE,
    ExportInvalid,
    TableExists,
    back_up_table,
    restore_into_new_table,
    verify_export,
)
from mvdb.verification.table_checks import inspect_table
from tests.conftest import MOVIE_COUNT, unique_table_name

pytestmark = pytest.mark.integration

# An attribute the service never writes, to show that restores keep every attribute and type.
EXTRA = {"poster": {"B": b"\x89PNG\r\n\x1a\n\x00\xff"}, "tags": {"SS": ["a", "b"]}}


@pytest.fixture(scope="module")
def source(make_module_table: Callable[..., str], dynamodb_client: Any, movie_records: list[dict[str, Any]]) -> str:
    """60 movies, one of them with attributes the service never writes. Read-only: the module's tests share it."""
    movies_table = make_module_table(search_index=True)
    load_movies(dynamodb_client, movies_table, movie_records[:60])
    first = dynamodb_client.scan(TableName=movies_table, Limit=1)["Items"][0]
    dynamodb_client.update_item(
        TableName=movies_table,
        Key={"year": first["year"], "title": first["title"]},
        UpdateExpression="SET poster = :poster, tags = :tags",
        ExpressionAttributeValues={":poster": EXTRA["poster"], ":tags": EXTRA["tags"]},
    )
    return movies_table


@pytest.fixture
def new_table(dynamodb_client: Any) -> Any:
    """Names for the restore's new tables; each one created is dropped after the test."""
    from mvdb_local.table import create_movies_table

    created: list[str] = []

    def create(client: Any, name: str) -> None:
        create_movies_table(client, name, if_missing=False, stream=False)  # no test here reads it
        created.append(name)

    yield create
    for name in created:
        dynamodb_client.delete_table(TableName=name)


def sorted_items(client: Any, table: str) -> list[dict[str, Any]]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (int(item["year"]["N"]), item["title"]["S"]))


def _md5(data: bytes) -> Any:
    # DynamoDB's manifests carry MD5s (an integrity check of the transfer, not a security control).
    return hashlib.md5(data, usedforsecurity=False)


def tables(client: Any) -> list[str]:
    return list(client.list_tables()["TableNames"])


def _exported(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value for name, value in item.items()
    }


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rewrite_manifest_with_the_changed_files_md5(directory: Path) -> None:
    data_file = next((directory / "data").iterdir())
    data_file.write_bytes(gzip.compress(b'{"Item": {"year": {"N": "2013"}, "title": {"S": "Forged"}}}\n'))
    forged_md5 = base64.b64encode(_md5(data_file.read_bytes()).digest()).decode()
    entry = json.loads((directory / "manifest-files.json").read_text())
    entry |= {"md5Checksum": forged_md5, "itemCount": 1}
    (directory / "manifest-files.json").write_text(json.dumps(entry) + "\n")


def _edit_json(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


# -- the backup's files --------------------------------------------------------------------------


def test_a_backup_is_laid_out_as_a_dynamodb_export(dynamodb_client: Any, source: str, tmp_path: Path) -> None:
    report = back_up_table(dynamodb_client, source, tmp_path)

    assert report.directory == tmp_path / "AWSDynamoDB" / report.export_id
    summary = json.loads((report.directory / "manifest-summary.json").read_text())
    assert (summary["version"], summary["outputFormat"], summary["exportType"]) == (
        "2020-06-30",
        "DYNAMODB_JSON",
        "FULL_EXPORT",
    )
    assert summary["itemCount"] == 60
    entries = [json.loads(line) for line in (report.directory / "manifest-files.json").read_text().splitlines()]
    for entry in entries:
        data = (report.directory / "data" / Path(entry["dataFileS3Key"]).name).read_bytes()
        assert entry["md5Checksum"] == base64.b64encode(_md5(data).digest()).decode()
        assert entry["etag"] == _md5(data).hexdigest()
        lines = gzip.decompress(data).splitlines()
        assert len(lines) == entry["itemCount"]
        assert all(set(json.loads(line)) == {"Item"} for line in lines)


def test_a_backup_creates_the_missing_parents_of_its_directory(
    dynamodb_client: Any, source: str, tmp_path: Path
) -> None:
    # `make drill` backs up into build/drill: on a fresh clone nothing has made build/ yet.
    root = tmp_path / "build" / "drill"

    report = back_up_table(dynamodb_client, source, root)

    assert report.directory == root / "AWSDynamoDB" / report.export_id
    assert (report.directory / BACKUP_FILE).is_file()


def test_a_backup_into_a_path_that_is_a_file_is_refused_naming_it(
    dynamodb_client: Any, source: str, tmp_path: Path
) -> None:
    (tmp_path / "backups").write_text("not a directory")

    with pytest.raises(NotADirectoryError, match="backups is a file"):
        back_up_table(dynamodb_client, source, tmp_path / "backups")


def test_binary_values_are_base64_text_in_the_data_files(dynamodb_client: Any, source: str, tmp_path: Path) -> None:
    report = back_up_table(dynamodb_client, source, tmp_path)
    data = gzip.decompress((report.directory / "data" / Path(report.files[0].key).name).read_bytes())
    posters = [json.loads(line)["Item"]["poster"] for line in data.splitlines() if b'"poster"' in line]
    assert posters == [{"B": base64.b64encode(EXTRA["poster"]["B"]).decode()}]


def test_the_backup_records_the_sha256_of_every_file_and_the_content_digest(
    dynamodb_client: Any, source: str, tmp_path: Path
) -> None:
    report = back_up_table(dynamodb_client, source, tmp_path)
    recorded = json.loads((report.directory / BACKUP_FILE).read_text())

    for name, digest in recorded["sha256"].items():
        assert hashlib.sha256((report.directory / name).read_bytes()).hexdigest() == digest
    assert recorded["contentSha256"] == inspect_table(dynamodb_client, source).content_sha256


class _ScanPages:
    """``client``, counting the Scan calls (pages) made through it."""

    def __init__(self, client: Any) -> None:
        self._client, self.pages = client, 0

    def scan(self, **request: Any) -> Any:
        self.pages += 1
        return self._client.scan(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.slow  # reads the 4,609 movies twice: 5-10 s
def test_a_backup_of_a_table_many_scan_pages_long_holds_every_item(
    dynamodb_client: Any, loaded_table: str, tmp_path: Path
) -> None:
    # The seed's table (read-only), as the restore drill of all 4,609 movies backs it up: a Scan
    # returns at most 1 MB, so the backup and the table check must follow LastEvaluatedKey.
    client = _ScanPages(dynamodb_client)
    report = back_up_table(client, loaded_table, tmp_path)
    backed_up_pages, client.pages = client.pages, 0
    inspected = inspect_table(client, loaded_table)

    assert (backed_up_pages > 1, client.pages > 1) == (True, True), (backed_up_pages, client.pages)
    assert report.item_count == inspected.item_count == MOVIE_COUNT
    assert report.content_sha256 == inspected.content_sha256


# -- restore ---------------------------------------------------------------------------------------


def test_a_restore_creates_a_new_table_with_exactly_the_backed_up_items(
    dynamodb_client: Any, source: str, new_table: Callable[..., None], tmp_path: Path
) -> None:
    backup = back_up_table(dynamodb_client, source, tmp_path)
    restored = unique_table_name("restored")

    report = restore_into_new_table(dynamodb_client, backup.directory, restored, create_table=new_table)

    assert report.matches, report.checks
    assert sorted_items(dynamodb_client, restored) == sorted_items(dynamodb_client, source)
    assert report.content_sha256 == backup.content_sha256


def test_a_restore_into_an_existing_table_is_refused_and_writes_nothing(
    dynamodb_client: Any, source: str, make_table: Callable[[], str], tmp_path: Path
) -> None:
    backup = back_up_table(dynamodb_client, source, tmp_path)
    existing = make_table()

    with pytest.raises(TableExists, match="never overwrites"):
        restore_into_new_table(dynamodb_client, backup.directory, existing, create_table=lambda *_: None)

    assert sorted_items(dynamodb_client, existing) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: _flip_a_byte(next((d / "data").iterdir())), id="data file changed"),
        pytest.param(lambda d: next((d / "data").iterdir()).unlink(), id="data file missing"),
        pytest.param(_rewrite_manifest_with_the_changed_files_md5, id="data file and its MD5 changed"),
        pytest.param(lambda d: _edit_json(d / "manifest-summary.json", itemCount=1), id="summary count changed"),
    ],
)
def test_a_damaged_backup_is_refused_before_any_table_is_created(
    dynamodb_client: Any, source: str, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    backup = back_up_table(dynamodb_client, source, tmp_path)
    damage(backup.directory)
    restored = unique_table_name("restored")

    with pytest.raises(ExportInvalid):
        restore_into_new_table(dynamodb_client, backup.directory, restored, create_table=lambda *_: None)

    assert restored not in tables(dynamodb_client)


def test_an_export_made_by_dynamodb_itself_restores(
    dynamodb_client: Any, source: str, new_table: Callable[..., None], tmp_path: Path
) -> None:
    # As ExportTableToPointInTime writes it (no mvdb-backup.json; S3 keys under the export's prefix),
    # with the items split over two data files.
    items = sorted_items(dynamodb_client, source)
    export = tmp_path / "AWSDynamoDB" / "01604471314028-a1b2c3d4"
    (export / "data").mkdir(parents=True)
    manifest = []
    for name, part in (("a.json.gz", items[:25]), ("b.json.gz", items[25:])):
        lines = "".join(json.dumps({"Item": _exported(item)}) + "\n" for item in part)
        data = gzip.compress(lines.encode())
        (export / "data" / name).write_bytes(data)
        manifest.append(
            {
                "itemCount": len(part),
                "md5Checksum": base64.b64encode(_md5(data).digest()).decode(),
                "etag": _md5(data).hexdigest(),
                "dataFileS3Key": f"exports/AWSDynamoDB/01604471314028-a1b2c3d4/data/{name}",
            }
        )
    (export / "manifest-files.json").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    summary = {"version": "2020-06-30", "itemCount": len(items), "outputFormat": "DYNAMODB_JSON"}
    (export / "manifest-summary.json").write_text(json.dumps(summary))
    restored = unique_table_name("restored")

    report = restore_into_new_table(dynamodb_client, export, restored, create_table=new_table)

    assert report.matches, report.checks
    assert sorted_items(dynamodb_client, restored) == items


def test_verify_export_lists_every_problem_it_finds(dynamodb_client: Any, source: str, tmp_path: Path) -> None:
    backup = back_up_table(dynamodb_client, source, tmp_path)
    _flip_a_byte(next((backup.directory / "data").iterdir()))
    _edit_json(backup.directory / "manifest-summary.json", outputFormat="ION")

    with pytest.raises(ExportInvalid) as invalid:
        verify_export(backup.directory)

    problems = " | ".join(invalid.value.problems)
    assert "MD5" in problems
    assert "outputFormat 'ION'" in problems
    assert "manifest-summary.json: SHA-256 differs" in problems
