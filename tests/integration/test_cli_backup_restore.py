"""``mvdb backup`` and ``mvdb restore`` as an operator runs them, against DynamoDB Local."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, unique_table_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # `mvdb` in a process of its own, per call


def mvdb(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_") and name != "REGION"}
    env |= {"HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mvdb.cli", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.fixture
def backup(dynamodb_local: Any, dynamodb_client: Any, movies_table: str, tmp_path: Path) -> Path:
    from mvdb.loader import load_movies

    records = json.loads((PROJECT_ROOT / "data" / "moviedata.json").read_text())[:30]
    load_movies(dynamodb_client, movies_table, records)
    made = mvdb(
        "backup", "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--output", str(tmp_path),
        "--json", home=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return Path(json.loads(made.stdout)["directory"])


def test_backup_then_restore_into_a_new_table_reports_a_match(
    dynamodb_local: Any, dynamodb_client: Any, backup: Path, tmp_path: Path
) -> None:
    restored = unique_table_name("cli-restored")

    result = mvdb(
        "restore", "--from", str(backup), "--table", restored, "--endpoint", dynamodb_local.endpoint, home=tmp_path
    )

    dynamodb_client.delete_table(TableName=restored)
    assert result.returncode == 0, result.stderr
    assert "restored 30 of 30 items" in result.stdout
    assert "FAIL" not in result.stdout


def test_restore_into_an_existing_table_is_refused_with_exit_status_2(
    dynamodb_local: Any, backup: Path, movies_table: str, tmp_path: Path
) -> None:
    result = mvdb(
        "restore", "--from", str(backup), "--table", movies_table, "--endpoint", dynamodb_local.endpoint, home=tmp_path
    )

    assert result.returncode == 2
    assert f"table {movies_table} exists already" in result.stderr


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_refuse_an_aws_endpoint(command: str, tmp_path: Path) -> None:
    args = ["--table", "mvdb-movies", "--endpoint", "https://dynamodb.eu-west-1.amazonaws.com"]
    result = mvdb(command, *args, *(["--from", str(tmp_path)] if command == "restore" else []), home=tmp_path)

    assert result.returncode == 2
    assert "works against DynamoDB Local" in result.stderr


def test_verify_passes_a_sound_table_and_fails_a_damaged_one_without_writing(
    dynamodb_local: Any, dynamodb_client: Any, backup: Path, movies_table: str, tmp_path: Path
) -> None:
    sound = mvdb(
        "verify", "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--expect-count", "30", home=tmp_path
    )
    item = dynamodb_client.scan(TableName=movies_table, Limit=1)["Items"][0]
    dynamodb_client.delete_item(TableName=movies_table, Key={"year": item["year"], "title": item["title"]})
    before = dynamodb_client.scan(TableName=movies_table)["Count"]

    damaged = mvdb(
        "verify", "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--expect-count", "30", home=tmp_path
    )

    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert "PASS health" in sound.stdout
    assert damaged.returncode == 1
    assert "FAIL item count equals the backup's: 29 items, the backup holds 30" in damaged.stdout
    assert dynamodb_client.scan(TableName=movies_table)["Count"] == before


def test_verify_prints_its_verdict_and_nothing_else(
    dynamodb_local: Any, dynamodb_client: Any, movies_table: str, tmp_path: Path
) -> None:
    # The read checks call the API's handler in-process: its metrics are Lambda's (EMF), not a terminal's.
    from mvdb.loader import load_movies

    load_movies(dynamodb_client, movies_table, json.loads((PROJECT_ROOT / "data" / "moviedata.json").read_text())[:5])

    result = mvdb("verify", "--table", movies_table, "--endpoint", dynamodb_local.endpoint, home=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    [summary, *checks] = result.stdout.splitlines()
    assert summary.startswith(f"{movies_table}: 5 items")
    assert checks and all(line.startswith("  PASS ") for line in checks), result.stdout


def test_a_backup_is_readable_by_its_owner_only(backup: Path) -> None:
    # A backup holds every item of the table: 0600 files in 0700 directories, whatever the umask.
    paths = [backup.parent, *backup.rglob("*")]
    modes = {path.relative_to(backup.parent).as_posix(): oct(path.stat().st_mode & 0o777) for path in paths}
    expected = {name: oct(0o700 if (backup.parent / name).is_dir() else 0o600) for name in modes}
    assert modes == expected
