"""A page's byte budget, counted as Lambda counts a response (``mvdb.domain.paging``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mvdb.api.movies import page_body
from mvdb.domain.paging import (
    MAX_ITEM_BYTES,
    PAGE_BUDGET_BYTES,
    ItemTooLarge,
    enveloped_size,
    fits_alone,
    json_text,
    take_within_budget,
)

# Every kind of character that grows on its way out: quotes and backslashes (escaped twice),
# control characters (\u0001 in the body, then its backslash escaped), 2-, 3- and 4-byte UTF-8.
ESCAPED = 'say "hi" \\ back\x01\x1f\n\t é € 🎬'


def envelope_bytes_of(body: str) -> int:
    """The bytes ``body`` adds to a proxy result as the Lambda runtime encodes it (ensure_ascii=False)."""
    with_body = json.dumps({"body": body}, ensure_ascii=False).encode()
    empty = json.dumps({"body": ""}, ensure_ascii=False).encode()
    return len(with_body) - len(empty)


@pytest.mark.parametrize("value", [ESCAPED, {"plot": ESCAPED * 50, "rank": 1}, ["a", "\\", '"'], "plain"])
def test_an_item_is_counted_as_the_bytes_it_adds_to_the_enveloped_response(value: Any) -> None:
    text = json_text(value)
    assert enveloped_size(text) == envelope_bytes_of(text)


def test_escaping_is_counted_in_bytes_not_characters() -> None:
    text = json_text("\x01" * 100)  # 100 characters, 600 in the body, 700 bytes in the envelope
    assert enveloped_size(text) == 2 * 2 + 700  # its two quotes are escaped too


def members(text: str) -> list[Any]:
    parsed: list[Any] = json.loads(f"[{text}]")
    return parsed


def test_a_run_of_items_ends_before_the_one_that_would_exceed_the_budget() -> None:
    items = [{"n": n, "text": '"' * 100} for n in range(10)]
    one = enveloped_size(json_text(items[0])) + 2  # an item and its separator
    taken, text = take_within_budget(items, lambda item: item, budget=3 * one + one // 2)
    assert (taken, [member["n"] for member in members(text)]) == (3, [0, 1, 2])


def test_items_within_the_budget_are_all_taken_as_the_members_of_one_array() -> None:
    items = [{"title": ESCAPED}, {"title": "Rush"}]
    assert take_within_budget(items, lambda item: item, budget=1_000) == (2, json_text(items)[1:-1])


def test_the_first_item_is_taken_even_when_it_alone_exceeds_the_budget() -> None:
    taken, text = take_within_budget([{"text": "x" * 1000}, {"text": "y"}], lambda item: item, budget=10)
    assert (taken, text) == (1, json_text({"text": "x" * 1000}))


@pytest.mark.parametrize("cursor", [None, "abc_-9"])
def test_a_page_body_is_the_json_of_the_whole_page(cursor: str | None) -> None:
    items = [{"title": ESCAPED, "year": 2013}, {"title": "Rush", "info": {}}]
    expected: dict[str, Any] = {"items": items, "count": 2} | ({"next_cursor": cursor} if cursor else {})
    _, text = take_within_budget(items, lambda item: item)
    assert page_body(text, 2, cursor) == json.dumps(expected, ensure_ascii=False)


def test_an_item_too_large_for_any_response_is_refused_not_taken() -> None:
    huge = {"plot": '"' * (MAX_ITEM_BYTES // 4 + 1)}  # each '"' is 4 bytes in the envelope
    with pytest.raises(ItemTooLarge) as raised:
        take_within_budget([huge, {"plot": "small"}], lambda item: item)
    assert raised.value.size == enveloped_size(json_text(huge))


def test_an_item_over_the_budget_but_within_the_limit_is_still_taken_alone() -> None:
    large = {"plot": "x" * (PAGE_BUDGET_BYTES + 10)}
    assert take_within_budget([large, {"plot": "small"}], lambda item: item)[0] == 1


def test_only_json_too_large_for_a_response_is_reported_by_fits_alone() -> None:
    assert fits_alone(json_text({"plot": "x" * 1_000})) is None
    assert fits_alone(json_text("x" * (MAX_ITEM_BYTES // 4 + 10))) is None  # long, but 1 byte a character
    too_large = json_text("\\" * (MAX_ITEM_BYTES // 4 + 10))
    assert fits_alone(too_large) == enveloped_size(too_large)
