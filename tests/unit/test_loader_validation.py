"""The loader validates every record first and reports each bad one by index and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mvdb.loader import InvalidRecord, read_records, validate_records

GOOD = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Drama"]}}


def test_valid_records_become_documents_in_order() -> None:
    records = [GOOD, {"year": 2013, "title": "Gravity"}]
    documents, invalid = validate_records(records)
    assert invalid == []
    assert documents == [GOOD, {"year": 2013, "title": "Gravity", "info": {}}]


@pytest.mark.parametrize(
    ("record", "reason_part"),
    [
        ({"year": 1800, "title": "Old"}, "year"),
        ({"year": 2013, "title": "  "}, "title"),
        ({"year": 2013, "title": "Rush", "info": {"rating": 11}}, "info.rating"),
        ({"year": 2013, "title": "Rush", "info": {"genres": "Drama"}}, "info.genres"),
        ({"year": 2013, "title": "Rush", "info": {"running_time_secs": -5}}, "info.running_time_secs"),
        ({"year": 2013, "title": "Rush", "info": {"release_date": "soon"}}, "info.release_date"),
        ({"year": 2013, "title": "Rush", "info": {"ratign": 8}}, "info.ratign"),
        ({"year": 2013, "title": "Rush", "extra": 1}, "extra"),
        ({"title": "No year"}, "year"),
        ("not an object", "record"),
        (None, "record"),
    ],
)
def test_invalid_record_is_reported_with_its_index_and_the_field_at_fault(record: Any, reason_part: str) -> None:
    documents, invalid = validate_records([GOOD, record])
    assert documents == [GOOD]
    assert len(invalid) == 1
    assert invalid[0].index == 1
    assert reason_part in invalid[0].reason


def test_every_invalid_record_is_reported_not_just_the_first() -> None:
    records = [{"year": 1, "title": "a"}, GOOD, {"year": 2, "title": "b"}, {"year": 3, "title": "c"}]
    _, invalid = validate_records(records)
    assert [bad.index for bad in invalid] == [0, 2, 3]


def test_duplicate_key_is_reported_naming_the_first_record() -> None:
    records = [GOOD, {"year": 2013, "title": "Gravity"}, {**GOOD, "info": {"rating": 1.0}}]
    documents, invalid = validate_records(records)
    assert [d["title"] for d in documents] == ["Rush", "Gravity"]
    assert invalid == [InvalidRecord(2, "duplicate of record 0 ('Rush', 2013)")]


def test_same_title_in_another_year_is_not_a_duplicate() -> None:
    _, invalid = validate_records([GOOD, {**GOOD, "year": 1983}])
    assert invalid == []


def test_the_whole_data_set_is_valid(tmp_path: Path) -> None:
    records = read_records(Path(__file__).resolve().parents[2] / "data" / "moviedata.json")
    documents, invalid = validate_records(records)
    assert (len(documents), invalid) == (4609, [])


def test_file_that_is_not_a_json_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "movies.json"
    path.write_text(json.dumps({"year": 2013, "title": "Rush"}))
    with pytest.raises(ValueError, match="JSON array"):
        read_records(path)


def test_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "movies.json"
    path.write_text("[{")
    with pytest.raises(ValueError):
        read_records(path)
