"""The table the stack deploys has the shape of the table the local stack and the tests use.

The local stack creates its table with ``mvdb_local.table.create_movies_table``; here that runs
against DynamoDB Local (in memory, free port), and what DynamoDB reports back is compared with
the table in the translated CloudFormation template: what CloudFormation will create.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.infra.cfn import Template

pytestmark = [pytest.mark.infra, pytest.mark.integration]


def _sorted(items: list[dict[str, str]], key: str) -> list[dict[str, str]]:
    return sorted(items, key=lambda item: item[key])


def _index_shapes(indexes: list[dict[str, Any]] | None) -> list[tuple[str, Any, Any]]:
    return sorted((i["IndexName"], i["KeySchema"], i["Projection"]) for i in indexes or [])


def test_template_table_shape_equals_the_local_stack_table(template: Template, dynamodb_client: Any) -> None:
    from mvdb_local.table import create_movies_table

    # GIVEN the table the local stack creates
    name = f"mvdb-shape-{uuid.uuid4().hex[:12]}"
    assert create_movies_table(dynamodb_client, name, if_missing=False)
    try:
        local = dynamodb_client.describe_table(TableName=name)["Table"]
    finally:
        dynamodb_client.delete_table(TableName=name)
    # WHEN compared with the table CloudFormation would create
    deployed = template.properties("MoviesTable")
    # THEN keys, attribute types, billing mode and indexes are the same
    assert local["KeySchema"] == deployed["KeySchema"]
    assert _sorted(local["AttributeDefinitions"], "AttributeName") == _sorted(
        deployed["AttributeDefinitions"], "AttributeName"
    )
    assert local["BillingModeSummary"]["BillingMode"] == deployed["BillingMode"] == "PAY_PER_REQUEST"
    assert _index_shapes(local.get("GlobalSecondaryIndexes")) == _index_shapes(deployed.get("GlobalSecondaryIndexes"))
    assert _index_shapes(local.get("LocalSecondaryIndexes")) == _index_shapes(deployed.get("LocalSecondaryIndexes"))
    assert [k["AttributeName"] for k in local["KeySchema"]] == ["year", "title"]
