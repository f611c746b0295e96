"""The Idempotency-Key field value: one RFC 8941 sf-string of 1 to 255 characters between its quotes."""

from __future__ import annotations

import pytest

from mvdb.api.idempotency import MAX_KEY_LENGTH, parse_idempotency_key
from mvdb.api.problems import ProblemError


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"a \\"quoted\\" \\\\ key"', 'a "quoted" \\ key'),  # RFC 8941 escapes: \" and \\
        ('"' + "k" * MAX_KEY_LENGTH + '"', "k" * MAX_KEY_LENGTH),
    ],
    ids=["uuid", "escapes", "longest"],
)
def test_a_quoted_string_is_a_key(value: str, key: str) -> None:
    assert parse_idempotency_key(value) == key


@pytest.mark.parametrize(
    "value",
    [
        "8e03978e-40d5-43e8-bc93-6894a57f9324",  # a token, not a string
        "42",
        '""',
        '"' + "k" * (MAX_KEY_LENGTH + 1) + '"',
        '"a", "b"',  # a list
        '"a";expires=1',  # parameters
        '"caf\u00e9"',  # sf-strings are printable ASCII
        '"tab\tinside"',
        '"unterminated',
        '"a\\nb"',  # the only escapes are \" and \\
    ],
    ids=[
        "token",
        "number",
        "empty",
        "too-long",
        "list",
        "parameters",
        "non-ascii",
        "control",
        "unterminated",
        "escape",
    ],
)
def test_anything_else_is_400_invalid_idempotency_key(value: str) -> None:
    with pytest.raises(ProblemError) as refused:
        parse_idempotency_key(value)
    assert (refused.value.status, refused.value.code) == (400, "invalid-idempotency-key")
