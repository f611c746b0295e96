"""One DynamoDB Local for a whole pytest-xdist run, instead of one JVM per worker.

With ``--shared-dynamodb-local`` (the Makefile's test targets pass it) the xdist controller, the
one process that lives from the first worker to the last, starts DynamoDB Local before the
workers start and hands its endpoint to each of them (``workerinput``). It starts in a thread
of the controller while the workers import and collect; a worker waits for it only when a test
first asks for a table. The JVM is the controller's child and dies with it
(``mvdb_local.dynamodb_local``: PR_SET_PDEATHSIG), so no worker's exit, crash or early finish can
stop it under another worker's feet (the controller's thread that starts it lives until the run ends).

It starts on a throw-away copy of the seed database (``mvdb_local.seed``), built first when the
data or the code that shapes its items changed: the one read-only table holding all 4,609 movies,
indexed, is there from the start. Workers never share a table they write to: each test makes
tables of its own, named after its worker (``mvdb-test-gw0-...``). The seed's stream is switched
on before any test runs, and a run whose tests wrote to the seed fails at its end, naming the
items (``seed_writes``): a test that writes there changes what the tests after it read.

Without the option, or without xdist, each test process starts its own DynamoDB Local when a
test first asks for it, as before: ``pytest tests/integration/test_search.py`` needs no flag.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "OPTION",
    "SharedDynamoDBLocal",
    "fail_a_run_that_wrote_to_the_seed",
    "guard_the_seed",
    "hand_to_worker",
    "seed_writes",
    "shared_endpoint",
    "start_for_the_run",
    "stop_for_the_run",
]

OPTION = "--shared-dynamodb-local"
_ENDPOINT_KEY = "mvdb_dynamodb_local_endpoint"
_ERROR_FILE_KEY = "mvdb_dynamodb_local_error_file"
_READY_FILE_KEY = "mvdb_dynamodb_local_ready_file"
# Several loaded copies of the data set (the loader tests make a few) from two workers at once.
HEAP = "768m"
_READY_TIMEOUT_S = 90.0
# A worker may wait for the seed's build too (a minute or more on two shared cores) when the data
# or the code that shapes its items changed; a failed build ends the wait at once (error file).
_WORKER_WAIT_S = 600.0


@dataclass(frozen=True)
class SharedDynamoDBLocal:
    """The run's DynamoDB Local as a worker sees it: an endpoint it neither starts nor stops."""

    endpoint: str


class _Starter:
    """The controller's DynamoDB Local, run by a thread of its own so the workers' start-up overlaps the JVM's.

    The thread lives until the run ends: PR_SET_PDEATHSIG signals the JVM when the *thread*
    that started it exits, not the process.
    """

    def __init__(self) -> None:
        from mvdb_local.dynamodb_local import DynamoDBLocal

        self.dynamodb = DynamoDBLocal(heap=HEAP)  # its seed is set by the thread: building one takes a while
        # Why it did not start, for the workers waiting on it: they fail at once, saying why.
        self.error_file = Path(tempfile.gettempdir()) / f"mvdb-dynamodb-local-{os.getpid()}-{self.dynamodb.port}.error"
        self.ready_file = self.error_file.with_suffix(".ready")  # it answers, and the seed is guarded
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dynamodb-local", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from mvdb_local.seed import seeded_database

        try:
            self.dynamodb.seed = seeded_database(quiet=True)
            self.dynamodb.start(timeout_s=_READY_TIMEOUT_S)
            guard_the_seed(self.dynamodb.endpoint)
        except Exception as error:  # LocalStackError says what to install or run
            self.error_file.write_text(f"{type(error).__name__}: {error}", encoding="utf-8")
            return
        self.ready_file.touch()  # workers wait for it (shared_endpoint): no test runs before the guard
        self._done.wait()
        self.dynamodb.stop()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=_READY_TIMEOUT_S)
        self.error_file.unlink(missing_ok=True)
        self.ready_file.unlink(missing_ok=True)


def _clients(endpoint: str) -> tuple[Any, Any]:
    import boto3

    # The controller has no local_aws_env: DynamoDB Local takes any credentials.
    settings = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    settings |= {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client("dynamodb", **settings), boto3.client("dynamodbstreams", **settings)


def guard_the_seed(endpoint: str) -> None:
    """Switch the seed's stream on, before any test runs: from then on each record it gets is a test's write."""
    from mvdb_local.seed import SEED_TABLE
    from mvdb_local.table import enable_stream

    enable_stream(_clients(endpoint)[0], SEED_TABLE)


def seed_writes(endpoint: str, table_name: str | None = None) -> list[str]:
    """The writes to the seed's movies table (or ``table_name``) its stream holds: ``"<eventName> <year>/<title>"``.

    Reads every shard from its oldest record (TRIM_HORIZON) until a read returns none, as DynamoDB
    Local's shards have no empty stretches. Empty for a table without a stream.
    """
    from mvdb_local.seed import SEED_TABLE

    client, streams = _clients(endpoint)
    stream_arn = client.describe_table(TableName=table_name or SEED_TABLE)["Table"].get("LatestStreamArn")
    if stream_arn is None:
        return []
    written: list[str] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        where = {"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}
        iterator: str | None = streams.get_shard_iterator(**where)["ShardIterator"]
        while iterator is not None:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in response["Records"]:
                keys = record["dynamodb"]["Keys"]
                written.append(f"{record['eventName']} {keys['year']['N']}/{keys['title']['S']}")
            iterator = response.get("NextShardIterator") if response["Records"] else None
    return written


def fail_a_run_that_wrote_to_the_seed(session: pytest.Session) -> None:
    """In the controller, once every worker has finished: a run whose tests wrote to the seed fails."""
    starter: _Starter | None = getattr(session.config, "_mvdb_dynamodb_local", None)
    if starter is None or not starter.dynamodb.running:
        return
    written = seed_writes(starter.dynamodb.endpoint)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"tests wrote to the read-only seed table (use a table of your own: make_table): {written[:10]}"
        if reporter is not None:
            reporter.write_line(f"\nFAILED {message}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def start_for_the_run(config: pytest.Config) -> None:
    """In the xdist controller, before any worker starts: start the run's DynamoDB Local."""
    if config.getoption(OPTION) and not hasattr(config, "_mvdb_dynamodb_local"):
        config._mvdb_dynamodb_local = _Starter()  # type: ignore[attr-defined]


def hand_to_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """In the controller, for each worker about to start: the endpoint it is to use."""
    starter: _Starter | None = getattr(config, "_mvdb_dynamodb_local", None)
    if starter is not None:
        workerinput[_ENDPOINT_KEY] = starter.dynamodb.endpoint
        workerinput[_ERROR_FILE_KEY] = str(starter.error_file)
        workerinput[_READY_FILE_KEY] = str(starter.ready_file)


def stop_for_the_run(config: pytest.Config) -> None:
    """In the controller, after every worker has finished."""
    starter: _Starter | None = getattr(config, "_mvdb_dynamodb_local", None)
    if starter is not None:
        starter.stop()


def shared_endpoint(config: pytest.Config) -> str | None:
    """In a worker: the endpoint of the run's DynamoDB Local, once it answers and guards the seed; None when
    there is none."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    endpoint: str | None = workerinput.get(_ENDPOINT_KEY)
    if endpoint is None:
        return None
    error_file, ready_file = Path(workerinput[_ERROR_FILE_KEY]), Path(workerinput[_READY_FILE_KEY])
    deadline = time.monotonic() + _WORKER_WAIT_S
    while time.monotonic() < deadline:
        if error_file.exists():
            pytest.fail(
                f"the run's DynamoDB Local did not start: {error_file.read_text(encoding='utf-8')}", pytrace=False
            )
        if ready_file.exists():
            return endpoint
        time.sleep(0.1)
    pytest.fail(f"the run's DynamoDB Local ({endpoint}) did not answer within {_WORKER_WAIT_S:.0f} s", pytrace=False)
