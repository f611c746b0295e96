"""The gate that keeps the shared seed read-only: a run whose tests wrote to it fails, naming the writes.

The seed's table is shared by every test of a run (``loaded_table``); its stream is switched on
before the first test and read at the end (tests/dynamodb_session.py). Here the same reading is
pointed at a table of the test's own, written to as a careless test would write to the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.dynamodb_session import seed_writes

pytestmark = pytest.mark.integration


def test_the_guard_names_every_write_a_table_took(
    make_table: Callable[..., str], dynamodb_client: Any, dynamodb_local: Any
) -> None:
    table = make_table(stream=True)
    assert seed_writes(dynamodb_local.endpoint, table) == []
    key = {"year": {"N": "2031"}, "title": {"S": "Careless"}}
    dynamodb_client.put_item(TableName=table, Item=key)
    dynamodb_client.delete_item(TableName=table, Key=key)
    assert seed_writes(dynamodb_local.endpoint, table) == ["INSERT 2031/Careless", "REMOVE 2031/Careless"]


def test_the_seed_is_guarded_from_the_first_test(dynamodb_client: Any, loaded_table: str) -> None:
    stream = dynamodb_client.describe_table(TableName=loaded_table)["Table"].get("StreamSpecification", {})
    assert stream.get("StreamEnabled") is True
