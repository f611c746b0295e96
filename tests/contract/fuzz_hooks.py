"""Schemathesis hooks of the merge-patch fuzz run (``SCHEMATHESIS_HOOKS``, set by that run only).

A merge patch may restate its movie's key but not change it (422 ``key_mismatch``): with generated
``year`` and ``title`` nearly every patch stopped there, before the merge it is meant to exercise.
The run patches Rush (2013) (``schemathesis.toml``), so a generated key that the document's
``MoviePatch`` allows is restated as Rush's. A value the document forbids (a negative case: wrong
type, out of range) is left as generated, so that the request stays one the API must refuse.
"""

from __future__ import annotations

from typing import Any

import schemathesis

PATCHED_YEAR, PATCHED_TITLE = 2013, "Rush"


def _allowed_year(value: Any) -> bool:  # MoviePatch.year: integer 1870..2100
    return isinstance(value, int) and not isinstance(value, bool) and 1870 <= value <= 2100


def _allowed_title(value: Any) -> bool:  # MoviePatch.title: string of 1..300 characters
    return isinstance(value, str) and 1 <= len(value) <= 300


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    if isinstance(body, dict):
        if _allowed_year(body.get("year")):
            body["year"] = PATCHED_YEAR
        if _allowed_title(body.get("title")):
            body["title"] = PATCHED_TITLE
    return body
