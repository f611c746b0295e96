"""The deployed resources are the ones the template describes: table shape, backups, the live alias.

Checked through the AWS APIs after a deploy. Against the local stack all three are skipped,
each saying where else it is proved: the local table is made from the template's definition, so
comparing the two would prove nothing.
"""

from __future__ import annotations

import pytest

from mvdb_local.table import movies_table_definition
from tests.e2e.support import StackUnderTest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _key_attributes(definitions: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(d["AttributeName"], d["AttributeType"]) for d in definitions}


def test_table_key_schema_matches_the_template(stack: StackUnderTest) -> None:
    if not stack.on_aws:
        pytest.skip("the local stack makes its table from this very definition; the key is asserted offline")
    expected = movies_table_definition()

    table = stack.aws_client("dynamodb").describe_table(TableName=stack.outputs["TableName"])["Table"]

    assert table["KeySchema"] == expected["KeySchema"]
    assert _key_attributes(table["AttributeDefinitions"]) == _key_attributes(expected["AttributeDefinitions"])
    assert table.get("BillingModeSummary", {}).get("BillingMode") == expected["BillingMode"]
    indexes = {index["IndexName"]: index["KeySchema"] for index in table.get("GlobalSecondaryIndexes", [])}
    assert indexes == {index["IndexName"]: index["KeySchema"] for index in expected.get("GlobalSecondaryIndexes", [])}


def test_table_has_point_in_time_recovery(stack: StackUnderTest) -> None:
    if not stack.on_aws:
        pytest.skip("DynamoDB Local has no point-in-time recovery; the template's setting is asserted offline")

    backups = stack.aws_client("dynamodb").describe_continuous_backups(TableName=stack.outputs["TableName"])

    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_idempotency_records_expire_by_the_ttl_attribute_powertools_writes(stack: StackUnderTest) -> None:
    if not stack.on_aws:
        pytest.skip("the local table is made from the template's definition, TTL included (tests/infra)")

    described = stack.aws_client("dynamodb").describe_time_to_live(TableName=stack.outputs["IdempotencyTableName"])

    ttl = described["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")


def test_live_alias_serves_only_the_newest_published_version(stack: StackUnderTest) -> None:
    if not stack.on_aws:
        pytest.skip("the local stack calls the handler in-process: it has no Lambda versions or aliases")
    lambda_client = stack.aws_client("lambda")
    function_name = stack.outputs["FunctionName"]

    alias = lambda_client.get_alias(FunctionName=function_name, Name="live")
    pages = lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function_name)
    published = [int(v["Version"]) for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]

    assert alias["AliasArn"] == stack.outputs["FunctionAliasArn"]
    assert alias["FunctionVersion"] == str(max(published))
    # A finished deploy has shifted all traffic: no weight left on an older version.
    assert not alias.get("RoutingConfig", {}).get("AdditionalVersionWeights")
