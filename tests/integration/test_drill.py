"""The restore drill (``make drill``) on DynamoDB Local: back up, damage, restore into a new table,
validate, and keep the evidence.

``make drill`` loads, indexes, backs up and restores all 4,609 movies (two minutes and more here);
what it proves does not grow with the data, so the test runs the same command on a slice of them
(``--data``). That a backup holds every item of a table that takes several scan pages is proved on
the 4,609-movie seed table by tests/integration/test_table_export.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mvdb.loader import BATCH_SIZE
from mvdb.repository.index_reconciler import _BATCH_READ_MOVIES

# The first 300 movies: 34 release years, 12 BatchWriteItem batches for the load and again for
# the restore, 6 batches for the index: every loop of the drill turns more than once, and the
# damage (25 movies deleted, one altered) leaves most of them. 10-25 s, against 90-160 s for all
# 4,609. Its own xdist group, so that one worker runs it once (tests/build/test_test_scheduling.py).
SLICE = 300
DRILL_TIME_LIMIT_SECONDS = 300
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(DRILL_TIME_LIMIT_SECONDS + 60),
    pytest.mark.xdist_group("drill"),
]


@pytest.fixture(scope="module")
def drill(
    dynamodb_local: Any, movie_records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict[str, Any]]:
    records = movie_records[:SLICE]
    assert len({r["year"] for r in records}) > 1
    assert len(records) > 2 * max(BATCH_SIZE, _BATCH_READ_MOVIES)
    data_file = tmp_path_factory.mktemp("drill-data") / "movies.json"
    data_file.write_text(json.dumps(records), encoding="utf-8")
    # Its own process, as make drill runs it: the drill points the API's handler at the restored table.
    # As on a fresh clone, where nothing has made build/ yet: the drill makes its directory's parents.
    output = tmp_path_factory.mktemp("drill") / "build" / "drill"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mvdb_local.drill",
            "--endpoint",
            dynamodb_local.endpoint,
            "--output",
            str(output),
            "--data",
            str(data_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=DRILL_TIME_LIMIT_SECONDS,
    )
    assert result.stdout, result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def test_the_drill_passes(drill: tuple[int, dict[str, Any]]) -> None:
    returncode, evidence = drill
    assert (returncode, evidence["result"]) == (0, "PASSED"), json.dumps(evidence, indent=2)[:3000]


def test_the_backup_holds_every_movie_with_checksums(drill: tuple[int, dict[str, Any]]) -> None:
    backup = drill[1]["backup"]
    assert drill[1]["source"]["loaded"] == backup["item_count"] == SLICE
    assert len(backup["content_sha256"]) == 64
    assert sum(f["item_count"] for f in backup["files"]) == SLICE
    assert all(len(f["sha256"]) == 64 and f["md5_base64"] for f in backup["files"])


def test_the_damage_is_detected_by_the_table_checks(drill: tuple[int, dict[str, Any]]) -> None:
    damage = drill[1]["damage"]
    assert damage["item_count"] == SLICE - damage["deleted"]
    assert damage["content_sha256"] != drill[1]["backup"]["content_sha256"]
    assert set(damage["detected_by"]) == {
        "item count equals the backup's",
        "content digest equals the backup's",
        "every stored ETag matches its document",
    }


def test_restoring_over_the_damaged_table_is_refused(drill: tuple[int, dict[str, Any]]) -> None:
    assert "exists already" in drill[1]["overwrite_refused"]


def test_the_new_table_has_the_backups_content_and_passes_every_check(drill: tuple[int, dict[str, Any]]) -> None:
    evidence = drill[1]
    assert evidence["restore"]["item_count"] == SLICE
    assert evidence["restore"]["content_sha256"] == evidence["backup"]["content_sha256"]
    assert evidence["validation"]["result"] == "SUCCESSFUL"
    names = {check["name"] for check in evidence["validation"]["checks"]}
    assert {"health", "movie reads back with its ETag", "content digest equals the backup's"} <= names


def test_the_evidence_is_kept_beside_the_backup(drill: tuple[int, dict[str, Any]]) -> None:
    evidence = drill[1]
    kept = json.loads(Path(evidence["evidence_file"]).read_text())
    assert Path(evidence["evidence_file"]).parent == Path(evidence["backup"]["directory"])
    assert kept["result"] == "PASSED"
    assert set(kept["timings_s"]) == {"load", "backup", "damage and detect", "restore", "validation", "total"}
