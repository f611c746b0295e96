"""Reading template values as the project rules need them (shared by the rules of this package)."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    """``value`` itself if it is a list, else a list of it (IAM and CloudFormation allow both)."""
    return value if isinstance(value, list) else [value]


def text_of(value: Any) -> str | None:
    """A name as written: a literal, or the template string of an Fn::Sub; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        return text if isinstance(text, str) else None
    return None
