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
after the last item it holds. A page always
holds its first item, however large: the next page could not start anywhere else.

Why 5,000,000 bytes: 6 MB read as the smaller megabyte (6,000,000 bytes) leaves 1,000,000 for
what is not counted item by item: the page's framing (``count``, a cursor of at most 2,048
characters, the separators), the envelope's status and headers (about 1 KB) and a margin. One
item alone stays within Lambda's limit: a movie written through the API is at most
``MAX_BODY_BYTES`` (64 KiB) of request JSON, which the response escapes at most about twice
over; an item of DynamoDB's maximum, 400 KB (``mvdb load`` does not bound a movie below that), at
most about seven times (a control character: 1 byte stored, ``\\u0001`` in the envelope), 2.8 MB,
and a history record of two such images 5.7 MB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "LAMBDA_RESPONSE_LIMIT_BYTES",
    "PAGE_BUDGET_BYTES",
    "enveloped_size",
    "json_text",
    "take_within_budget",
]

# Lambda's limit on a synchronous invocation's response, "6 MB", read as 6 x 10^6 bytes: a
# response under it fits whichever megabyte AWS means (the local gateway enforces this figure).
LAMBDA_RESPONSE_LIMIT_BYTES = 6_000_000
PAGE_BUDGET_BYTES = 5_000_000
# Between two items of a page: ", " (json.dumps' default separator), never escaped again.
_SEPARATOR_BYTES = 2
# The most a character of JSON text can take in the envelope: 4 bytes of UTF-8 (or '"' and '\' at 2).
_MAX_BYTES_PER_CHARACTER = 4

T = TypeVar("T")


def json_text(value: Any) -> str:
    """``value`` as the API writes it in a body: ``json.dumps`` with non-ASCII characters as themselves."""
    return json.dumps(value, ensure_ascii=False)


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
    always taken, so a page never comes back empty while items remain.

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
        used += enveloped_size(text) + _SEPARATOR_BYTES
        if texts and used > budget:
            break
        texts.append(text)
    return len(texts), ", ".join(texts)
