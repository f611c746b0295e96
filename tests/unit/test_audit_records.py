"""The audit record of a stream record: deterministic, named by the stream, skipping a delete's first step."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mvdb.domain.changes import AUDIT_RECORD_NAME
from mvdb.domain.query import MovieKey
from mvdb.repository.audit_store import DirectoryAuditStore, movie_prefix, record_name
from mvdb.streams.audit_trail import audit_record

CHANGE = {
    "M": {
        k: {"S": v}
        for k, v in {
            "operation": "replace",
            "client_id": "app",
            "request_id": "r-2",
            "at": "2026-11-30T09:00:00.000Z",
        }.items()
    }
}
OLD = {"year": {"N": "2013"}, "title": {"S": "Rush"}, "info": {"M": {}}, "etag": {"S": "a" * 32}}
NEW = {**OLD, "info": {"M": {"rating": {"N": "9"}}}, "etag": {"S": "b" * 32}, "last_change": CHANGE}


def stream_record(
    event_name: str, *, old: Any = None, new: Any = None, sequence: str = "000000000000000000042"
) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "Keys": {"year": {"N": "2013"}, "title": {"S": "Rush"}},
        "SequenceNumber": sequence,
        "ApproximateCreationDateTime": 1796029200.0,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        dynamodb["OldImage"] = old
    if new is not None:
        dynamodb["NewImage"] = new
    return {"eventID": "e0f1a2b3", "eventName": event_name, "dynamodb": dynamodb, "eventSourceARN": "arn:stream"}


def test_a_replace_is_recorded_with_both_images_and_its_attribution() -> None:
    key, record = audit_record(stream_record("MODIFY", old=OLD, new=NEW)) or ("", {})
    assert key == movie_prefix(MovieKey(2013, "Rush")) + record_name("000000000000000000042", "e0f1a2b3")
    assert (record["operation"], record["client_id"], record["request_id"]) == ("replace", "app", "r-2")
    assert record["before"] == {"year": 2013, "title": "Rush", "info": {}}
    assert record["after"] == {"year": 2013, "title": "Rush", "info": {"rating": 9.0}}
    assert (record["before_etag"], record["after_etag"]) == ("a" * 32, "b" * 32)


def test_the_same_stream_record_always_makes_the_same_key_and_record() -> None:
    raw = stream_record("MODIFY", old=OLD, new=NEW)
    assert audit_record(copy.deepcopy(raw)) == audit_record(copy.deepcopy(raw))


def test_the_first_step_of_a_delete_makes_no_record() -> None:
    marked = {**OLD, "last_change": {"M": {**CHANGE["M"], "operation": {"S": "delete"}}}}
    assert audit_record(stream_record("MODIFY", old=OLD, new=marked)) is None


def test_a_removal_names_the_deleter_the_item_carried() -> None:
    marked = {**OLD, "last_change": {"M": {**CHANGE["M"], "operation": {"S": "delete"}, "client_id": {"S": "janitor"}}}}
    _, record = audit_record(stream_record("REMOVE", old=marked)) or ("", {})
    assert (record["operation"], record["client_id"], record["after"]) == ("delete", "janitor", None)


def test_a_change_made_around_the_service_is_recorded_unattributed() -> None:
    _, record = audit_record(stream_record("REMOVE", old=OLD)) or ("", {})
    assert (record["operation"], record["client_id"], record["request_id"]) == ("delete", None, None)
    assert record["changed_at"] == "2026-11-30T09:00:00.000Z"  # the stream's time


def test_later_sequence_numbers_sort_first() -> None:
    names = [record_name(sequence, "e") for sequence in ("9", "10", "100000000000000000000000000000000000000")]
    assert sorted(names) == list(reversed(names))
    assert all(AUDIT_RECORD_NAME.match(name) for name in names)


@pytest.mark.parametrize(("sequence", "event_id"), [("12a", "e"), ("1" * 41, "e"), ("1", "../x")])
def test_a_name_is_made_only_of_a_sequence_number_and_a_plain_event_id(sequence: str, event_id: str) -> None:
    with pytest.raises(ValueError):
        record_name(sequence, event_id)


def test_the_directory_store_never_overwrites_a_record(tmp_path: Path) -> None:
    store = DirectoryAuditStore(tmp_path)
    key = movie_prefix(MovieKey(2013, "Rush")) + record_name("1", "e")
    assert store.put_new(key, {"first": True}) is True
    assert store.put_new(key, {"first": False}) is False
    entries, _ = store.history(MovieKey(2013, "Rush"), start_after=None, limit=10)
    assert [entry.record for entry in entries] == [{"first": True}]
    assert [p.name for p in (tmp_path / movie_prefix(MovieKey(2013, "Rush"))).iterdir()] == [record_name("1", "e")]
