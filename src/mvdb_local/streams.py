"""Lambda's event source mapping for a DynamoDB stream, on this machine: polls DynamoDB Local's stream.

In AWS each consumer of the movies table's stream is a function with an event source mapping
(``infra/stacks/search.yaml`` and the root template). Here ``LocalStreamPoller`` plays that
part for DynamoDB Local and calls the *same* handlers with the *same* events:

* one event per batch of up to ``batch_size`` records of one shard, shaped as Lambda's
  (``Records`` of ``eventID``, ``eventName``, ``dynamodb`` with ``Keys``/``NewImage``/
  ``OldImage``/``SequenceNumber``/``ApproximateCreationDateTime``, ``eventSourceARN``);
  shards in order, a child only after its parent, so records of one key arrive in order;
* the partial batch response (``ReportBatchItemFailures``): the batch is checkpointed before
  the lowest failed sequence number and retried from there; an empty or unknown identifier
  fails the whole batch, as Lambda treats it;
* a handler that raises fails the batch; with ``bisect_on_error`` it is split in two and each
  half retried, which does not count as a retry (Lambda's ``BisectBatchOnFunctionError``);
* after ``maximum_retry_attempts`` retries the batch is given up: its on-failure record (the
  document Lambda sends to an SQS destination: ``DDBStreamBatchInfo``, ``requestContext``,
  ``responseContext``) goes to ``on_failure`` and polling carries on after it.

Each consumer has its own position in every shard, as two event source mappings would, so a
second consumer registered beside the first is fed independently of it. Like a mapping, it keeps
a checkpoint (``checkpoint_dir``: the sequence number of the last record processed in each shard,
one JSON file per consumer) and a poller started again resumes after it (AFTER_SEQUENCE_NUMBER),
so a restart neither replays what was processed nor misses what was written meanwhile. A
LATEST start is checkpointed at once too: the records it skipped stay skipped after a restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["DeadLetter", "LocalStreamPoller", "StreamConsumer"]

logger = logging.getLogger(__name__)
_MAX_RECORDS_PER_READ = 1000  # GetRecords' Limit at most (DynamoDB Streams API)
_MAX_FAILURE_BACKOFF_S = 5.0  # between polls that keep failing
# Lambda "polls shards in your DynamoDB stream for records at a base rate of 4 times per second"
# (AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB", "Polling and batching
# streams"); it reads on at once while records are there. Idle, polling 10 times a second cost the
# local stack twice the CPU (6.0-6.7 s against 3.1-3.3 s per 30 s, measured with both consumers).
IDLE_POLL_INTERVAL_S = 0.25

Handler = Callable[[dict[str, Any], Any], Any]
DeadLetter = Callable[[str, dict[str, Any]], None]  # (consumer name, on-failure record)


@dataclass(frozen=True)
class StreamConsumer:
    """A Lambda handler subscribed to the stream, with its event source mapping's settings.

    The defaults are the search index function's mapping (infra/template.yaml SearchIndexFunction;
    tests/infra/test_search_stack.py keeps them equal).
    """

    name: str
    handler: Handler
    batch_size: int = 100
    maximum_retry_attempts: int = 10
    bisect_on_error: bool = True


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    start: str  # where this consumer began reading it: TRIM_HORIZON or LATEST (skipped to the end)
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read, to resume after it
    processed: str | None = None  # sequence number of the last record processed (or given up): the checkpoint
    pending: list[dict[str, Any]] = field(default_factory=list)  # read, not yet processed
    closed: bool = False  # no more records will be read from it
    attempts: int = 0  # retries of the batch at the head of ``pending``
    batch_limit: int | None = None  # after a bisect: how many records the next invocation gets
    skip_through: str | None = None  # records up to this sequence number are dropped as read (see _iterator)

    @property
    def finished(self) -> bool:
        return self.closed and not self.pending


@dataclass
class _Position:
    """One consumer's view of the stream: its shards and where it is in each."""

    consumer: StreamConsumer
    shards: dict[str, _Shard] = field(default_factory=dict)
    checkpoint_file: Path | None = None
    resumed: dict[str, str] | None = None  # the checkpoint it started from: shard ID -> sequence number


def _read_checkpoint(path: Path, stream_arn: str) -> dict[str, str] | None:
    """The checkpoint kept in ``path`` for ``stream_arn``, or None (none kept, or one of another stream)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if document.get("streamArn") != stream_arn:  # the table was created again: a new stream
        return None
    shards: dict[str, str] = document["shards"]
    return shards


def _write_checkpoint(path: Path, stream_arn: str, shards: dict[str, str]) -> None:
    """Replace ``path`` atomically: a poller killed mid-write leaves the previous checkpoint whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"streamArn": stream_arn, "shards": shards}, indent=1), encoding="utf-8")
    os.replace(temporary, path)


class LocalStreamPoller:
    """Feeds ``consumers`` the stream of the DynamoDB Local table ``table_name``, as Lambda would.

    ``starting_position`` is TRIM_HORIZON (every record the stream still holds) or LATEST (only
    records written after the poller first sees the shard); it applies to a consumer without a
    checkpoint for this stream in ``checkpoint_dir`` (``<dir>/<consumer name>.json``). A consumer
    with one resumes after it, and reads shards it does not know from their oldest record (they
    began after it). ``start()`` polls in a thread every
    ``poll_interval_s`` while idle; ``drain()`` polls in the caller's thread until the consumers
    have processed every record written before it was called.
    """

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        consumers: list[StreamConsumer],
        *,
        starting_position: str = "TRIM_HORIZON",
        on_failure: DeadLetter | None = None,
        poll_interval_s: float = IDLE_POLL_INTERVAL_S,
        region: str = "us-east-1",
        checkpoint_dir: Path | None = None,
    ) -> None:
        self._streams = streams
        self._stream_arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._positions = []
        for consumer in consumers:
            checkpoint_file = checkpoint_dir / f"{consumer.name}.json" if checkpoint_dir is not None else None
            resumed = _read_checkpoint(checkpoint_file, self._stream_arn) if checkpoint_file is not None else None
            self._positions.append(_Position(consumer, checkpoint_file=checkpoint_file, resumed=resumed))
        self._starting_position = starting_position
        self._on_failure = on_failure or _log_dead_letter
        self.given_up: list[tuple[str, dict[str, Any]]] = []  # (consumer, on-failure record) of each batch
        self._poll_interval_s = poll_interval_s
        self._region = region
        self._first_listing = True
        self._lock = threading.Lock()  # one poll at a time: the thread's or a drain's
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stream_arn(self) -> str:
        return self._stream_arn

    # -- running -------------------------------------------------------------------------

    def start(self) -> LocalStreamPoller:
        self._discover_shards()  # fix the starting position now, not whenever the thread first runs
        self._thread = threading.Thread(target=self._run, name="local-stream-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        failures = 0  # in a row
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as error:  # keep polling, as Lambda's poller would; the log says what went wrong
                if self._stop.is_set():
                    return  # stopping: the endpoint may be gone already (DynamoDB Local stops with the stack)
                failures += 1
                delay = min(self._poll_interval_s * 2**failures, _MAX_FAILURE_BACKOFF_S)
                # One line per failure; the traceback with the first of a run of them only, not a flood.
                logger.error(
                    "local stream poller: polling failed (%d in a row): %s; retrying in %.1f s",
                    failures,
                    error,
                    delay,
                    exc_info=failures == 1,
                )
                self._stop.wait(delay)
                continue
            if failures:
                logger.warning("local stream poller: polling works again after %d failures", failures)
                failures = 0
            if not busy:
                self._stop.wait(self._poll_interval_s)

    def drain(self, timeout_s: float = 120.0) -> None:
        """Poll until every record the stream held when called has been processed (or given up)."""
        deadline = time.monotonic() + timeout_s
        quiet_passes = 0
        while quiet_passes < 2:  # an empty read can precede records: make sure twice
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stream consumers did not catch up within {timeout_s:.0f} s")
            quiet_passes = 0 if self.poll_once() else quiet_passes + 1

    def poll_once(self) -> bool:
        """One pass over every consumer and shard: read, invoke, checkpoint. True if there was work."""
        with self._lock:
            self._discover_shards()
            busy = False
            for position in self._positions:
                for shard in self._ready(position):
                    busy |= self._poll_shard(position, shard)
            return busy

    # -- shards --------------------------------------------------------------------------

    def _discover_shards(self) -> None:
        described: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            described += description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        first_listing, self._first_listing = self._first_listing, False
        for position in self._positions:
            # A shard found later, or unknown to the checkpoint, began after the start: read all of it.
            start = self._starting_position if first_listing and position.resumed is None else "TRIM_HORIZON"
            skipped = False
            for shard in described:
                shard_id = shard["ShardId"]
                if shard_id in position.shards:
                    continue
                shard_state = _Shard(shard_id, shard.get("ParentShardId"), start)
                position.shards[shard_id] = shard_state
                if start == "LATEST":
                    self._skip_to_end(shard_state)
                    skipped = True
                    continue
                if first_listing and position.resumed is not None:
                    shard_state.last_read = shard_state.processed = position.resumed.get(shard_id)
            if skipped:
                self._save_checkpoint(position)

    def _skip_to_end(self, shard: _Shard) -> None:
        """Position ``shard`` after its last record, with that record's sequence number as the checkpoint.

        LATEST, with a position a checkpoint can keep (a LATEST iterator has no sequence number).
        Reads from the oldest record until a read returns none, as DynamoDB Local's shards have no
        empty stretches. A shard found empty is read from its oldest record from then on
        (``_poll_shard``): whatever it comes to hold was written after the start.
        """
        iterator: str | None = self._iterator(_Shard(shard.shard_id, shard.parent_id, "TRIM_HORIZON"))
        while iterator is not None:
            response = self._streams.get_records(ShardIterator=iterator, Limit=_MAX_RECORDS_PER_READ)
            records = response.get("Records", [])
            if records:
                shard.last_read = shard.processed = records[-1]["dynamodb"]["SequenceNumber"]
            iterator = response.get("NextShardIterator")
            if not records:
                break
        shard.iterator, shard.closed = iterator, iterator is None
        shard.start = "TRIM_HORIZON"  # with nothing read, whatever it holds from now on came after the start

    def _save_checkpoint(self, position: _Position) -> None:
        if position.checkpoint_file is None:
            return
        shards = {shard.shard_id: shard.processed for shard in position.shards.values() if shard.processed}
        _write_checkpoint(position.checkpoint_file, self._stream_arn, shards)

    def _iterator(self, shard: _Shard) -> str:
        """A shard iterator after the last record read there, or at the shard's start for this consumer."""
        where: dict[str, str] = {"ShardIteratorType": shard.start}
        if shard.last_read is not None:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_read}
        try:
            iterator: str = self._streams.get_shard_iterator(
                StreamArn=self._stream_arn, ShardId=shard.shard_id, **where
            )["ShardIterator"]
            return iterator
        except ClientError as error:
            if shard.last_read is None or error.response.get("Error", {}).get("Code") != "ValidationException":
                raise
        # DynamoDB Local refuses ("Invalid SequenceNumber for the shard") a record it numbered below the
        # shard's StartingSequenceNumber (see _poll_shard). Sequence numbers grow within a shard: the
        # oldest record on, less those up to the last one read, is what AFTER_SEQUENCE_NUMBER means.
        shard.skip_through = shard.last_read
        oldest: str = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return oldest

    def _ready(self, position: _Position) -> list[_Shard]:
        """Shards to read now: not finished, and their parent (if this poller knows it) finished first."""
        ready = []
        for shard in position.shards.values():
            parent = position.shards.get(shard.parent_id or "")
            if not shard.finished and (parent is None or parent.finished):
                ready.append(shard)
        return ready

    def _poll_shard(self, position: _Position, shard: _Shard) -> bool:
        consumer = position.consumer
        if not shard.pending and not shard.closed:
            if shard.iterator is None or shard.last_read is None:
                # Until a shard yields its first record, each read starts from a TRIM_HORIZON iterator
                # taken then: in AWS as good as the first one (the oldest record of a shard where this
                # consumer has read nothing), and the only one that works on DynamoDB Local when it
                # numbers records below the shard's StartingSequenceNumber. It does so after a restart
                # when the stream was enabled after writes: it carries on from the highest sequence
                # number its stream records hold, so an iterator taken while the shard was empty
                # (a TRIM_HORIZON, a LATEST, or the next one of an empty read) never sees them.
                shard.iterator = self._iterator(shard)
            try:
                response = self._streams.get_records(ShardIterator=shard.iterator, Limit=consumer.batch_size)
            except self._streams.exceptions.ExpiredIteratorException:
                # An iterator lives 15 minutes unused (DynamoDB Streams API): take a new one where we were.
                shard.iterator = self._iterator(shard)
                return True
            except self._streams.exceptions.TrimmedDataAccessException:
                # The position is older than the oldest record the shard holds (DynamoDB Streams API,
                # GetRecords). DynamoDB Local also says so for a LATEST iterator taken on a new, empty
                # shard once the first record arrives (aws/aws-sdk-java#2923). Go on from the oldest
                # record left, as Lambda's poller moves past what the stream no longer holds.
                logger.warning(
                    "local stream poller: %s read from the oldest record of %s", consumer.name, shard.shard_id
                )
                shard.start, shard.last_read = "TRIM_HORIZON", None
                shard.iterator = self._iterator(shard)
                return True
            records = response.get("Records", [])
            if shard.skip_through is not None:
                read_before = int(shard.skip_through)
                records = [record for record in records if int(record["dynamodb"]["SequenceNumber"]) > read_before]
                shard.skip_through = None if records else shard.skip_through
            shard.pending = [self._lambda_record(record) for record in records]
            if shard.pending:
                shard.last_read = shard.pending[-1]["dynamodb"]["SequenceNumber"]
            shard.iterator = response.get("NextShardIterator")
            shard.closed = shard.iterator is None
        if not shard.pending:
            return False
        done_before = shard.processed
        self._invoke(consumer, shard)
        if shard.processed != done_before:
            self._save_checkpoint(position)
        return True

    # -- invoking ------------------------------------------------------------------------

    def _invoke(self, consumer: StreamConsumer, shard: _Shard) -> None:
        batch = shard.pending[: shard.batch_limit or consumer.batch_size]
        context = _Context(consumer.name)
        try:
            response = consumer.handler({"Records": batch}, context)
        except Exception:
            logger.warning("local stream poller: %s failed a batch of %d", consumer.name, len(batch), exc_info=True)
            if consumer.bisect_on_error and len(batch) > 1:
                shard.batch_limit = len(batch) // 2  # a split is not a retry
                return
            self._retry_or_give_up(consumer, shard, batch, context, function_error="Unhandled")
            return
        failed_at = _first_failure(batch, response)
        if failed_at is None:
            _done(shard, batch)
            shard.attempts, shard.batch_limit = 0, None
            return
        # Checkpoint before the first failed record; retry from it.
        _done(shard, batch[:failed_at])
        retried = batch[failed_at:]
        if consumer.bisect_on_error and failed_at > 0:
            shard.batch_limit = len(retried)
        self._retry_or_give_up(consumer, shard, retried, context, function_error=None)

    def _retry_or_give_up(
        self,
        consumer: StreamConsumer,
        shard: _Shard,
        batch: list[dict[str, Any]],
        context: _Context,
        *,
        function_error: str | None,
    ) -> None:
        shard.attempts += 1
        if shard.attempts <= consumer.maximum_retry_attempts:
            time.sleep(min(0.05 * 2**shard.attempts, 1.0))
            return
        record = self._on_failure_record(shard, batch, context, function_error)
        self.given_up.append((consumer.name, record))
        self._on_failure(consumer.name, record)
        _done(shard, batch)
        shard.attempts, shard.batch_limit = 0, None

    def _on_failure_record(
        self, shard: _Shard, batch: list[dict[str, Any]], context: _Context, function_error: str | None
    ) -> dict[str, Any]:
        """What Lambda sends an on-failure destination for a batch it gave up on (records not included)."""
        arrivals = [record["dynamodb"]["ApproximateCreationDateTime"] for record in batch]
        return {
            "requestContext": {
                "requestId": context.aws_request_id,
                "functionArn": context.invoked_function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": shard.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": function_error} if function_error else {}),
            },
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(min(arrivals)),
                "approximateArrivalOfLastRecord": _iso(max(arrivals)),
                "batchSize": len(batch),
                "streamArn": self._stream_arn,
            },
        }

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record of GetRecords as Lambda puts it in an event (epoch seconds, the stream's ARN)."""
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": dynamodb,
            "eventSourceARN": self._stream_arn,
        }


def _done(shard: _Shard, records: list[dict[str, Any]]) -> None:
    """``records`` (the head of ``shard.pending``) are processed or given up: past the checkpoint."""
    if records:
        del shard.pending[: len(records)]
        shard.processed = records[-1]["dynamodb"]["SequenceNumber"]


def _first_failure(batch: list[dict[str, Any]], response: Any) -> int | None:
    """Where Lambda would checkpoint: the index of the lowest failed record; 0 for a malformed response."""
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in positions:
            return 0  # Lambda: an empty, null or unknown identifier fails the whole batch
        indexes.append(positions[identifier])
    return min(indexes)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _log_dead_letter(consumer: str, record: dict[str, Any]) -> None:
    info = record["DDBStreamBatchInfo"]
    logger.error(
        "local stream poller: %s gave up on %d records (%s..%s); run `mvdb reindex` to repair",
        consumer,
        info["batchSize"],
        info["startSequenceNumber"],
        info["endSequenceNumber"],
    )


class _Context:
    """The attributes of Lambda's context object that Powertools reads."""

    function_version = "$LATEST"
    memory_limit_in_mb = 512

    def __init__(self, function_name: str, timeout_s: float = 60.0) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# -- one consumer per process, as each is a Lambda function of its own in AWS -------------------------

# Every consumer of the movies table's stream: its name and its Lambda handler ("module:function").
# The local stack runs one poller process per entry, with the event source mapping's settings.
CONSUMERS: dict[str, str] = {
    "search-indexer": "mvdb.streams.search_indexer:lambda_handler",
    "audit-trail": "mvdb.streams.audit_trail:lambda_handler",
}


def _handler(reference: str) -> Handler:
    import importlib

    module, _, function = reference.partition(":")
    handler: Handler = getattr(importlib.import_module(module), function)
    return handler


def main(argv: list[str] | None = None) -> int:
    """``python -m mvdb_local.streams --consumer NAME ...``: poll the table's stream for one consumer until stopped.

    Its own process, so its handler has its own Powertools logger and metrics and its own
    settings, as a function of its own has in AWS. Reads ``TABLE_NAME`` and
    ``AWS_ENDPOINT_URL_DYNAMODB`` from the environment. Creates ``--ready-file`` once it has its
    starting position, appends each batch it gives up on to ``--dead-letters`` (JSON lines), and
    keeps its checkpoint in ``--checkpoint-dir`` when given.
    """
    import argparse
    import json
    import signal
    from pathlib import Path

    import boto3
    from botocore.config import Config

    parser = argparse.ArgumentParser(prog="python -m mvdb_local.streams", description=main.__doc__)
    parser.add_argument("--consumer", required=True, choices=sorted(CONSUMERS))
    parser.add_argument("--starting-position", choices=["TRIM_HORIZON", "LATEST"], default="TRIM_HORIZON")
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--dead-letters", type=Path, required=True)
    parser.add_argument("--checkpoint-dir", type=Path, help="keep the checkpoint here and resume after it")
    args = parser.parse_args(argv)

    def keep(consumer: str, record: dict[str, Any]) -> None:
        _log_dead_letter(consumer, record)
        with args.dead_letters.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"consumer": consumer, **record}) + "\n")

    endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    # The poll loop retries with its own back-off: an SDK's long retry ladder (DynamoDB's: 10 attempts)
    # against a DynamoDB Local that has stopped would only keep a stopping poller waiting.
    config = Config(connect_timeout=2, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})
    poller = LocalStreamPoller(
        boto3.client("dynamodb", endpoint_url=endpoint, config=config),
        boto3.client("dynamodbstreams", endpoint_url=endpoint, config=config),
        os.environ["TABLE_NAME"],
        [StreamConsumer(args.consumer, _handler(CONSUMERS[args.consumer]))],
        starting_position=args.starting_position,
        on_failure=keep,
        checkpoint_dir=args.checkpoint_dir,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    # A SIGINT ignored at the start stays ignored (the Unix convention: a shell starts a script's
    # background jobs so, and the stack's own process then ignores it too, as Python does); else
    # a `kill -INT` to the group would end the pollers alone and the stack would report them ended.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
    poller.start()
    args.ready_file.touch()
    stopped.wait()
    poller.stop()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
