"""How much of a page fits in one response: a byte budget beside the page's count.

A page is returned by Lambda to API Gateway, and Lambda refuses to return more than 6 MB from
a synchronous invocation ("Invocation payload (request and response): 6 MB each for request and
response (synchronous)", AWS Lambda developer guide, "Lambda quotas"; the Invoke API reference:
"For synchronous invocations, the maximum payload size is 6 MB"). API Gateway then answers 502
(AWS Lambda developer guide, "Handling Lambda errors with an API Gateway API"). What counts is
the function's whole result as the runtime sends it: the API Gateway proxy envelope, JSON, with
the body a JSON string inside it, so the body's JSON is escaped a second time.

So every item of a page is counted as it will travel: its JSON text (``json_text``, reused for the
body), escaped again as a string of the envelope (``enveloped_size``), in UTF-8 bytes. A page ends
early, before the item that would take it over ``PAGE_BUDGET_BYTES``, and its cursor resumes right
after the last item it holds. A page always holds its first item, however large (short of what
no response can carry, below): the next page could not start anywhere else.

Why 5,000,000 bytes: 6 MB read as the smaller megabyte (6,000,000 bytes) leaves 1,000,000 for
what is not counted item by item: the page's framing (``count``, a cursor of at most 2,048
characters, the separators), the envelope's status and headers (about 1 KB) and a margin.

One item alone fits in a response whenever the API or ``mvdb load`` wrote it: both validate a
movie with the model (``MovieCreate``: a plot of 5,000 characters, three lists of 100 names of
200), about 67,500 characters, each at most 7 bytes in the envelope (a control character:
``\\u0001`` in the body, its backslash escaped again), under 0.5 MB; a history record holds two
such images. Only an item written directly into the table (DynamoDB allows 400 KB) may be too
large for any response: a number stored as ``1E+125`` (2 bytes) is written out in 126 digits.
Such an item is never sent and never skipped: ``ItemTooLarge`` (over ``MAX_ITEM_BYTES``),
which the service reports as ``MovieTooLarge``, until a writer replaces or deletes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "LAMBDA_RESPONSE_LIMIT_BYTES",
    "MAX_ITEM_BYTES",
    "PAGE_BUDGET_BYTES",
    "ItemTooLarge",
    "enveloped_size",
    "fits_alone",
    "json_text",
    "take_within_budget",
]

# Lambda's limit on a synchronous invocation's response, "6 MB", read as 6 x 10^6 bytes: a
# response under it fits whichever megabyte AWS means (the local gateway enforces this figure).
LAMBDA_RESPONSE_LIMIT_BYTES = 6_000_000
PAGE_BUDGET_BYTES = 5_000_000
# The most one item alone may take: what is left of the limit once the status, headers and a page's
# framing (under 10 KB) are in.
MAX_ITEM_BYTES = LAMBDA_RESPONSE_LIMIT_BYTES - 100_000
# Between two items of a page: ", " (json.dumps' default separator), never escaped again.
_SEPARATOR_BYTES = 2
# The most a character of JSON text can take in the envelope: 4 bytes of UTF-8 (or '"' and '\' at 2).
_MAX_BYTES_PER_CHARACTER = 4

T = TypeVar("T")
# Built once: ``json.dumps`` with any argument of its own builds a new encoder on every call. A
# document read from JSON or DynamoDB holds no reference cycle, so the encoder does not track
# the containers it is inside of (``check_circular``); the text is the same.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)


class ItemTooLarge(Exception):
    """An item alone takes more than ``MAX_ITEM_BYTES``: no response can carry it. ``size``: its bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes in the envelope")
        self.size = size


def json_text(value: Any) -> str:
    """``value`` as the API writes it in a body: ``json.dumps`` with non-ASCII characters as themselves."""
    return _JSON_ENCODER.encode(value)


def fits_alone(text: str) -> int | None:
    """None when ``text`` (JSON made by ``json_text``) fits in one response by itself; else its ``enveloped_size``.

    Its length in characters is checked first, so the JSON of an ordinary movie is never encoded to be counted.
    """
    if len(text) * _MAX_BYTES_PER_CHARACTER <= MAX_ITEM_BYTES:
        return None
    size = enveloped_size(text)
    return size if size > MAX_ITEM_BYTES else None


def enveloped_size(text: str) -> int:
    """The bytes ``text`` (JSON made by ``json_text``) takes as part of a JSON string in the proxy envelope.

    The Lambda runtime for Python 3.12 and later encodes the handler's result with
    ``ensure_ascii=False`` (aws-lambda-python-runtime-interface-client, lambda_runtime_marshaller):
    each character is its UTF-8 bytes, except ``"`` and ``\\``, which gain a backslash. JSON text
    holds no raw control character (``json.dumps`` escapes them), so nothing else grows.
    """
    encoded = text.encode("utf-8")
    return len(encoded) + encoded.count(b'"') + encoded.count(b"\\")


def take_within_budget(
    items: Sequence[T], value_of: Callable[[T], Any], budget: int = PAGE_BUDGET_BYTES
) -> tuple[int, str]:
    """How many of ``items``, from the first, fit in ``budget``, and their values' JSON as the members of an array.

    The members' text is what ``json_text`` of the list of those values holds between its
    brackets (``a, b, c``), counted as ``enveloped_size`` with its separators. The first item is
    always taken, so a page never comes back empty while items remain, unless it is too large for
    any response: then ``ItemTooLarge`` is raised.

    One serialization in the common case: the whole list at once (``json.dumps`` of a list is
    faster than of its items one by one). Its length in characters bounds its size (at most 4 bytes
    in the envelope per character: a 4-byte UTF-8 character, or ``"`` and ``\\`` at 2), so a page
    of under ``budget / 4`` characters is not even encoded to be counted. Only a page over the
    budget is serialized again, item by item, to find where it ends.
    """
    values = [value_of(item) for item in items]
    whole = json_text(values)
    if len(whole) * _MAX_BYTES_PER_CHARACTER <= budget or enveloped_size(whole) <= budget:
        return len(values), whole[1:-1]
    texts: list[str] = []
    used = 0
    for value in values:
        text = json_text(value)
        size = enveloped_size(text)
        used += size + _SEPARATOR_BYTES
        if texts and used > budget:
            break
        if size > MAX_ITEM_BYTES:  # the first item: only it may be taken over the budget
            raise ItemTooLarge(size)
        texts.append(text)
    return len(texts), ", ".join(texts)
