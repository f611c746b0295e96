"""The opaque cursor: it resumes exactly the search that issued it, and nothing else gets through."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mvdb.domain.errors import InvalidCursor
from mvdb.domain.query import IndexPosition, MovieKey, MovieQuery, _digest, _index_digest, decode_cursor, encode_cursor

YEAR_2013 = MovieQuery(year=2013, limit=50)
RUSH = MovieKey(2013, "Rush")


def payload_of(cursor: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return decoded


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("key", "query"),
    [
        (RUSH, YEAR_2013),
        (MovieKey(2013, "V/H/S/2"), MovieQuery(year=2013, genre="Horror")),
        (MovieKey(1994, "Léon: The Professional"), MovieQuery(actor="Jean Reno", min_rating=7.5)),
        (MovieKey(2001, 'Amélie ✓ 100% #1 + "quoted"'), MovieQuery()),
        (MovieKey(2013, "R" * 300), MovieQuery(year=2013, title_prefix="R")),
    ],
)
def test_cursor_roundtrips_to_the_same_key(key: MovieKey, query: MovieQuery) -> None:
    assert decode_cursor(encode_cursor(key, query), query) == key


def test_cursor_is_url_safe_text() -> None:
    cursor = encode_cursor(MovieKey(2013, "V/H/S + ?&#"), YEAR_2013)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_stays_valid_when_only_the_page_size_changes() -> None:
    cursor = encode_cursor(RUSH, MovieQuery(year=2013, limit=50))
    assert decode_cursor(cursor, MovieQuery(year=2013, limit=10)) == RUSH


@pytest.mark.parametrize(
    "other_query",
    [
        MovieQuery(year=2012, limit=50),
        MovieQuery(year=2013, genre="Drama", limit=50),
        MovieQuery(year=2013, title_prefix="R", limit=50),
        MovieQuery(year=2013, min_rating=8, limit=50),
        MovieQuery(limit=50),
    ],
)
def test_cursor_from_another_search_is_refused(other_query: MovieQuery) -> None:
    cursor = encode_cursor(RUSH, YEAR_2013)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, other_query)


@pytest.mark.parametrize(
    "change",
    [{"t": "Rust"}, {"y": 2012}, {"q": "0" * 16}, {"v": 1}, {"d": "0" * 16}, {"t": None}, {"y": "2013"}],
)
def test_tampered_cursor_is_refused(change: dict[str, Any]) -> None:
    # GIVEN a cursor this API issued, decoded, one field changed and encoded again
    tampered = cursor_of({**payload_of(encode_cursor(RUSH, YEAR_2013)), **change})
    # THEN it is refused
    with pytest.raises(InvalidCursor):
        decode_cursor(tampered, YEAR_2013)


def test_cursor_with_any_single_character_changed_is_refused() -> None:
    cursor = encode_cursor(RUSH, YEAR_2013)
    for position in range(len(cursor)):
        replacement = "A" if cursor[position] != "A" else "B"
        altered = cursor[:position] + replacement + cursor[position + 1 :]
        with pytest.raises(InvalidCursor):
            decode_cursor(altered, YEAR_2013)


@pytest.mark.parametrize(
    "payload",
    [
        {"y": 2013, "t": "Rush"},
        {"v": 2, "y": 2013, "t": "Rush", "q": YEAR_2013.fingerprint()},
        [2013, "Rush"],
        "Rush",
        2013,
        None,
        {},
    ],
)
def test_made_up_cursor_is_refused(payload: Any) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(payload), YEAR_2013)


def test_cursor_whose_year_is_outside_the_queried_year_is_refused() -> None:
    # A Query reads one partition: a start key in another one would make DynamoDB fail.
    cursor = encode_cursor(MovieKey(2012, "Rush"), YEAR_2013)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, YEAR_2013)


def test_cursor_whose_title_is_outside_the_prefix_is_refused() -> None:
    query = MovieQuery(year=2013, title_prefix="R")
    cursor = encode_cursor(MovieKey(2013, "Gravity"), query)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, query)


@pytest.mark.parametrize("year", [1869, 2101, 0, -1])
def test_cursor_with_a_year_out_of_range_is_refused(year: int) -> None:
    query = MovieQuery()
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(MovieKey(year, "Rush"), query), query)


def test_forged_cursor_with_a_title_that_is_not_utf8_is_refused() -> None:
    # GIVEN a cursor forged by someone who recomputed its digest, holding a lone surrogate:
    # valid JSON, but no stored title can hold one and DynamoDB would refuse it
    query = MovieQuery()
    fingerprint = query.fingerprint()
    forged = {"v": 2, "y": 2013, "t": "\ud800", "q": fingerprint, "d": _digest(2013, "\ud800", fingerprint)}
    # THEN it is refused before it reaches DynamoDB
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(forged), query)


@pytest.mark.parametrize("cut", [1, 2, 5, 20])
def test_truncated_cursor_is_refused(cut: int) -> None:
    cursor = encode_cursor(RUSH, YEAR_2013)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor[:-cut], YEAR_2013)


@pytest.mark.parametrize("cursor", ["!!!!", "not base64 at all", "%%%", "a", "====", "\x00\x01", "é"])
def test_cursor_that_is_not_base64_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, YEAR_2013)


def test_cursor_that_is_base64_of_binary_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(base64.urlsafe_b64encode(bytes(range(256))).decode(), YEAR_2013)


def test_huge_cursor_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidCursor) as error:
        decode_cursor("A" * 1_000_000, YEAR_2013)
    assert "too long" in error.value.detail


def test_cursor_holding_a_huge_number_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of({"v": 2, "y": 10**300, "t": "Rush"}), YEAR_2013)


def test_invalid_cursor_detail_tells_the_client_to_start_again() -> None:
    with pytest.raises(InvalidCursor) as error:
        decode_cursor("junk", YEAR_2013)
    assert "start again without a cursor" in error.value.detail


def test_forged_cursor_with_a_title_past_1024_utf8_bytes_is_refused() -> None:
    # 256 emoji are 1,024 bytes of UTF-8, a sort key at its limit; 260 are 1,040 bytes, past it.
    query = MovieQuery(year=2031)
    decode_cursor(encode_cursor(MovieKey(2031, "\U0001f600" * 256), query), query)
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(MovieKey(2031, "\U0001f600" * 260), query), query)


# -- positions in the search index --------------------------------------------------------------

ACTOR = MovieQuery(actor="Tom Hanks", limit=20)


@pytest.mark.parametrize(
    "position",
    [IndexPosition(0, "1994#Forrest Gump"), IndexPosition(2, None), IndexPosition(1, '08.5#2013#V/H/S ✓ "#"')],
)
def test_index_cursor_roundtrips_to_the_same_position(position: IndexPosition) -> None:
    assert decode_cursor(encode_cursor(position, ACTOR), ACTOR) == position


def test_index_cursor_from_another_search_is_refused() -> None:
    cursor = encode_cursor(IndexPosition(0, "1994#Forrest Gump"), ACTOR)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, MovieQuery(actor="Meg Ryan", limit=20))


@pytest.mark.parametrize("change", [{"i": 1}, {"s": "1995#Apollo 13"}, {"s": None}, {"q": "0" * 16}, {"y": 2013}])
def test_tampered_index_cursor_is_refused(change: dict[str, Any]) -> None:
    tampered = cursor_of({**payload_of(encode_cursor(IndexPosition(0, "1994#Forrest Gump"), ACTOR)), **change})
    with pytest.raises(InvalidCursor):
        decode_cursor(tampered, ACTOR)


@pytest.mark.parametrize(
    ("partition", "sort_key"),
    [(-1, None), (100, None), (True, None), ("0", None), (0, ""), (0, 7), (0, "\ud800"), (0, "x" * 1025)],
)
def test_forged_index_cursor_outside_what_dynamodb_accepts_is_refused(partition: Any, sort_key: Any) -> None:
    # GIVEN a cursor forged by someone who recomputed its digest
    fingerprint = ACTOR.fingerprint()
    forged = {
        "v": 2,
        "i": partition,
        "s": sort_key,
        "q": fingerprint,
        "d": _index_digest(partition, sort_key, fingerprint),
    }
    # THEN it is refused before it reaches DynamoDB
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(forged), ACTOR)


def test_a_key_cursor_cannot_pass_for_an_index_cursor() -> None:
    payload = payload_of(encode_cursor(RUSH, ACTOR))
    forged = {**payload, "i": 0, "s": "2013#Rush"}
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor_of(forged), ACTOR)
