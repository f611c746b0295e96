"""The local poller's checkpoints on DynamoDB Local's own stream: a restart resumes where processing stopped.

As Lambda's event source mapping keeps a position per shard; the poller's rules themselves are
specified against a stand-in stream in tests/unit/local/test_stream_poller.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mvdb_local.streams import LocalStreamPoller, StreamConsumer

pytestmark = pytest.mark.integration


@pytest.fixture
def streams(dynamodb_local: Any) -> Any:
    import boto3

    return boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")


def put(client: Any, table: str, title: str) -> None:
    client.put_item(TableName=table, Item={"year": {"N": "2031"}, "title": {"S": title}})


def titles_delivered(client: Any, streams: Any, table: str, checkpoints: Path, starting_position: str) -> list[str]:
    """The titles one poller run (a stack's start to its stop) hands its consumer."""
    seen: list[str] = []
    consumer = StreamConsumer(
        "recorder", lambda event, _: seen.extend(r["dynamodb"]["Keys"]["title"]["S"] for r in event["Records"])
    )
    LocalStreamPoller(
        client, streams, table, [consumer], starting_position=starting_position, checkpoint_dir=checkpoints
    ).drain()
    return seen


def test_a_poller_started_again_delivers_only_what_was_written_after_its_checkpoint(
    make_table: Any, dynamodb_client: Any, streams: Any, tmp_path: Path
) -> None:
    table = make_table(stream=True)
    put(dynamodb_client, table, "Seeded")  # GIVEN a record already in the stream at the first start
    assert titles_delivered(dynamodb_client, streams, table, tmp_path, "LATEST") == []
    put(dynamodb_client, table, "First")
    assert titles_delivered(dynamodb_client, streams, table, tmp_path, "LATEST") == ["First"]
    put(dynamodb_client, table, "Second")
    assert titles_delivered(dynamodb_client, streams, table, tmp_path, "LATEST") == ["Second"]


def test_latest_on_a_stream_with_no_records_yet_delivers_the_first_write(
    make_table: Any, dynamodb_client: Any, streams: Any, tmp_path: Path
) -> None:
    # DynamoDB Local refuses records to a LATEST iterator taken on a new, empty shard (aws/aws-sdk-java#2923).
    table = make_table(stream=True)
    seen: list[str] = []
    consumer = StreamConsumer(
        "recorder", lambda event, _: seen.extend(r["dynamodb"]["Keys"]["title"]["S"] for r in event["Records"])
    )
    poller = LocalStreamPoller(dynamodb_client, streams, table, [consumer], starting_position="LATEST")
    poller.poll_once()
    put(dynamodb_client, table, "First")
    poller.drain()
    assert seen == ["First"]


@pytest.mark.slow
def test_a_stream_enabled_after_writes_delivers_what_is_written_after_a_restart(
    local_aws_env: dict[str, str], tmp_path: Path
) -> None:
    # After a restart DynamoDB Local numbers stream records on from the highest one it holds: here
    # none, so below the start of the shard opened after the writes. Two JVM starts: 5-15 s.
    import boto3

    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.table import movies_table_definition

    definition = movies_table_definition()
    without_stream = {name: value for name, value in definition.items() if name != "StreamSpecification"}
    with DynamoDBLocal(data_dir=tmp_path) as dynamodb:  # GIVEN a table loaded, then its stream enabled
        client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
        client.create_table(TableName="movies", **without_stream)
        put(client, "movies", "Loaded")
        client.update_table(TableName="movies", StreamSpecification=definition["StreamSpecification"])
    with DynamoDBLocal(data_dir=tmp_path) as dynamodb:  # WHEN started again, a poller at LATEST, then a write
        client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
        streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb.endpoint)
        seen: list[str] = []
        consumer = StreamConsumer(
            "recorder", lambda event, _: seen.extend(r["dynamodb"]["Keys"]["title"]["S"] for r in event["Records"])
        )
        poller = LocalStreamPoller(client, streams, "movies", [consumer], starting_position="LATEST")
        poller.poll_once()
        put(client, "movies", "Written After The Start")
        poller.drain()
    assert seen == ["Written After The Start"]
