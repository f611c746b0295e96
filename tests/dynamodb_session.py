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
tables of its own, named after its worker (``mvdb-test-gw0-...``).

Without the option, or without xdist, each test process starts its own DynamoDB Local when a
test first asks for it, as before: ``pytest tests/integration/test_search.py`` needs no flag.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = [
    "OPTION",
    "SharedDynamoDBLocal",
    "hand_to_worker",
    "shared_endpoint",
    "start_for_the_run",
    "stop_for_the_run",
]

OPTION = "--shared-dynamodb-local"
_ENDPOINT_KEY = "mvdb_dynamodb_local_endpoint"
_ERROR_FILE_KEY = "mvdb_dynamodb_local_error_file"
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
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dynamodb-local", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from mvdb_local.seed import seeded_database

        try:
            self.dynamodb.seed = seeded_database(quiet=True)
            self.dynamodb.start(timeout_s=_READY_TIMEOUT_S)
        except Exception as error:  # LocalStackError says what to install or run
            self.error_file.write_text(f"{type(error).__name__}: {error}", encoding="utf-8")
            return
        self._done.wait()
        self.dynamodb.stop()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=_READY_TIMEOUT_S)
        self.error_file.unlink(missing_ok=True)


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


def stop_for_the_run(config: pytest.Config) -> None:
    """In the controller, after every worker has finished."""
    starter: _Starter | None = getattr(config, "_mvdb_dynamodb_local", None)
    if starter is not None:
        starter.stop()


def shared_endpoint(config: pytest.Config) -> str | None:
    """In a worker: the endpoint of the run's DynamoDB Local, once it answers; None when there is none."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    endpoint: str | None = workerinput.get(_ENDPOINT_KEY)
    if endpoint is None:
        return None
    address, error_file = urlsplit(endpoint), Path(workerinput[_ERROR_FILE_KEY])
    deadline = time.monotonic() + _WORKER_WAIT_S
    while time.monotonic() < deadline:
        if error_file.exists():
            pytest.fail(
                f"the run's DynamoDB Local did not start: {error_file.read_text(encoding='utf-8')}", pytrace=False
            )
        with socket.socket() as probe:
            if probe.connect_ex((address.hostname or "127.0.0.1", address.port or 80)) == 0:
                return endpoint
        time.sleep(0.1)
    pytest.fail(f"the run's DynamoDB Local ({endpoint}) did not answer within {_WORKER_WAIT_S:.0f} s", pytrace=False)
