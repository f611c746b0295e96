"""The seed database every test session and local stack starts on (``mvdb_local.seed``): the movies
table with the template's stream, and that stream empty.

No consumer is to read the load's records, and DynamoDB Local keeps every stream record in its
database: with the load's 4,609 there, each write of every test to a table with a stream cost
DynamoDB Local about three times the CPU.
"""

from __future__ import annotations

from typing import Any

import pytest

from mvdb_local.table import movies_table_definition

pytestmark = pytest.mark.integration


@pytest.fixture
def streams(dynamodb_local: Any) -> Any:
    import boto3

    return boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")


def stream_records(client: Any, streams: Any, table: str) -> int:
    """How many records the table's stream holds, from the oldest of each shard."""
    stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    count = 0
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            count += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return count


def test_the_seed_table_has_the_templates_stream_holding_none_of_the_load(
    dynamodb_client: Any, streams: Any, loaded_table: str
) -> None:
    described = dynamodb_client.describe_table(TableName=loaded_table)["Table"]

    assert described["StreamSpecification"] == movies_table_definition()["StreamSpecification"]
    assert stream_records(dynamodb_client, streams, loaded_table) == 0


def test_the_count_sees_the_records_a_write_leaves_in_a_stream(
    dynamodb_client: Any, streams: Any, movies_table: str
) -> None:
    # The check above bites: a table whose stream was on while it was written holds their records.
    for title in ("One", "Two"):
        dynamodb_client.put_item(TableName=movies_table, Item={"year": {"N": "2031"}, "title": {"S": title}})

    assert stream_records(dynamodb_client, streams, movies_table) == 2
