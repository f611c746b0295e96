"""Schemathesis hooks of the merge-patch fuzz run (``SCHEMATHESIS_HOOKS``, set by that run only).

A merge patch may restate its movie's key but not change it (422 ``key_mismatch``): with generated
``year`` and ``title`` nearly every patch stopped there, before the merge it is meant to exercise.
The run patches Rush (2013) (``schemathesis.toml``), so a generated key is restated as Rush's.
"""

from __future__ import annotations

from typing import Any

import schemathesis

PATCHED_MOVIE = {"year": 2013, "title": "Rush"}


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    if isinstance(body, dict):
        for name, value in PATCHED_MOVIE.items():
            if name in body:
                body[name] = value
    return body
