"""The S3 audit store's requests, as S3 receives them (botocore's Stubber: no network)."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mvdb.domain.changes import AuditEntry
from mvdb.domain.query import MovieKey
from mvdb.repository.audit_store import S3AuditStore, movie_prefix

BUCKET = "mvdb-dev-audit-auditbucket-1a2b"
RUSH = MovieKey(2013, "Rush")


@pytest.fixture
def s3() -> Any:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_record_is_written_only_if_its_key_is_new_with_a_checksum_object_lock_accepts(s3: Any) -> None:
    client, stubber = s3
    key = movie_prefix(RUSH) + "1.json"
    expected = {
        "Bucket": BUCKET,
        "Key": key,
        "Body": ANY,
        "ContentType": "application/json",
        "IfNoneMatch": "*",
        "ChecksumAlgorithm": "SHA256",
    }
    stubber.add_response("put_object", {}, expected)
    assert S3AuditStore(client, BUCKET).put_new(key, {"a": 1}) is True


def test_a_redelivered_record_finds_its_key_taken_and_writes_nothing(s3: Any) -> None:
    client, stubber = s3
    stubber.add_client_error(
        "put_object", "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412
    )
    assert S3AuditStore(client, BUCKET).put_new(movie_prefix(RUSH) + "1.json", {"a": 1}) is False


def test_a_conflicting_write_in_flight_is_raised_for_lambda_to_retry(s3: Any) -> None:
    from botocore.exceptions import ClientError

    client, stubber = s3
    stubber.add_client_error("put_object", "ConditionalRequestConflict", "A conflicting operation is in progress", 409)
    with pytest.raises(ClientError):
        S3AuditStore(client, BUCKET).put_new(movie_prefix(RUSH) + "1.json", {"a": 1})


def test_a_history_page_lists_the_movies_prefix_after_the_cursor_and_reads_each_record(s3: Any) -> None:
    client, stubber = s3
    prefix = movie_prefix(RUSH)
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": prefix + "b.json"}], "IsTruncated": True},
        {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1, "StartAfter": prefix + "a.json"},
    )
    stubber.add_response(
        "get_object", {"Body": io.BytesIO(b'{"operation": "patch"}')}, {"Bucket": BUCKET, "Key": prefix + "b.json"}
    )
    entries, last = S3AuditStore(client, BUCKET).history(RUSH, start_after="a.json", limit=1)
    assert (entries, last) == ([AuditEntry("b.json", {"operation": "patch"})], "b.json")
