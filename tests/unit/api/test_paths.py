"""How a URL names a movie, and the URL of a movie."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from mvdb.api.paths import base_path, movie_key, movie_location, normalize_movie_path
from mvdb.domain.errors import InvalidInput
from mvdb.domain.query import MovieKey


@pytest.mark.parametrize(
    "title",
    [
        "Rush",
        "V/H/S",
        "50/50",
        "100% Wolf",
        "What's Your Number?",
        "Romeo + Juliet",
        "#Horror",
        'Say "Cheese"',
        "Tom & Jerry: The Movie",
        "Amélie",
        "千と千尋の神隠し",
        "%2F literally",
    ],
)
def test_percent_encoded_title_decodes_exactly_once(title: str) -> None:
    assert movie_key(2013, quote(title, safe="")) == MovieKey(2013, title)


def test_encoded_percent_sign_is_not_decoded_twice() -> None:
    # "%252F" is the title "%2F", not "/".
    assert movie_key(2013, "%252F").title == "%2F"


def test_plus_in_a_path_is_a_plus_not_a_space() -> None:
    assert movie_key(1996, "Romeo%20+%20Juliet").title == "Romeo + Juliet"


@pytest.mark.parametrize("raw", ["%FF", "caf%E9", "%C3", "%ED%A0%80"])
def test_title_that_does_not_decode_to_utf8_is_invalid_input(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        movie_key(2013, raw)
    assert error.value.errors[0].location == ["path", "title"]


@pytest.mark.parametrize("raw", ["%20", "%20%20", "%09"])
def test_blank_title_in_the_url_is_invalid_input(raw: str) -> None:
    with pytest.raises(InvalidInput):
        movie_key(2013, raw)


def test_title_longer_than_the_maximum_in_the_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        movie_key(2013, "x" * 301)


def test_title_longer_than_a_sort_key_in_utf8_bytes_is_invalid_input() -> None:
    # 257 emoji are 257 characters but 1,028 bytes: past DynamoDB's 1,024-byte sort key.
    with pytest.raises(InvalidInput) as error:
        movie_key(2031, quote("\U0001f600" * 257))
    assert "1024 bytes" in error.value.errors[0].message


def test_title_of_exactly_1024_utf8_bytes_is_a_valid_key() -> None:
    assert movie_key(2031, quote("\U0001f600" * 256)).title == "\U0001f600" * 256


@pytest.mark.parametrize("base", ["", "/dev", "/v1"])
@pytest.mark.parametrize("title", ["Rush", "V/H/S", "What's Your Number?", "100% #1 + é"])
def test_location_of_a_movie_decodes_back_to_its_key(base: str, title: str) -> None:
    location = movie_location(base, MovieKey(2013, title))
    prefix = f"{base}/movies/2013/"
    assert location.startswith(prefix)
    assert "/" not in location[len(prefix) :]
    assert movie_key(2013, location[len(prefix) :]) == MovieKey(2013, title)


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        ("/movies/2013/V/H/S", "/movies/2013/V%2FH%2FS"),
        ("/movies/2013/V/H/S/2", "/movies/2013/V%2FH%2FS%2F2"),
        ("/movies/2013/V%2FH%2FS", "/movies/2013/V%2FH%2FS"),
        ("/movies/2013/Rush", "/movies/2013/Rush"),
        ("/movies", "/movies"),
        ("/health", "/health"),
    ],
)
def test_path_normalisation_keeps_a_title_with_slashes_in_one_segment(path: str, normalized: str) -> None:
    assert normalize_movie_path({"path": path})["path"] == normalized


def test_path_normalisation_leaves_the_original_event_untouched() -> None:
    event = {"path": "/movies/2013/V/H/S", "httpMethod": "GET"}
    normalize_movie_path(event)
    assert event["path"] == "/movies/2013/V/H/S"


@pytest.mark.parametrize(
    ("path", "called", "base"),
    [
        ("/movies", "/dev/movies", "/dev"),  # a stage on the execute-api URL
        ("/movies/2013/V%2FH%2FS", "/v1/movies/2013/V%2FH%2FS", "/v1"),  # a custom domain's base path
        ("/movies", "/movies", ""),  # a custom domain mapped at its root, or the local stack
        ("/", "/dev/", "/dev"),
        ("/movies", None, ""),
    ],
)
def test_base_path_is_what_the_called_path_has_in_front_of_the_apis_path(
    path: str, called: str | None, base: str
) -> None:
    assert base_path({"path": path, "requestContext": {"path": called}}) == base
