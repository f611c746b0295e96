"""JSON Merge Patch, checked against every example of RFC 7396 Appendix A."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mvdb.domain.merge_patch import apply_merge_patch

# (original, patch, result) exactly as in RFC 7396, Appendix A.
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "expected"), RFC_7396_EXAMPLES)
def test_merge_patch_gives_the_rfc_7396_result(original: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(original, patch) == expected


@pytest.mark.parametrize(("original", "patch", "expected"), RFC_7396_EXAMPLES)
def test_merge_patch_modifies_neither_argument(original: Any, patch: Any, expected: Any) -> None:
    original_before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    apply_merge_patch(original, patch)
    assert (original, patch) == (original_before, patch_before)


def test_merge_patch_of_a_movie_info_changes_only_the_named_fields() -> None:
    info = {"rating": 8.3, "genres": ["Action", "Drama"], "plot": "A rivalry."}
    patched = apply_merge_patch(info, {"rating": 8.5, "plot": None, "genres": ["Sport"]})
    assert patched == {"rating": 8.5, "genres": ["Sport"]}


def test_merge_patch_survives_nesting_deeper_than_the_recursion_limit() -> None:
    # GIVEN a patch nested 5,000 levels deep (25 KB of JSON: well under the body limit)
    depth = 5000
    patch: dict[str, Any] = {}
    innermost = patch
    for _ in range(depth):
        innermost["a"] = {}
        innermost = innermost["a"]
    innermost["a"] = 1
    # WHEN it is merged THEN no RecursionError escapes, and the value arrives at the bottom
    merged = apply_merge_patch({}, patch)
    for _ in range(depth):
        merged = merged["a"]
    assert merged == {"a": 1}
