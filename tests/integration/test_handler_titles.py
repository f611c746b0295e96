"""Every title of the data set that holds a character special in URLs is addressable.

A client percent-encodes the title into one path segment (``/`` as ``%2F``, space as ``%20``,
``?`` as ``%3F``...); API Gateway passes the path on still encoded and the service decodes it
exactly once. One test per decade of release years, so the 3,600 titles spread over workers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient, movie_path

pytestmark = pytest.mark.integration

# RFC 3986 unreserved characters need no encoding; a title with anything else is "special".
_UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]*$")
DECADES = list(range(1920, 2020, 10))


def special_titles(records: list[dict[str, Any]], decade: int) -> list[dict[str, Any]]:
    return [r for r in records if decade <= r["year"] < decade + 10 and not _UNRESERVED.match(r["title"])]


def test_the_data_set_has_titles_with_each_kind_of_special_character(movie_records: list[dict[str, Any]]) -> None:
    # Guards the sweep below against a data set that would make it trivially pass.
    titles = [r["title"] for r in movie_records]
    for character in (" ", "&", ":", "?", "/", "+", "'", ",", "!", "(", "[", "$"):
        assert any(character in title for title in titles), character
    assert sum(1 for r in movie_records if not _UNRESERVED.match(r["title"])) > 3500


@pytest.mark.slow  # 3,600 requests in all
@pytest.mark.parametrize("decade", DECADES, ids=[f"{d}s" for d in DECADES])
def test_every_special_title_of_the_decade_is_addressable(
    catalog_api: LambdaClient, movie_records: list[dict[str, Any]], decade: int
) -> None:
    failures: list[str] = []
    for record in special_titles(movie_records, decade):
        response = catalog_api.get(movie_path(record["year"], record["title"]))
        if response.status != 200:
            failures.append(f"{record['year']} {record['title']!r}: {response.status}")
            continue
        movie = response.json()
        if (movie["year"], movie["title"], movie["info"]) != (record["year"], record["title"], record["info"]):
            failures.append(f"{record['year']} {record['title']!r}: came back as {movie['title']!r}")
    assert failures == []


@pytest.mark.parametrize(
    ("raw_title", "title"),
    [
        ("V%2FH%2FS", "V/H/S"),
        ("V/H/S", "V/H/S"),
        ("Face%2FOff", "Face/Off"),
        ("Nine%201%2F2%20Weeks", "Nine 1/2 Weeks"),
        ("Romeo%20+%20Juliet", "Romeo + Juliet"),
        ("What's%20Your%20Number%3F", "What's Your Number?"),
        ("Pain%20&%20Gain", "Pain & Gain"),
        ("Hansel%20&%20Gretel:%20Witch%20Hunters", "Hansel & Gretel: Witch Hunters"),
        ("Star%20Trek%20Into%20Darkness", "Star Trek Into Darkness"),
    ],
)
def test_title_with_only_the_necessary_characters_encoded_is_found(
    catalog_api: LambdaClient, movie_records: list[dict[str, Any]], raw_title: str, title: str
) -> None:
    # Clients differ in what they encode: '+', '&', "'" and even '/' may arrive as they are.
    year = next(r["year"] for r in movie_records if r["title"] == title)
    response = catalog_api.get(f"/movies/{year}/{raw_title}")
    assert response.status == 200
    assert response.json()["title"] == title


def test_plus_is_never_read_as_a_space(catalog_api: LambdaClient) -> None:
    assert catalog_api.get("/movies/1996/Romeo+++Juliet").status == 404


def test_title_decoded_twice_would_be_another_title(catalog_api: LambdaClient) -> None:
    # "%252F" names the title "%2F": no such movie, and certainly not one containing "/".
    assert catalog_api.get("/movies/2013/V%252FH%252FS").status == 404
