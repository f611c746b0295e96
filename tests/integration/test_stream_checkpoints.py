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
def test_a_stack_started_unused_then_used_across_restarts_delivers_each_write_once(
    local_aws_env: dict[str, str], tmp_path: Path
) -> None:
    # make run on a new copy of the seed, stopped before any write: DynamoDB Local, started again,
    # numbers stream records on from the highest one it holds (none), below the start of the shard
    # the first start opened; it refuses such a number as a position to resume after. Three JVM
    # starts: 8-20 s.
    import boto3

    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.table import create_movies_table, enable_stream

    def one_start(write: str | None) -> list[str]:
        """A stack's start to its stop: the poller's position fixed, then ``write`` made and delivered."""
        with DynamoDBLocal(data_dir=tmp_path / "data") as dynamodb:
            client = boto3.client("dynamodb", endpoint_url=dynamodb.endpoint)
            streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb.endpoint)
            if create_movies_table(client, "movies", stream=False):  # the seed's table: loaded, no stream
                put(client, "movies", "Loaded")
            enable_stream(client, "movies")
            seen: list[str] = []
            consumer = StreamConsumer(
                "recorder", lambda event, _: seen.extend(r["dynamodb"]["Keys"]["title"]["S"] for r in event["Records"])
            )
            poller = LocalStreamPoller(
                client, streams, "movies", [consumer], starting_position="LATEST", checkpoint_dir=tmp_path / "state"
            )
            poller.poll_once()
            if write is not None:
                put(client, "movies", write)
            poller.drain()
            return seen

    assert one_start(None) == []
    assert one_start("First") == ["First"]
    assert one_start("Second") == ["Second"]
