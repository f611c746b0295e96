"""``mvdb create-table`` and ``mvdb load`` against DynamoDB Local, as a new user runs them from the README.

The environment is a fresh machine's: no AWS variables, no ~/.aws. A local endpoint needs no
region or credentials.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, unique_table_name
from tests.integration.index_truth import assert_index_exact

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # `mvdb` in a process of its own


def mvdb(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_") and name != "REGION"}
    env |= {"HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mvdb.cli", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_a_new_table_is_created_from_the_template_and_loaded_without_any_aws_configuration(
    dynamodb_local: Any, dynamodb_client: Any, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    table, endpoint = unique_table_name("cli"), dynamodb_local.endpoint
    data = tmp_path / "movies.json"
    data.write_text(json.dumps(movie_records[:20]), encoding="utf-8")

    created = mvdb("create-table", "--table", table, "--endpoint", endpoint, home=tmp_path)
    loaded = mvdb("load", "--table", table, "--endpoint", endpoint, "--file", str(data), "--quiet", home=tmp_path)

    try:
        assert created.returncode == 0, created.stderr
        assert created.stdout == (
            f"created table {table} at {endpoint}\ncreated table {table}-search-index at {endpoint}\n"
        )
        assert loaded.returncode == 0, loaded.stderr
        assert dynamodb_client.scan(TableName=table, Select="COUNT")["Count"] == 20
        key_schema = dynamodb_client.describe_table(TableName=table)["Table"]["KeySchema"]
        assert key_schema == [
            {"AttributeName": "year", "KeyType": "HASH"},
            {"AttributeName": "title", "KeyType": "RANGE"},
        ]
        assert_index_exact(dynamodb_client, table)
    finally:
        dynamodb_client.delete_table(TableName=table)
        dynamodb_client.delete_table(TableName=f"{table}-search-index")


def test_creating_a_table_that_exists_changes_nothing(make_table: Any, dynamodb_local: Any, tmp_path: Path) -> None:
    table = make_table(search_index=True)

    again = mvdb("create-table", "--table", table, "--endpoint", dynamodb_local.endpoint, home=tmp_path)

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"exists already: table {table}")


def test_reindex_indexes_the_movies_of_a_table_and_prints_the_counts(
    make_table: Any, dynamodb_local: Any, dynamodb_client: Any, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    from mvdb.loader import _write_documents, validate_records

    table = make_table(search_index=True)
    documents, _ = validate_records(movie_records[:20])
    _write_documents(dynamodb_client, table, documents)  # as before the index existed: nothing indexed

    result = mvdb("reindex", "--table", table, "--endpoint", dynamodb_local.endpoint, "--quiet", home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        rf"reindexed {table} into {table}-search-index: 20 movies checked, 0 already in step, 20 reconciled, "
        r"0 removed, 0 failed in \d+\.\d\d s\n",
        result.stdout,
    )
    assert_index_exact(dynamodb_client, table)


def test_reindex_resumes_where_a_killed_run_left_its_checkpoint(
    make_table: Any, dynamodb_local: Any, dynamodb_client: Any, tmp_path: Path
) -> None:
    table = make_table(search_index=True)
    # GIVEN the checkpoint a run killed after finishing 1999 leaves
    checkpoint = {"pk": {"S": "reindex"}, "sk": {"S": "progress"}, "next_year": {"N": "2000"}}
    counts = {name: {"N": "7"} for name in ("checked", "in_step", "reconciled", "removed")}
    dynamodb_client.put_item(TableName=f"{table}-search-index", Item={**checkpoint, **counts})

    result = mvdb("reindex", "--table", table, "--endpoint", dynamodb_local.endpoint, "--quiet", home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("resumed at year 2000 (counts include the earlier run)\n")
    assert "7 movies checked" in result.stdout
    # AND a finished run leaves no checkpoint: the next one starts from the first year
    again = mvdb("reindex", "--table", table, "--endpoint", dynamodb_local.endpoint, "--quiet", home=tmp_path)
    assert "resumed" not in again.stdout
