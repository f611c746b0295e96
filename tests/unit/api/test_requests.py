"""Request envelope checks, If-Match parsing, and how a URL names a movie."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import pytest

from mvdb.api.problems import ProblemError
from mvdb.api.requests import check_envelope, movie_key, movie_location, normalize_movie_path, parse_if_match
from mvdb.domain.errors import InvalidInput
from mvdb.domain.query import MovieKey

# -- If-Match --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tag"),
    [
        ('"3f2a9c"', "3f2a9c"),
        ("3f2a9c", "3f2a9c"),
        ('  "3f2a9c"  ', "3f2a9c"),
        ("*", "*"),
        (" * ", "*"),
    ],
)
def test_if_match_yields_the_entity_tag(header: str, tag: str) -> None:
    assert parse_if_match(header) == tag


def test_missing_if_match_yields_none() -> None:
    assert parse_if_match(None) is None


def test_weak_if_match_never_matches_a_write() -> None:
    with pytest.raises(ProblemError) as error:
        parse_if_match('W/"3f2a9c"')
    assert (error.value.status, error.value.code) == (412, "precondition-failed")


@pytest.mark.parametrize("header", ['"a", "b"', '"a",*'])
def test_if_match_with_a_list_of_tags_is_a_bad_request(header: str) -> None:
    with pytest.raises(ProblemError) as error:
        parse_if_match(header)
    assert (error.value.status, error.value.code) == (400, "invalid-if-match")


@pytest.mark.parametrize("header", ['""', '"', '"a"b"', ""])
def test_malformed_if_match_is_a_bad_request(header: str) -> None:
    with pytest.raises(ProblemError) as error:
        parse_if_match(header)
    assert error.value.status == 400


# -- path values -----------------------------------------------------------------------------


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


@pytest.mark.parametrize("title", ["Rush", "V/H/S", "What's Your Number?", "100% #1 + é"])
def test_location_of_a_movie_decodes_back_to_its_key(title: str) -> None:
    location = movie_location(MovieKey(2013, title))
    prefix = "/movies/2013/"
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


# -- envelope --------------------------------------------------------------------------------


def envelope(method: str, body: str | None = None, content_type: str | None = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else None
    return {"httpMethod": method, "headers": headers, "body": body, "isBase64Encoded": False}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"])
def test_json_body_is_admitted(content_type: str) -> None:
    check_envelope(envelope("POST", "{}", content_type), max_body_bytes=100)


def test_merge_patch_body_is_admitted() -> None:
    check_envelope(envelope("PATCH", "{}", "application/merge-patch+json"), max_body_bytes=100)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_that_is_not_json_is_unsupported_media_type(method: str, content_type: str | None) -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope(method, "x", content_type), max_body_bytes=100)
    assert (error.value.status, error.value.code) == (415, "unsupported-media-type")


def test_content_type_header_name_is_case_insensitive() -> None:
    event = {"httpMethod": "POST", "headers": {"content-type": "application/json"}, "body": "{}"}
    check_envelope(event, max_body_bytes=100)


def test_body_larger_than_the_limit_is_payload_too_large() -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", "x" * 101), max_body_bytes=100)
    assert (error.value.status, error.value.code) == (413, "payload-too-large")


def json_of_size(size: int) -> str:
    """A JSON document (one string) of exactly ``size`` bytes."""
    return '"' + "x" * (size - 2) + '"'


def test_body_of_exactly_the_limit_is_admitted() -> None:
    check_envelope(envelope("POST", json_of_size(100)), max_body_bytes=100)


def test_body_size_is_counted_in_bytes_not_characters() -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", "é" * 60), max_body_bytes=100)  # 120 bytes in UTF-8
    assert error.value.status == 413


def test_base64_body_size_is_counted_after_decoding() -> None:
    event = {
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode(json_of_size(90).encode()).decode(),  # 120 characters of base64, 90 bytes
        "isBase64Encoded": True,
    }
    check_envelope(event, max_body_bytes=100)


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD", "OPTIONS"])
def test_methods_without_a_body_skip_the_envelope_checks(method: str) -> None:
    check_envelope(envelope(method, "x" * 1000, "text/plain"), max_body_bytes=100)


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "{'single': 'quotes'}",
        '{"year": ' + "9" * 5000 + "}",  # past Python's integer digit limit: a ValueError, not a JSONDecodeError
        '{"a":' * 10_000 + "1" + "}" * 10_000,  # past the parser's recursion limit: a RecursionError
    ],
    ids=["truncated", "single-quotes", "5000-digit-integer", "nested-10000-deep"],
)
def test_body_that_is_not_json_is_malformed_json(body: str) -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", body), max_body_bytes=len(body))
    assert (error.value.status, error.value.code) == (400, "malformed-json")


def test_body_that_is_not_utf8_is_malformed_json() -> None:
    event = {
        "httpMethod": "PUT",
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode('{"plot": "Caf\xe9"}'.encode("latin-1")).decode(),
        "isBase64Encoded": True,
    }
    with pytest.raises(ProblemError) as error:
        check_envelope(event, max_body_bytes=100)
    assert (error.value.status, error.value.code) == (400, "malformed-json")


def test_empty_body_is_left_to_the_route() -> None:
    check_envelope(envelope("POST", "", None), max_body_bytes=100)
