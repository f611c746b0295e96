"""If-Match: the one entity tag a write is conditional on (RFC 9110 §13.1.1)."""

from __future__ import annotations

import pytest

from mvdb.api.preconditions import parse_if_match
from mvdb.api.problems import ProblemError


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


def test_a_quoted_star_is_an_entity_tag_that_matches_nothing_not_the_wildcard() -> None:
    with pytest.raises(ProblemError) as error:
        parse_if_match('"*"')
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
