"""How the DynamoDB repository turns items and botocore errors into domain terms.

The errors here (throttling, a table being created) cannot be provoked on DynamoDB Local, so
botocore's own Stubber answers in place of the service; everything above it is the real code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mvdb.domain.errors import InvalidCursor, StorageUnavailable
from mvdb.domain.models import compute_etag
from mvdb.domain.query import MovieKey, MovieQuery
from mvdb.repository.dynamodb import DynamoDBMovieRepository, from_item, to_item

DOCUMENT = {
    "year": 2013,
    "title": "Rush",
    "info": {"rating": 8.3, "rank": 2, "genres": ["Action", "Drama"], "release_date": "2013-09-02T00:00:00Z"},
}


def test_item_roundtrips_to_the_same_document_and_etag() -> None:
    stored = from_item(to_item(DOCUMENT, "etag-1"))
    assert (stored.document, stored.etag) == (DOCUMENT, "etag-1")


def test_numbers_come_back_as_int_or_float_as_they_went_in() -> None:
    stored = from_item(to_item(DOCUMENT, "e"))
    assert isinstance(stored.document["info"]["rank"], int)
    assert isinstance(stored.document["info"]["rating"], float)


def test_item_without_a_stored_etag_gets_the_etag_of_its_document() -> None:
    item = to_item(DOCUMENT, "ignored")
    del item["etag"]
    assert from_item(item).etag == compute_etag(DOCUMENT)


def test_item_without_info_is_served_with_empty_info() -> None:
    stored = from_item({"year": {"N": "2013"}, "title": {"S": "Rush"}})
    assert stored.document == {"year": 2013, "title": "Rush", "info": {}}


def test_attributes_outside_the_movie_model_are_not_served() -> None:
    item = {**to_item(DOCUMENT, "e"), "internal_note": {"S": "secret"}}
    assert "internal_note" not in from_item(item).document


@pytest.mark.parametrize(
    "value",
    [
        {"N": "2013"},
        {"N": "-0"},
        {"N": "9.0"},  # integral, written as 9.0 by another writer
        {"N": "1E+2"},
        {"N": "8.3"},
        {"N": "1.5E-130"},
        {"N": "12345678901234567890123456789012345678"},  # 38 digits, DynamoDB's limit
        {"S": "Rush"},
        {"BOOL": False},
        {"NULL": True},
        {"L": [{"S": "Drama"}, {"N": "7.5"}, {"M": {"n": {"N": "1"}}}]},
        {"M": {"genres": {"L": [{"S": "Action"}]}, "rating": {"N": "8"}}},
        {"SS": ["a", "b"]},  # not a type mvdb writes: boto3's own reading
    ],
)
def test_attribute_values_read_as_boto3_reads_them_numbers_as_int_or_float(value: dict[str, Any]) -> None:
    from boto3.dynamodb.types import TypeDeserializer

    from mvdb.repository.dynamodb import _from_dynamo_value, _plain

    expected = _from_dynamo_value(TypeDeserializer().deserialize(value))
    assert _plain(value) == expected
    assert repr(_plain(value)) == repr(expected)  # same types too: 100 is not 100.0


# -- errors ----------------------------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDBMovieRepository, Stubber, list[int]]]:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )
    retries: list[int] = []
    with Stubber(client) as stubber:
        yield DynamoDBMovieRepository(client, "movies", on_retries=retries.append), stubber, retries
        stubber.assert_no_pending_responses()


def add_error(stubber: Stubber, operation: str, code: str, retry_attempts: int = 0) -> None:
    stubber.add_client_error(
        operation,
        service_error_code=code,
        http_status_code=400,
        response_meta={"RetryAttempts": retry_attempts},
    )


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceNotFoundException",
    ],
)
def test_throttling_and_outage_errors_become_storage_unavailable(stubbed: Any, code: str) -> None:
    repository, stubber, _ = stubbed
    add_error(stubber, "get_item", code)
    with pytest.raises(StorageUnavailable):
        repository.get(MovieKey(2013, "Rush"))


def test_retries_botocore_made_are_reported(stubbed: Any) -> None:
    repository, stubber, retries = stubbed
    add_error(stubber, "get_item", "ThrottlingException", retry_attempts=2)
    with pytest.raises(StorageUnavailable):
        repository.get(MovieKey(2013, "Rush"))
    assert retries == [2]


def test_validation_error_of_a_search_resuming_from_a_cursor_is_an_invalid_cursor(stubbed: Any) -> None:
    repository, stubber, _ = stubbed
    add_error(stubber, "query", "ValidationException")
    with pytest.raises(InvalidCursor):
        repository.search(MovieQuery(year=2013), MovieKey(2013, "Rush"))


def test_validation_error_without_a_cursor_is_not_blamed_on_the_client(stubbed: Any) -> None:
    # Without a client-supplied start key, a ValidationException is our bug: it must surface.
    repository, stubber, _ = stubbed
    add_error(stubber, "query", "ValidationException")
    with pytest.raises(ClientError):
        repository.search(MovieQuery(year=2013), None)


def test_health_ping_of_a_missing_table_is_storage_unavailable(stubbed: Any) -> None:
    repository, stubber, _ = stubbed
    add_error(stubber, "get_item", "ResourceNotFoundException")
    with pytest.raises(StorageUnavailable):
        repository.ping()


def test_year_search_is_a_query_never_a_scan(stubbed: Any) -> None:
    repository, stubber, _ = stubbed
    stubber.add_response(
        "query",
        {"Items": [to_item(DOCUMENT, "e")]},
        expected_params={
            "TableName": "movies",
            "KeyConditionExpression": "#year = :year",
            "ExpressionAttributeNames": {"#year": "year"},
            "ExpressionAttributeValues": {":year": {"N": "2013"}},
            "Limit": 20,
        },
    )
    hits, resume = repository.search(MovieQuery(year=2013), None)
    assert ([hit.movie.document for hit in hits], resume) == ([DOCUMENT], None)


def test_a_page_reads_exactly_limit_items_and_resumes_after_the_last_one_read() -> None:
    # No extra item is read to learn whether more follow: a page never reads what the next one reads.
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    repository = DynamoDBMovieRepository(client, "movies")
    with Stubber(client) as stubber:
        stubber.add_response(
            "query",
            {"Items": [to_item(DOCUMENT, "e")], "LastEvaluatedKey": {"year": {"N": "2013"}, "title": {"S": "Rush"}}},
            expected_params={
                "TableName": "movies",
                "KeyConditionExpression": "#year = :year",
                "ExpressionAttributeNames": {"#year": "year"},
                "ExpressionAttributeValues": {":year": {"N": "2013"}},
                "Limit": 1,
            },
        )
        _, resume = repository.search(MovieQuery(year=2013, limit=1), None)
    assert resume == MovieKey(2013, "Rush")


def test_tiny_min_rating_is_sent_as_the_smallest_number_dynamodb_stores(stubbed: Any) -> None:
    # DynamoDB refuses numbers below 1e-130 in magnitude (?min_rating=1e-300 was a 500).
    repository, stubber, _ = stubbed
    stubber.add_response(
        "query",
        {"Items": []},
        expected_params={
            "TableName": "movies-search-index",
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "#info.#rating >= :min_rating",
            "ExpressionAttributeNames": {"#pk": "pk", "#info": "info", "#rating": "rating"},
            "ExpressionAttributeValues": {":pk": {"S": "genre#Drama"}, ":min_rating": {"N": "1E-130"}},
            "ScanIndexForward": True,
            "Limit": 20,
        },
    )
    assert repository.search(MovieQuery(genre="Drama", min_rating=1e-300), None) == ([], None)
