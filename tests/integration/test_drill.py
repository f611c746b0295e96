"""The restore drill (``make drill``) on DynamoDB Local: back up, damage, restore into a new table,
validate, and keep the evidence. It loads, indexes, backs up and restores the 4,609 movies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MOVIE_COUNT

# The drill loads and indexes 4,609 movies, backs up and restores them: 90-160 s alone, over 240 s
# beside another xdist worker on the same two cores and DynamoDB Local. Its own xdist group, so that
# one worker runs it once (tests/build/test_test_scheduling.py).
DRILL_TIME_LIMIT_SECONDS = 720
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(DRILL_TIME_LIMIT_SECONDS + 60),
    pytest.mark.xdist_group("drill"),
]


@pytest.fixture(scope="module")
def drill(dynamodb_local: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    # Its own process, as make drill runs it: the drill points the API's handler at the restored table.
    output = tmp_path_factory.mktemp("drill")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mvdb_local.drill",
            "--endpoint",
            dynamodb_local.endpoint,
            "--output",
            str(output),
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
    assert backup["item_count"] == MOVIE_COUNT
    assert len(backup["content_sha256"]) == 64
    assert sum(f["item_count"] for f in backup["files"]) == MOVIE_COUNT
    assert all(len(f["sha256"]) == 64 and f["md5_base64"] for f in backup["files"])


def test_the_damage_is_detected_by_the_table_checks(drill: tuple[int, dict[str, Any]]) -> None:
    damage = drill[1]["damage"]
    assert damage["item_count"] == MOVIE_COUNT - damage["deleted"]
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
    assert evidence["restore"]["item_count"] == MOVIE_COUNT
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
