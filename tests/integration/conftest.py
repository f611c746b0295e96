"""Fixtures of the integration suite: the Lambda app over DynamoDB Local, in-process and over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient


@pytest.fixture
def api(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any) -> LambdaClient:
    """The Lambda handler over a fresh, empty table (REQUIRE_AUTH off)."""
    return LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint))


@pytest.fixture
def catalog_api(build_app: Callable[..., Any], loaded_table: str, dynamodb_local: Any) -> LambdaClient:
    """The Lambda handler over the shared table holding all 4,609 movies. Read-only."""
    return LambdaClient(build_app(loaded_table, endpoint=dynamodb_local.endpoint))


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Returns ``serve(handler)``: the base URL of ``mvdb_local.server`` serving it on a free port.

    Every server is shut down and its port closed after the test.
    """
    from mvdb_local.dynamodb_local import free_port
    from mvdb_local.server import make_server

    running: list[tuple[Any, threading.Thread]] = []

    def start(handler: Any) -> str:
        port = free_port()
        server = make_server(handler, "127.0.0.1", port)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
