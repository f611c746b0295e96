"""The loader against DynamoDB Local: validation first, idempotent, safe to rerun after a kill, indexed when done.

Loads of the whole data set happen once per session (the seed, ``loaded_table``); the tests that
load again use the first ``SUBSET`` movies: indexing makes a load of all 4,609 a minute or more here.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mvdb.loader import InvalidRecord, load_movies
from tests.conftest import PROJECT_ROOT
from tests.integration.index_truth import assert_index_exact

pytestmark = pytest.mark.integration

Items = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture
def movies_table(make_table: Any) -> str:
    """A fresh, empty movies table with its search index table: a load indexes what it wrote."""
    return str(make_table(search_index=True))


def full_scan(client: Any, table: str) -> Items:
    """Every item of the table, exactly as stored, keyed by (year, title)."""
    items: Items = {}
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        for item in page["Items"]:
            items[(item["year"]["N"], item["title"]["S"])] = item
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_items(client: Any, table: str) -> int:
    total, request = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = client.scan(**request)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="session")
def clean_load(dynamodb_client: Any, loaded_table: str) -> Items:
    """Every item of the session's table, loaded once without interruption: the reference."""
    return full_scan(dynamodb_client, loaded_table)


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment, running the mvdb of this checkout."""
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), **extra}


def cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mvdb.cli", "load", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=cli_env(),
    )


# -- validation before any write ---------------------------------------------------------------


def test_bad_records_are_reported_by_index_and_reason_and_nothing_is_written(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    records = copy.deepcopy(movie_records[:50])
    records[7]["info"]["rating"] = 42
    records[31]["year"] = "two thousand"
    report = load_movies(dynamodb_client, movies_table, records)
    assert [(bad.index, bad.reason.split(":")[0]) for bad in report.invalid] == [(7, "info.rating"), (31, "year")]
    assert (report.total, report.written) == (50, 0)
    assert count_items(dynamodb_client, movies_table) == 0


def test_with_skip_invalid_the_valid_records_are_loaded(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    records = copy.deepcopy(movie_records[:12])
    records[7]["info"]["genres"] = "Drama"
    report = load_movies(dynamodb_client, movies_table, records, skip_invalid=True)
    assert [bad.index for bad in report.invalid] == [7]
    assert report.written == 11
    stored = full_scan(dynamodb_client, movies_table)
    assert len(stored) == 11
    assert (str(records[7]["year"]), records[7]["title"]) not in stored


def test_duplicate_keys_are_reported_and_nothing_is_written(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    records = copy.deepcopy(movie_records[:20])
    records.append({**copy.deepcopy(records[3]), "info": {"plot": "A second, different copy."}})
    report = load_movies(dynamodb_client, movies_table, records)
    title, year = records[3]["title"], records[3]["year"]
    assert report.invalid == [InvalidRecord(20, f"duplicate of record 3 ({title!r}, {year})")]
    assert count_items(dynamodb_client, movies_table) == 0


# -- idempotence -------------------------------------------------------------------------------


# The first 200 movies: 20 release years, 8 BatchWriteItem batches (25 each) and 4 reconcile
# batches (50 each), so a load's write and index loops both turn several times. Half what these
# tests once loaded: what they prove does not grow with the count beyond a few batches.
SUBSET = 200


def clean_load_of(client: Any, loaded_table: str, records: list[dict[str, Any]]) -> Items:
    """The items of ``records`` in the seed's table (all movies, loaded once without interruption),
    read by key: what a clean load of ``records`` holds, without scanning all 4,609."""
    items: Items = {}
    for start in range(0, len(records), 100):  # BatchGetItem's maximum
        keys = [{"year": {"N": str(r["year"])}, "title": {"S": r["title"]}} for r in records[start : start + 100]]
        request = {loaded_table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            page = client.batch_get_item(RequestItems=request)
            for item in page["Responses"].get(loaded_table, []):
                items[(item["year"]["N"], item["title"]["S"])] = item
            request = page.get("UnprocessedKeys") or {}
    assert len(items) == len(records)
    return items


@pytest.mark.slow  # two indexed loads of SUBSET movies
def test_loading_twice_leaves_exactly_the_items_of_one_load(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]], loaded_table: str
) -> None:
    # The reference is another table loaded once with the same data: any change a second load
    # made (a timestamp, a new ETag, a lost or extra item) would set this table apart from it.
    records = movie_records[:SUBSET]
    first = load_movies(dynamodb_client, movies_table, records)
    second = load_movies(dynamodb_client, movies_table, records)
    assert (first.written, second.written, first.indexed, second.indexed) == (SUBSET,) * 4
    assert full_scan(dynamodb_client, movies_table) == clean_load_of(dynamodb_client, loaded_table, records)
    assert_index_exact(dynamodb_client, movies_table)


@pytest.mark.slow  # every item of the 4,609-movie table, scanned
def test_a_clean_load_holds_the_data_set_and_an_etag_each(
    clean_load: Items, movie_records: list[dict[str, Any]]
) -> None:
    assert set(clean_load) == {(str(r["year"]), r["title"]) for r in movie_records}
    assert all(set(item) == {"year", "title", "info", "etag"} for item in clean_load.values())


# -- killed half-way, then rerun ------------------------------------------------------------------


def count_manifests(client: Any, table: str) -> int:
    total, request = (
        0,
        {
            "TableName": f"{table}-search-index",
            "Select": "COUNT",
            "FilterExpression": "begins_with(pk, :manifest)",
            "ExpressionAttributeValues": {":manifest": {"S": "manifest#"}},
        },
    )
    while True:
        page = client.scan(**request)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# A loader process, killed, then a second one: 15-40 s on a shared two-core machine. The load being
# killed runs one writer, so that its phase lasts long enough (0.2-0.5 s of writing, seconds of
# indexing) for the kill to land inside it; the kill comes after at least two write batches or one
# reconcile batch, and at least two write batches or one reconcile batch before the end. Its table
# keeps its stream, which makes each write dearer to DynamoDB Local: without it the writing lasted
# too little for the polls below on a loaded machine (once: killed after 200, kill_after=134).
@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("phase", ["writing", "indexing"])
def test_rerun_after_a_kill_mid_load_leaves_exactly_a_clean_load(
    dynamodb_client: Any,
    dynamodb_local: Any,
    make_table: Any,
    movie_records: list[dict[str, Any]],
    loaded_table: str,
    tmp_path: Path,
    phase: str,
) -> None:
    movies_table = str(make_table(search_index=True, stream=True))
    records = movie_records[:SUBSET]
    data_file = tmp_path / "movies.json"
    data_file.write_text(json.dumps(records), encoding="utf-8")
    kill_after = 50 + secrets.randbelow(SUBSET - 100)  # a different point each run; reported on failure
    progress = count_items if phase == "writing" else count_manifests
    target = ["--file", str(data_file), "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--quiet"]
    # GIVEN a load killed with SIGKILL part-way through writing, or through indexing, the movies
    loader = subprocess.Popen(
        [sys.executable, "-m", "mvdb.cli", "load", *target, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
    )
    try:
        deadline = time.monotonic() + 120
        while loader.poll() is None and time.monotonic() < deadline:
            if progress(dynamodb_client, movies_table) >= kill_after:
                break
            time.sleep(0.05)
        os.kill(loader.pid, signal.SIGKILL)
    finally:
        loader.kill()
        loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL, f"the load ended before the kill (kill_after={kill_after})"
    partial = progress(dynamodb_client, movies_table)
    assert kill_after <= partial < SUBSET, f"killed after {partial} (kill_after={kill_after})"
    # WHEN it is run again to the end
    rerun = cli(*target, timeout_s=300)
    assert rerun.returncode == 0, rerun.stderr
    # THEN the table is exactly what a clean, uninterrupted load gives, and so is its index
    clean = clean_load_of(dynamodb_client, loaded_table, records)
    assert full_scan(dynamodb_client, movies_table) == clean, f"kill_after={kill_after}"
    assert_index_exact(dynamodb_client, movies_table)


# -- the command line (each test runs `mvdb load` in a process of its own) ------------------------


@pytest.mark.slow
def test_cli_prints_counts_and_duration(
    dynamodb_local: Any, movies_table: str, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(movie_records[:30]), encoding="utf-8")
    result = cli("--file", str(path), "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--quiet")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        rf"loaded 30 of 30 movies into {movies_table} \(0 skipped\) in \d+\.\d\d s \(\d+ items/s\)\n"
        rf"indexed 30 movies into {movies_table}-search-index in \d+\.\d\d s\n",
        result.stdout,
    )


@pytest.mark.slow
def test_cli_with_skip_invalid_loads_the_rest_and_counts_the_skipped(
    dynamodb_client: Any, dynamodb_local: Any, movies_table: str, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    records = copy.deepcopy(movie_records[:10])
    records[4]["info"]["running_time_secs"] = -60
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    result = cli(
        "--file", str(path), "--table", movies_table, "--endpoint", dynamodb_local.endpoint, "--quiet", "--skip-invalid"
    )
    assert result.returncode == 0, result.stderr
    assert "invalid record 4: info.running_time_secs" in result.stderr
    assert result.stdout.startswith(f"loaded 9 of 10 movies into {movies_table} (1 skipped)")
    assert count_items(dynamodb_client, movies_table) == 9


@pytest.mark.slow
def test_cli_reads_table_and_endpoint_from_the_environment(
    dynamodb_client: Any, dynamodb_local: Any, movies_table: str, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(movie_records[:5]), encoding="utf-8")
    env = cli_env(TABLE_NAME=movies_table, AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local.endpoint)
    result = subprocess.run(
        [sys.executable, "-m", "mvdb.cli", "load", "--file", str(path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert count_items(dynamodb_client, movies_table) == 5


@pytest.mark.slow
def test_cli_load_into_a_missing_table_fails_in_one_line_without_a_traceback(
    dynamodb_local: Any, movie_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(movie_records[:5]), encoding="utf-8")
    result = cli("--file", str(path), "--table", "mvdb-no-such-table", "--endpoint", dynamodb_local.endpoint, "--quiet")
    assert result.returncode == 1
    assert "error: loading into mvdb-no-such-table failed" in result.stderr
    assert "Traceback" not in result.stderr
