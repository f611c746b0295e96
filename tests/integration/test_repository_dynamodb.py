"""What only the DynamoDB repository does: stored ETags checked by DynamoDB, items from before ETags."""

from __future__ import annotations

from typing import Any

import pytest

from mvdb.domain.errors import InvalidInput, PreconditionFailed
from mvdb.domain.models import MAX_TITLE_BYTES, Movie, MovieInfo, compute_etag
from mvdb.domain.query import MovieKey, MovieQuery
from mvdb.repository.dynamodb import DynamoDBMovieRepository

pytestmark = pytest.mark.integration

LEGACY = {"year": 1994, "title": "Legacy", "info": {"rating": 7.5, "plot": "Written before ETags were stored."}}
LEGACY_KEY = MovieKey(1994, "Legacy")


@pytest.fixture
def repository(dynamodb_client: Any, movies_table: str) -> DynamoDBMovieRepository:
    return DynamoDBMovieRepository(dynamodb_client, movies_table)


@pytest.fixture
def legacy_item(dynamodb_client: Any, movies_table: str) -> str:
    """An item written by an older writer: no ``etag`` attribute. Returns the ETag reads compute for it."""
    dynamodb_client.put_item(
        TableName=movies_table,
        Item={
            "year": {"N": "1994"},
            "title": {"S": "Legacy"},
            "info": {"M": {"rating": {"N": "7.5"}, "plot": {"S": "Written before ETags were stored."}}},
        },
    )
    return compute_etag(LEGACY)


def test_written_item_stores_its_etag_for_dynamodb_to_check(
    repository: DynamoDBMovieRepository, dynamodb_client: Any, movies_table: str
) -> None:
    repository.create(LEGACY, "etag-1")
    item = dynamodb_client.get_item(TableName=movies_table, Key={"year": {"N": "1994"}, "title": {"S": "Legacy"}})
    assert item["Item"]["etag"] == {"S": "etag-1"}


def test_legacy_item_is_read_with_the_etag_of_its_document(
    repository: DynamoDBMovieRepository, legacy_item: str
) -> None:
    stored = repository.get(LEGACY_KEY)
    assert stored is not None
    assert (stored.document, stored.etag) == (LEGACY, legacy_item)


def test_legacy_item_can_be_replaced_with_its_computed_etag(
    repository: DynamoDBMovieRepository, legacy_item: str
) -> None:
    new = {**LEGACY, "info": {"rating": 8.0}}
    repository.replace(new, compute_etag(new), if_match=legacy_item)
    stored = repository.get(LEGACY_KEY)
    assert stored is not None
    assert (stored.document, stored.etag) == (new, compute_etag(new))


def test_computed_etag_of_a_legacy_item_works_exactly_once(
    repository: DynamoDBMovieRepository, legacy_item: str
) -> None:
    # GIVEN two writers that both read the legacy item (same computed ETag)
    first = {**LEGACY, "info": {"rating": 8.0}}
    second = {**LEGACY, "info": {"rating": 1.0}}
    repository.replace(first, compute_etag(first), if_match=legacy_item)
    # WHEN the second writes with the same ETag THEN it is refused: no lost update
    with pytest.raises(PreconditionFailed):
        repository.replace(second, compute_etag(second), if_match=legacy_item)
    stored = repository.get(LEGACY_KEY)
    assert stored is not None
    assert stored.document == first


def test_legacy_item_with_a_wrong_etag_is_precondition_failed(
    repository: DynamoDBMovieRepository, legacy_item: str
) -> None:
    with pytest.raises(PreconditionFailed):
        repository.replace({**LEGACY, "info": {}}, "x", if_match="0" * 32)
    stored = repository.get(LEGACY_KEY)
    assert stored is not None
    assert stored.etag == legacy_item


def test_legacy_item_can_be_deleted_with_its_computed_etag(
    repository: DynamoDBMovieRepository, legacy_item: str
) -> None:
    repository.delete(LEGACY_KEY, if_match=legacy_item)
    assert repository.get(LEGACY_KEY) is None


def test_item_with_attributes_outside_the_model_is_served_without_them(
    repository: DynamoDBMovieRepository, dynamodb_client: Any, movies_table: str
) -> None:
    dynamodb_client.put_item(
        TableName=movies_table,
        Item={"year": {"N": "2013"}, "title": {"S": "Rush"}, "operator_note": {"S": "internal"}},
    )
    stored = repository.get(MovieKey(2013, "Rush"))
    assert stored is not None
    assert stored.document == {"year": 2013, "title": "Rush", "info": {}}


# -- DynamoDB's limits: a value past one is the client's 400, never a 500 --------------------------
# The models keep every request below these limits (tests/unit/domain/test_models.py); these prove
# the second line, should a value slip past them, against DynamoDB Local's own checks.

TOO_LONG_TITLE = "\U0001f600" * 257  # 1,028 bytes of UTF-8: past the 1,024-byte sort key


def test_a_sort_key_past_1024_bytes_is_invalid_input(repository: DynamoDBMovieRepository) -> None:
    with pytest.raises(InvalidInput, match="1024 bytes"):
        repository.get(MovieKey(2031, TOO_LONG_TITLE))


def test_a_key_condition_past_1024_bytes_is_invalid_input(repository: DynamoDBMovieRepository) -> None:
    with pytest.raises(InvalidInput, match="1024 bytes"):
        repository.search(MovieQuery(year=2031, title_prefix=TOO_LONG_TITLE), None)


def test_an_item_past_400_kb_is_invalid_input(repository: DynamoDBMovieRepository) -> None:
    document = {"year": 2031, "title": "Huge", "info": {"plot": "x" * 410_000}}
    with pytest.raises(InvalidInput, match="size"):
        repository.create(document, compute_etag(document))


def test_the_largest_movie_the_models_admit_fits_in_one_item(repository: DynamoDBMovieRepository) -> None:
    # Every bound at its maximum, in 4-byte characters: the model's limits keep items under 400 KB.
    widest = "\U0001f600"
    movie = Movie(
        year=2031,
        title=widest * (MAX_TITLE_BYTES // 4),
        info=MovieInfo(
            directors=[widest * 200] * 100,
            actors=[widest * 200] * 100,
            genres=[widest * 200] * 100,
            plot=widest * 5000,
            image_url="https://" + "x" * 2040,
            release_date="2013-09-02T00:00:00+00:00",
            rating=9.999999999999998,
            rank=1_000_000,
            running_time_secs=360_000,
        ),
    )
    document = movie.document()
    repository.create(document, compute_etag(document))
    assert repository.get(MovieKey(2031, movie.title)) is not None
