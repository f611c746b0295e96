"""JSON Merge Patch (RFC 7396)."""

from __future__ import annotations

from typing import Any

__all__ = ["apply_merge_patch"]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Return ``target`` with ``patch`` merged in; neither argument is modified.

    An object patch merges member by member, ``null`` removes a member, and any other value
    (arrays included) replaces the target outright.
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    # Iterative, not recursive: a client's deeply nested patch must not exhaust the stack.
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = [(result, patch)]
    while pending:
        merged, changes = pending.pop()
        for name, value in changes.items():
            if value is None:
                merged.pop(name, None)
            elif isinstance(value, dict):
                current = merged.get(name)
                child = dict(current) if isinstance(current, dict) else {}
                merged[name] = child
                pending.append((child, value))
            else:
                merged[name] = value
    return result
