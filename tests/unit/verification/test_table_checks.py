"""The table checks' fixed facts and arithmetic: the key they expect is the template's, and the
content digest is a property of the items, not of the order a Scan returns them in."""

from __future__ import annotations

import hashlib
from typing import Any

from mvdb.verification.read_checks import CheckResult
from mvdb.verification.table_checks import (
    ATTRIBUTE_DEFINITIONS,
    KEY_SCHEMA,
    TableReport,
    content_digest,
    item_line,
    table_results,
)
from mvdb_local.table import movies_table_definition

RUSH = {"year": {"N": "2013"}, "title": {"S": "Rush"}, "info": {"M": {"rating": {"N": "8.3"}}}}
PRISONERS = {"title": {"S": "Prisoners"}, "year": {"N": "2013"}}


def test_the_expected_key_is_the_templates() -> None:
    definition = movies_table_definition()
    assert list(KEY_SCHEMA) == definition["KeySchema"]
    assert sorted(ATTRIBUTE_DEFINITIONS, key=str) == sorted(definition["AttributeDefinitions"], key=str)


def test_an_item_line_is_canonical_json_with_binary_as_base64() -> None:
    assert item_line({"b": {"S": "é"}, "a": {"B": b"\x00\xff"}}) == '{"a":{"B":"AP8="},"b":{"S":"é"}}'.encode()


def test_the_digest_does_not_depend_on_the_order_of_the_items() -> None:
    assert content_digest([RUSH, PRISONERS]) == content_digest([PRISONERS, RUSH])


def test_the_digest_is_the_sha256_of_the_sorted_lines() -> None:
    lines = sorted([item_line(RUSH), item_line(PRISONERS)])
    assert content_digest([RUSH, PRISONERS]) == hashlib.sha256(b"".join(line + b"\n" for line in lines)).hexdigest()


def test_any_change_to_an_item_changes_the_digest() -> None:
    changed = {**RUSH, "info": {"M": {"rating": {"N": "8.4"}}}}
    assert content_digest([RUSH, PRISONERS]) != content_digest([changed, PRISONERS])


def report(**overrides: Any) -> TableReport:
    values: dict[str, Any] = {
        "table": "t",
        "status": "ACTIVE",
        "key_schema_matches": True,
        "item_count": 10,
        "content_sha256": "d",
    }
    return TableReport(**(values | overrides))


def failed(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results if not r.passed}


def test_a_sound_table_passes_against_its_backup() -> None:
    assert failed(table_results(report(), expected_count=10, expected_sha256="d")) == set()


def test_each_finding_fails_its_own_check() -> None:
    assert failed(table_results(report(status="CREATING"))) == {"table is ACTIVE"}
    assert failed(table_results(report(key_schema_matches=False))) == {
        "key schema is year (N, HASH) / title (S, RANGE)"
    }
    assert failed(table_results(report(invalid_count=1))) == {"every item is a valid movie"}
    assert failed(table_results(report(etag_mismatch_count=2))) == {"every stored ETag matches its document"}
    assert failed(table_results(report(), expected_count=11)) == {"item count equals the backup's"}
    assert failed(table_results(report(), expected_sha256="e")) == {"content digest equals the backup's"}
    assert failed(table_results(report(item_count=0))) == {"item count is at least 1"}
