"""Idempotency-Key under DynamoDB faults (the fault proxy between the service and DynamoDB Local):
a lost response on the records' table never writes a movie twice."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from mvdb_local.gateway import request_event
from mvdb_local.server import LambdaContext
from tests.integration.lambda_client import FULL_ACCESS, LambdaClient, movie_path
from tests.reliability.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

MOVIE = {"year": 2031, "title": "Sequel", "info": {"rating": 7.5}}


@pytest.fixture
def movies_table(make_table: Callable[..., str]) -> str:
    """A fresh movies table with its idempotency records' table: every test here sends Idempotency-Key."""
    return make_table(idempotency_records=True)


@pytest.fixture
def proxy(dynamodb_local: Any) -> Any:
    with FaultProxy(dynamodb_local.endpoint) as running:
        yield running


@pytest.fixture
def handler(proxy: FaultProxy, movies_table: str, build_app: Callable[..., Any]) -> Any:
    """The handler, warm: its clients made by a first keyed request (the faults' timings stay short)."""
    built = build_app(movies_table, endpoint=proxy.endpoint)
    assert post(built, f'"{uuid.uuid4()}"', timeout_s=10.0, title="Warm-up")["statusCode"] == 201
    proxy.seen.clear()
    return built


def post(handler: Any, key: str, *, timeout_s: float, title: str = "Sequel") -> dict[str, Any]:
    """A keyed POST of a movie, in an invocation that times out after ``timeout_s``."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    event = request_event("POST", "/movies", headers, json.dumps({**MOVIE, "title": title}).encode())
    event["requestContext"]["authorizer"] = FULL_ACCESS
    response: dict[str, Any] = handler(event, LambdaContext(timeout_s=timeout_s))
    return response


@pytest.mark.slow  # waits out the invocation's 2 s deadline
def test_a_claim_whose_response_was_lost_is_in_progress_until_its_invocation_would_have_timed_out(
    proxy: FaultProxy, handler: Any
) -> None:
    # The claim (a conditional PutItem on the records) lands, its response is lost; botocore's retry
    # meets the claim itself. Nothing is written; the retry after the invocation's deadline creates once.
    key = f'"{uuid.uuid4()}"'
    proxy.inject("lose-response", times=1)
    first = post(handler, key, timeout_s=2.0)
    assert first["statusCode"] == 409, first["body"]
    assert '"idempotency-key-in-progress"' in first["body"]
    client = LambdaClient(handler, authorizer=FULL_ACCESS)
    assert client.get(movie_path(2031, "Sequel")).status == 404

    time.sleep(2.2)
    retry = post(handler, key, timeout_s=2.0)
    assert retry["statusCode"] == 201, retry["body"]
    assert client.get(movie_path(2031, "Sequel")).etag == retry["multiValueHeaders"]["ETag"][0]


def test_a_record_whose_response_was_lost_is_written_again_and_replays(proxy: FaultProxy, handler: Any) -> None:
    # The claim and the movie pass; the record of the response (UpdateItem) lands but its response is
    # lost: botocore writes it again (the same values), and the retry gets the original 201.
    key = f'"{uuid.uuid4()}"'
    proxy.inject("forward", times=2)
    proxy.inject("lose-response", times=1)
    first = post(handler, key, timeout_s=10.0)
    assert first["statusCode"] == 201, first["body"]
    assert proxy.seen["UpdateItem"] == 2
    replay = post(handler, key, timeout_s=10.0)
    assert (replay["statusCode"], replay["multiValueHeaders"]["Idempotent-Replayed"]) == (201, ["true"])
    assert replay["multiValueHeaders"]["ETag"] == first["multiValueHeaders"]["ETag"]
