"""What a movie may look like: the rules every write (API and loader) is held to."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mvdb.domain.models import (
    MAX_TITLE_LENGTH,
    MAX_YEAR,
    MIN_YEAR,
    Movie,
    MovieCreate,
    MovieInfo,
    MovieReplace,
    compute_etag,
)

RUSH: dict[str, Any] = {
    "year": 2013,
    "title": "Rush",
    "info": {
        "directors": ["Ron Howard"],
        "release_date": "2013-09-02T00:00:00Z",
        "rating": 8.3,
        "genres": ["Action", "Biography", "Drama", "Sport"],
        "image_url": "http://ia.media-imdb.com/images/M/MV5BMTQyMDE0MTY0OV5BMl5BanBnXkFtZTcwMjI2OTI0OQ@@._V1_SX400_.jpg",
        "plot": "A re-creation of the merciless 1970s rivalry between Formula One rivals James Hunt and Niki Lauda.",
        "rank": 2,
        "running_time_secs": 7380,
        "actors": ["Daniel Bruhl", "Chris Hemsworth", "Olivia Wilde"],
    },
}


def create(**changes: Any) -> MovieCreate:
    return MovieCreate.model_validate({**RUSH, **changes})


def create_with_info(**info_changes: Any) -> MovieCreate:
    return MovieCreate.model_validate({**RUSH, "info": {**RUSH["info"], **info_changes}})


def error_locations(error: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in error.value.errors()]


def test_a_movie_from_the_data_set_is_valid_and_keeps_every_value() -> None:
    movie = Movie.model_validate(create().model_dump())
    assert movie.document() == RUSH


# -- year ---------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [MIN_YEAR, 1920, 2018, MAX_YEAR])
def test_year_within_range_is_accepted(year: int) -> None:
    assert create(year=year).year == year


@pytest.mark.parametrize("year", [MIN_YEAR - 1, 0, -2013, MAX_YEAR + 1, 99999])
def test_year_outside_range_is_rejected(year: int) -> None:
    with pytest.raises(ValidationError) as error:
        create(year=year)
    assert error_locations(error) == [("year",)]


@pytest.mark.parametrize("year", ["2013", 2013.0, True, None])
def test_year_must_be_a_json_integer(year: Any) -> None:
    with pytest.raises(ValidationError) as error:
        create(year=year)
    assert error_locations(error) == [("year",)]


# -- title --------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", " ", "   ", "\u3000", "\u2028"])
def test_blank_title_is_rejected(title: str) -> None:
    with pytest.raises(ValidationError) as error:
        create(title=title)
    assert error_locations(error) == [("title",)]


def test_title_of_the_maximum_length_is_accepted() -> None:
    assert len(create(title="x" * MAX_TITLE_LENGTH).title) == MAX_TITLE_LENGTH


def test_title_longer_than_the_maximum_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        create(title="x" * (MAX_TITLE_LENGTH + 1))
    assert error.value.errors()[0]["type"] == "string_too_long"


@pytest.mark.parametrize("control", ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f"])
def test_title_with_a_control_character_is_rejected(control: str) -> None:
    with pytest.raises(ValidationError) as error:
        create(title=f"Rush{control}2")
    assert "control characters" in error.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "title",
    ["V/H/S", "100% Wolf", "What's Your Number?", "#Horror", "Romeo + Juliet", 'Say "Cheese"', "Amélie", "千と千尋"],
)
def test_title_with_url_special_or_non_ascii_characters_is_accepted(title: str) -> None:
    assert create(title=title).title == title


def test_title_keeps_its_surrounding_spaces() -> None:
    # The title is the sort key: silently changing it would make a different movie.
    assert create(title=" Rush ").title == " Rush "


# -- info ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rating", [0, 0.0, 5, 8.3, 10, 1e-130])
def test_rating_from_0_to_10_is_accepted(rating: float) -> None:
    assert create_with_info(rating=rating).info.rating == rating


@pytest.mark.parametrize("rating", [-0.1, 10.01, 11, float("nan"), float("inf"), "8.3x"])
def test_rating_outside_0_to_10_or_not_a_number_is_rejected(rating: Any) -> None:
    with pytest.raises(ValidationError) as error:
        create_with_info(rating=rating)
    assert error_locations(error) == [("info", "rating")]


def test_rating_too_small_for_dynamodb_to_store_is_rejected() -> None:
    # DynamoDB numbers reach down to 1e-130; a smaller one fails at write time (it was a 500).
    with pytest.raises(ValidationError) as error:
        create_with_info(rating=1e-300)
    assert error_locations(error) == [("info", "rating")]


@pytest.mark.parametrize("field", ["genres", "actors", "directors"])
def test_info_name_lists_accept_lists_of_strings(field: str) -> None:
    assert getattr(create_with_info(**{field: ["A", "B"]}).info, field) == ["A", "B"]


@pytest.mark.parametrize("value", ["Drama", [1, 2], ["Drama", None], [""], ["  "], {"a": "b"}])
@pytest.mark.parametrize("field", ["genres", "actors", "directors"])
def test_info_name_lists_reject_anything_but_non_blank_strings(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as error:
        create_with_info(**{field: value})
    assert all(location[:2] == ("info", field) for location in error_locations(error))


def test_info_name_list_longer_than_100_is_rejected() -> None:
    with pytest.raises(ValidationError):
        create_with_info(actors=[f"Actor {n}" for n in range(101)])


@pytest.mark.parametrize(
    ("given", "returned"),
    [
        ("2013-09-02T00:00:00Z", "2013-09-02T00:00:00Z"),
        ("2013-09-02T10:30:00+02:00", "2013-09-02T10:30:00+02:00"),
        ("2013-09-02", "2013-09-02"),
    ],
)
def test_release_date_accepts_a_date_or_a_datetime_and_returns_it_as_given(given: str, returned: str) -> None:
    document = Movie.model_validate(create_with_info(release_date=given).model_dump()).document()
    assert document["info"]["release_date"] == returned


@pytest.mark.parametrize("value", ["yesterday", "2013-13-01", "2013-02-30", "02/09/2013", 1378080000, 1378080000.0])
def test_release_date_that_is_not_an_iso_8601_date_is_rejected(value: Any) -> None:
    # A number must not be read as seconds since 1970.
    with pytest.raises(ValidationError) as error:
        create_with_info(release_date=value)
    assert error_locations(error)[0][:2] == ("info", "release_date")


@pytest.mark.parametrize("seconds", [0, 7380, 100 * 3600])
def test_running_time_of_zero_or_more_is_accepted(seconds: int) -> None:
    assert create_with_info(running_time_secs=seconds).info.running_time_secs == seconds


@pytest.mark.parametrize("seconds", [-1, 100 * 3600 + 1, 1.5, "long"])
def test_running_time_that_is_negative_or_not_a_whole_number_is_rejected(seconds: Any) -> None:
    with pytest.raises(ValidationError) as error:
        create_with_info(running_time_secs=seconds)
    assert error_locations(error) == [("info", "running_time_secs")]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/a.jpg", "http://exa mple.com"])
def test_image_url_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValidationError):
        create_with_info(image_url=url)


def test_plot_longer_than_5000_characters_is_rejected() -> None:
    with pytest.raises(ValidationError):
        create_with_info(plot="x" * 5001)


def test_unknown_top_level_field_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        create(rating=8.3)
    assert [(tuple(e["loc"]), e["type"]) for e in error.value.errors()] == [(("rating",), "extra_forbidden")]


def test_unknown_info_field_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        create_with_info(ratign=8.3)
    assert [(tuple(e["loc"]), e["type"]) for e in error.value.errors()] == [(("info", "ratign"), "extra_forbidden")]


def test_every_info_field_is_optional() -> None:
    assert create(info={}).info == MovieInfo()


def test_replace_body_may_omit_the_key() -> None:
    assert MovieReplace.model_validate({"info": {"rating": 7}}).year is None


def test_replace_body_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        MovieReplace.model_validate({"info": {}, "etag": "abc"})


# -- document and ETag ---------------------------------------------------------------------


def test_document_leaves_out_unset_info_fields() -> None:
    movie = Movie(year=2013, title="Rush", info=MovieInfo(rating=8.3))
    assert movie.document() == {"year": 2013, "title": "Rush", "info": {"rating": 8.3}}


def test_etag_is_the_same_for_equal_documents_whatever_the_key_order() -> None:
    a = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "plot": "x"}}
    b = {"info": {"plot": "x", "rating": 8.3}, "title": "Rush", "year": 2013}
    assert compute_etag(a) == compute_etag(b)


def test_etag_changes_when_any_value_changes() -> None:
    a = {"year": 2013, "title": "Rush", "info": {"rating": 8.3}}
    b = {"year": 2013, "title": "Rush", "info": {"rating": 8.4}}
    assert compute_etag(a) != compute_etag(b)


def test_negative_zero_is_stored_as_zero_so_the_etag_describes_what_get_returns() -> None:
    info = MovieInfo.model_validate({"rating": -0.0})
    assert str(info.rating) == "0.0"
