"""The local stream poller plays Lambda's event source mapping: batches, partial failures, bisecting, giving up.

A stream of one shard with six records stands in for DynamoDB Local's (the poller is run against
the real one in tests/integration/test_search_index.py); the handler is a recording function.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models.dynamodb import DynamoDBStreamLambdaOnFailureDestinationModel
from botocore.exceptions import ClientError, EndpointConnectionError

from mvdb_local.streams import LocalStreamPoller, StreamConsumer

STREAM_ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/movies/stream/2026-11-30T00:00:00.000"


def record(n: int) -> dict[str, Any]:
    return {
        "eventID": f"event-{n}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 11, 30, 12, 0, n, tzinfo=UTC),
            "Keys": {"year": {"N": "2013"}, "title": {"S": f"Movie {n}"}},
            "SequenceNumber": f"{n:021d}",
            "SizeBytes": 50,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


class FakeStreams:
    """One open shard holding ``records``; GetRecords serves them in order, ``limit`` at a time."""

    class exceptions:
        ExpiredIteratorException = type("ExpiredIteratorException", (ClientError,), {})
        TrimmedDataAccessException = type("TrimmedDataAccessException", (ClientError,), {})

    def __init__(
        self,
        records: list[dict[str, Any]],
        expire_once: bool = False,
        trim_once: bool = False,
        blind_while_empty: bool = False,
        first_sequence_number: int = 0,
    ) -> None:
        self.records = records
        self.expire_once = expire_once
        self.trim_once = trim_once
        # DynamoDB Local after a restart, on a stream enabled after writes: records are numbered below
        # the shard's start, and an iterator handed out while the shard is empty never returns them.
        self.blind_while_empty = blind_while_empty
        # DynamoDB Local refuses AFTER_SEQUENCE_NUMBER for a record numbered below the shard's start.
        self.first_sequence_number = first_sequence_number

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, ShardIteratorType: str, SequenceNumber: str = "", **_: Any) -> dict[str, Any]:
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            if int(SequenceNumber) < self.first_sequence_number:
                raise ClientError({"Error": {"Code": "ValidationException"}}, "GetShardIterator")
            return {"ShardIterator": str(int(SequenceNumber) + 1)}
        if self.blind_while_empty and not self.records:
            return {"ShardIterator": "blind"}
        return {"ShardIterator": "0" if ShardIteratorType == "TRIM_HORIZON" else str(len(self.records))}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        if self.trim_once:
            self.trim_once = False
            raise self.exceptions.TrimmedDataAccessException(
                {"Error": {"Code": "TrimmedDataAccessException"}}, "GetRecords"
            )
        if self.expire_once and ShardIterator != "0":
            self.expire_once = False
            raise self.exceptions.ExpiredIteratorException(
                {"Error": {"Code": "ExpiredIteratorException"}}, "GetRecords"
            )
        if ShardIterator == "blind":
            return {"Records": [], "NextShardIterator": "blind"}
        start = int(ShardIterator)
        records = self.records[start : start + Limit]
        return {"Records": records, "NextShardIterator": str(start + len(records))}


class FakeTable:
    def __init__(self, stream_arn: str = STREAM_ARN) -> None:
        self.stream_arn = stream_arn

    def describe_table(self, **_: Any) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": self.stream_arn}}


def poller(handler: Any, records: int = 6, expire_once: bool = False, **settings: Any) -> LocalStreamPoller:
    consumer = StreamConsumer("indexer", handler, **settings)
    streams = FakeStreams([record(n) for n in range(records)], expire_once)
    return LocalStreamPoller(FakeTable(), streams, "movies", [consumer], on_failure=lambda *_: None)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mvdb_local.streams.time.sleep", lambda _seconds: None)


def sequence(event: dict[str, Any]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]


def test_records_arrive_in_lambda_shaped_batches_in_order() -> None:
    seen: list[dict[str, Any]] = []
    poller(lambda event, _: seen.append(event) or {"batchItemFailures": []}, batch_size=4).drain()
    assert [sequence(event) for event in seen] == [[0, 1, 2, 3], [4, 5]]
    first = seen[0]["Records"][0]
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventSourceARN"] == STREAM_ARN
    assert first["dynamodb"]["ApproximateCreationDateTime"] == datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC).timestamp()


def test_a_reported_failure_is_retried_from_that_record_on() -> None:
    seen: list[list[int]] = []

    def fails_record_2_once(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.append(sequence(event))
        failing = [r for r in event["Records"] if r["dynamodb"]["SequenceNumber"] == f"{2:021d}"]
        if failing and len(seen) == 1:
            return {"batchItemFailures": [{"itemIdentifier": failing[0]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    poller(fails_record_2_once).drain()
    assert seen == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5]]


@pytest.mark.parametrize("identifier", ["", None, "not-in-the-batch"])
def test_an_empty_or_unknown_item_identifier_fails_the_whole_batch(identifier: str | None) -> None:
    seen: list[list[int]] = []

    def malformed_once(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.append(sequence(event))
        return {"batchItemFailures": [{"itemIdentifier": identifier}] if len(seen) == 1 else []}

    poller(malformed_once).drain()
    assert seen == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]


def test_a_handler_that_raises_has_its_batch_bisected_until_the_bad_record_is_alone_and_given_up() -> None:
    seen: list[list[int]] = []

    def raises_on_record_4(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen.append(sequence(event))
        if 4 in sequence(event):
            raise RuntimeError("poison")
        return {"batchItemFailures": []}

    stream = poller(raises_on_record_4, maximum_retry_attempts=2)
    stream.drain()
    assert seen[:3] == [[0, 1, 2, 3, 4, 5], [0, 1, 2], [3, 4, 5]]
    assert [4] in seen and seen[-1] == [5]
    [(consumer, given_up)] = stream.given_up
    failure = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(given_up)
    assert consumer == "indexer"
    assert (failure.ddb_stream_batch_info.start_sequence_number, failure.ddb_stream_batch_info.batch_size) == (
        f"{4:021d}",
        1,
    )
    assert (failure.request_context.condition, failure.response_context.function_error) == (
        "RetryAttemptsExhausted",
        "Unhandled",
    )


def test_an_expired_iterator_is_replaced_after_the_last_record_read() -> None:
    seen: list[list[int]] = []
    poller(lambda event, _: seen.append(sequence(event)) or {}, batch_size=3, expire_once=True).drain()
    assert seen == [[0, 1, 2], [3, 4, 5]]


def test_a_trimmed_position_reads_on_from_the_oldest_record_left() -> None:
    # As for a checkpoint older than the stream's 24 hours, or DynamoDB Local's LATEST iterator on a new shard.
    seen: list[list[int]] = []
    consumer = StreamConsumer("indexer", lambda event, _: seen.append(sequence(event)) or {})
    streams = FakeStreams([record(n) for n in range(6)], trim_once=True)
    LocalStreamPoller(FakeTable(), streams, "movies", [consumer]).drain()
    assert seen == [[0, 1, 2, 3, 4, 5]]


def recording(seen: list[list[int]]) -> StreamConsumer:
    return StreamConsumer("indexer", lambda event, _: seen.append(sequence(event)) or {})


def test_latest_starts_after_the_records_the_stream_holds() -> None:
    seen: list[list[int]] = []
    streams = FakeStreams([record(n) for n in range(6)])
    stream = LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], starting_position="LATEST")
    stream.start().stop()
    streams.records.append(record(6))
    stream.drain()
    assert seen == [[6]]


@pytest.mark.parametrize("start", ["LATEST", "TRIM_HORIZON"])
def test_a_shard_empty_at_the_start_delivers_the_records_written_to_it_later(start: str) -> None:
    # Whatever iterator the start took must not decide: DynamoDB Local can hand out one that never
    # sees the records written after it (blind_while_empty, measured after a restart).
    seen: list[list[int]] = []
    streams = FakeStreams([], blind_while_empty=True)
    stream = LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], starting_position=start)
    stream.start().stop()
    stream.poll_once()  # an empty read before the first write
    streams.records += [record(0), record(1)]
    stream.drain()
    streams.records.append(record(2))
    stream.drain()
    assert seen == [[0, 1], [2]]


def test_a_checkpoint_the_stream_refuses_to_resume_after_is_resumed_after_all_the_same(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    streams = FakeStreams([record(n) for n in range(3)], first_sequence_number=5)
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    streams.records += [record(3), record(4)]
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    assert seen == [[0, 1, 2], [3, 4]]


def test_a_restarted_poller_resumes_after_the_last_record_its_consumer_processed(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    streams = FakeStreams([record(n) for n in range(6)])
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    streams.records += [record(6), record(7)]
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    assert seen == [[0, 1, 2, 3, 4, 5], [6, 7]]


def test_a_restart_after_a_latest_start_replays_none_of_the_records_it_skipped(tmp_path: Path) -> None:
    # The local stack's first start on its seed: the load's records are no client's writes.
    seen: list[list[int]] = []
    streams = FakeStreams([record(n) for n in range(6)])
    for start in ("LATEST", "TRIM_HORIZON"):  # the checkpoint, not the starting position, decides on a restart
        LocalStreamPoller(
            FakeTable(), streams, "movies", [recording(seen)], starting_position=start, checkpoint_dir=tmp_path
        ).drain()
    assert seen == []


def test_a_batch_read_but_not_processed_before_a_restart_is_delivered_after_it(tmp_path: Path) -> None:
    seen: list[list[int]] = []

    def down(event: dict[str, Any], _: Any) -> dict[str, Any]:
        raise RuntimeError("down")

    streams = FakeStreams([record(n) for n in range(6)])
    unlucky = StreamConsumer("indexer", down, bisect_on_error=False)
    LocalStreamPoller(FakeTable(), streams, "movies", [unlucky], checkpoint_dir=tmp_path).poll_once()
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    assert seen == [[0, 1, 2, 3, 4, 5]]


def test_a_checkpoint_of_another_stream_is_not_resumed(tmp_path: Path) -> None:
    # The table was deleted and created again: its new stream's sequence numbers are not the old one's.
    seen: list[list[int]] = []
    streams = FakeStreams([record(n) for n in range(6)])
    LocalStreamPoller(FakeTable(), streams, "movies", [recording(seen)], checkpoint_dir=tmp_path).drain()
    LocalStreamPoller(
        FakeTable("arn:aws:dynamodb:ddblocal:000000000000:table/movies/stream/2026-12-01T00:00:00.000"),
        streams,
        "movies",
        [recording(seen)],
        checkpoint_dir=tmp_path,
    ).drain()
    assert seen == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]]


def test_each_consumer_reads_the_stream_on_its_own() -> None:
    seen: dict[str, list[list[int]]] = {"a": [], "b": []}
    consumers = [
        StreamConsumer("a", lambda event, _: seen["a"].append(sequence(event)) or {}),
        StreamConsumer("b", lambda event, _: (_ for _ in ()).throw(RuntimeError("down")), maximum_retry_attempts=0),
    ]
    stream = LocalStreamPoller(FakeTable(), FakeStreams([record(n) for n in range(6)]), "movies", consumers)
    stream.drain()
    assert seen["a"] == [[0, 1, 2, 3, 4, 5]]  # b's failures hold back nothing of a's
    assert all(name == "b" for name, _ in stream.given_up)


class UnreachableStreams(FakeStreams):
    """A stream whose endpoint refuses connections once ``gone`` is set (DynamoDB Local stopped or died)."""

    def __init__(self, release: threading.Event | None = None) -> None:
        super().__init__([record(n) for n in range(6)])
        self.gone = threading.Event()
        self.release = release  # when given, a poll blocks until it is set, then fails
        self.in_flight = threading.Event()

    def describe_stream(self, **kwargs: Any) -> dict[str, Any]:
        if self.gone.is_set():
            if self.release is not None:
                self.in_flight.set()
                self.release.wait()
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:8001/")
        return super().describe_stream(**kwargs)


def polling_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mvdb_local.streams" and r.levelno >= logging.ERROR]


def test_a_poll_that_keeps_failing_is_logged_a_line_each_a_traceback_once_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    streams = UnreachableStreams()
    stream = LocalStreamPoller(FakeTable(), streams, "movies", [recording([])], poll_interval_s=0.01).start()
    streams.gone.set()
    # 60 polls at the poll interval; with the back-off (0.02 s, doubling) 5 or 6. (time.sleep is patched out here.)
    threading.Event().wait(0.6)
    stream.stop()

    failures = polling_failures(caplog)
    assert 2 <= len(failures) <= 8, [r.getMessage() for r in failures]
    assert all("Could not connect to the endpoint URL" in r.getMessage() for r in failures)
    assert [bool(r.exc_info) for r in failures] == [True] + [False] * (len(failures) - 1)


def test_a_poller_stopped_while_its_endpoint_goes_away_stops_at_once_and_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The stack stops: DynamoDB Local may be gone before the poller's last poll returns.
    release = threading.Event()
    streams = UnreachableStreams(release)
    stream = LocalStreamPoller(FakeTable(), streams, "movies", [recording([])], poll_interval_s=0.01).start()
    streams.gone.set()
    assert streams.in_flight.wait(5)
    threading.Timer(0.2, release.set).start()  # the poll in flight fails after the stop was asked for

    started = time.monotonic()
    stream.stop()

    assert time.monotonic() - started < 2.0
    assert polling_failures(caplog) == []


class CountingStreams(FakeStreams):
    def __init__(self) -> None:
        super().__init__([])
        self.reads = 0

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.reads += 1
        return super().get_records(ShardIterator, Limit)


def test_an_idle_poller_reads_a_shard_no_more_often_than_lambda_does() -> None:
    # Lambda polls a DynamoDB stream's shards at a base rate of 4 times a second (its Developer Guide).
    # A loaded machine can only make the poller slower, never faster, so the bound holds under load.
    streams = CountingStreams()
    stream = LocalStreamPoller(FakeTable(), streams, "movies", [recording([])]).start()
    threading.Event().wait(1.0)
    stream.stop()

    assert 1 <= streams.reads <= 5
