"""The movies table, its search index table and the idempotency records' table as the data stack
(infra/stacks/data.yaml) defines them: the single definition of their shapes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from mvdb.config import default_search_index_table_name
from mvdb_local import PROJECT_ROOT

__all__ = [
    "DATA_TEMPLATE_PATH",
    "TEMPLATE_PATH",
    "create_idempotency_table",
    "create_movies_table",
    "create_search_index_table",
    "create_tables",
    "enable_stream",
    "idempotency_table_definition",
    "movies_table_definition",
    "search_index_table_definition",
]

TEMPLATE_PATH = PROJECT_ROOT / "infra" / "template.yaml"  # the root SAM template (the API, its routes)
DATA_TEMPLATE_PATH = PROJECT_ROOT / "infra" / "stacks" / "data.yaml"  # the nested stack with the movies table
TABLE_RESOURCE = "MoviesTable"
INDEX_TABLE_RESOURCE = "SearchIndexTable"
IDEMPOTENCY_TABLE_RESOURCE = "IdempotencyTable"
_SHAPE = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
)


def _table_shape(template_path: Path, resource: str) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # understands !Ref, !If and friends

    template = yaml_parse(template_path.read_text())
    properties = template["Resources"][resource]["Properties"]
    shape = {name: properties[name] for name in _SHAPE if name in properties}
    if "StreamSpecification" in shape:
        # CreateTable takes StreamEnabled too; CloudFormation infers it from the view type.
        shape["StreamSpecification"] = {"StreamEnabled": True, **shape["StreamSpecification"]}
    return shape


@lru_cache(maxsize=4)
def movies_table_definition(template_path: Path = DATA_TEMPLATE_PATH) -> dict[str, Any]:
    """KeySchema, AttributeDefinitions, BillingMode, indexes and stream of the data stack's movies table."""
    return _table_shape(template_path, TABLE_RESOURCE)


@lru_cache(maxsize=4)
def idempotency_table_definition(template_path: Path = DATA_TEMPLATE_PATH) -> dict[str, Any]:
    """KeySchema, AttributeDefinitions, BillingMode and TimeToLiveSpecification of the idempotency records' table."""
    return _table_shape(template_path, IDEMPOTENCY_TABLE_RESOURCE)


@lru_cache(maxsize=4)
def search_index_table_definition(template_path: Path = DATA_TEMPLATE_PATH) -> dict[str, Any]:
    """KeySchema, AttributeDefinitions and BillingMode of the data stack's search index table."""
    return _table_shape(template_path, INDEX_TABLE_RESOURCE)


def _create(client: Any, table_name: str, definition: dict[str, Any], *, if_missing: bool) -> bool:
    if if_missing and table_name in _table_names(client):
        return False
    # CreateTable takes no TTL: CloudFormation sets it with UpdateTimeToLive once the table exists.
    time_to_live = definition.get("TimeToLiveSpecification")
    created = client.create_table(
        TableName=table_name, **{name: value for name, value in definition.items() if name != "TimeToLiveSpecification"}
    )
    # CreateTable answers CREATING and the table takes writes once ACTIVE (DynamoDB API Reference,
    # CreateTable). DynamoDB Local's tables are ACTIVE at once: no DescribeTable to wait for.
    if created["TableDescription"]["TableStatus"] != "ACTIVE":
        client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    if time_to_live is not None:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=time_to_live)
    return True


def _table_names(client: Any) -> set[str]:
    return {name for page in client.get_paginator("list_tables").paginate() for name in page["TableNames"]}


def create_movies_table(client: Any, table_name: str, *, if_missing: bool = True, stream: bool = True) -> bool:
    """Create the movies table from the template's definition; True if it was created.

    With ``stream=False`` it has no stream until ``enable_stream``: DynamoDB Local keeps a record
    of every write to a table with one, and every later write to a table with a stream costs it
    more CPU the more records it holds (``mvdb_local.seed``).
    """
    definition = movies_table_definition()
    if not stream:
        definition = {name: value for name, value in definition.items() if name != "StreamSpecification"}
    return _create(client, table_name, definition, if_missing=if_missing)


def create_search_index_table(client: Any, index_table_name: str, *, if_missing: bool = True) -> bool:
    """Create the search index table from the search stack's definition; True if it was created."""
    return _create(client, index_table_name, search_index_table_definition(), if_missing=if_missing)


def create_idempotency_table(client: Any, table_name: str, *, if_missing: bool = True) -> bool:
    """Create the idempotency records' table (with its TTL) from the data stack's definition; True if created."""
    return _create(client, table_name, idempotency_table_definition(), if_missing=if_missing)


def create_tables(
    client: Any, table_name: str, index_table_name: str | None = None, *, if_missing: bool = True
) -> tuple[bool, bool]:
    """The movies table and its search index table (``<table>-search-index`` unless named); which were created.

    The API's idempotency records' table is the API's own (``create_idempotency_table``), not the data's:
    a restored or loaded copy of the movies needs none.
    """
    index_table_name = index_table_name or default_search_index_table_name(table_name)
    return (
        create_movies_table(client, table_name, if_missing=if_missing),
        create_search_index_table(client, index_table_name, if_missing=if_missing),
    )


def enable_stream(client: Any, table_name: str) -> bool:
    """Switch the template's stream on for a table created before it had one; True if it was off."""
    wanted = movies_table_definition().get("StreamSpecification")
    described = client.describe_table(TableName=table_name)["Table"]
    if wanted is None or described.get("StreamSpecification", {}).get("StreamEnabled"):
        return False
    client.update_table(TableName=table_name, StreamSpecification=wanted)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    return True
