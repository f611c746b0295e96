"""Enough of IAM's policy evaluation for tests to state what a role may and may not do, offline.

``is_allowed`` answers "may this principal call ``action`` on ``resource`` in this request
context?" the way IAM does for identity policies: an explicit Deny wins, otherwise some Allow
must match action, resource and every condition. ``trust_admits`` answers "does this trust
policy let a web-identity token with these claims assume the role?".

Covered: ``*``/``?`` wildcards (actions case-insensitive), policy variables such as
``${aws:PrincipalTag/DeploymentEnvironment}`` in resources and condition values, and the
condition operators the bootstrap template uses (String*, Arn*, Bool, Null, with IfExists),
including IAM's rule that a missing key fails a positive operator and satisfies a negated one.
Anything else (NotAction, NotResource, ForAnyValue:...) raises instead of being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Request", "is_allowed", "trust_admits", "wildcard_match"]

Request = Mapping[str, str]  # request context: condition key -> value
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's StringLike: ``*`` is any run of characters (also none), ``?`` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _substitute(text: str, context: Request) -> str | None:
    """Policy variables replaced from the request context; None if one is missing (no match)."""
    missing = [name for name in _VARIABLE.findall(text) if name not in context]
    if missing:
        return None
    return _VARIABLE.sub(lambda m: context[m.group(1)], text)


def _condition_holds(operator: str, key: str, expected: Any, context: Request) -> bool:
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise NotImplementedError(f"set operator {operator} is not modelled")
    if operator == "Null":
        wants_missing = str(_as_list(expected)[0]).lower() == "true"
        return (key not in context) == wants_missing
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    if key not in context:
        # IAM: a missing key never satisfies a positive operator, always satisfies a negated one.
        return if_exists or negated
    actual = context[key]
    patterns = [p for p in (_substitute(str(v), context) for v in _as_list(expected)) if p is not None]
    if base in ("StringEquals", "StringNotEquals"):
        found = actual in patterns
    elif base in ("StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        found = any(wildcard_match(p, actual) for p in patterns)
    elif base == "Bool":
        found = actual.lower() in (p.lower() for p in patterns)
    else:
        raise NotImplementedError(f"condition operator {operator} is not modelled")
    return not found if negated else found


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Request) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in conditions.items()
        for key, expected in block.items()
    )


def _statement_matches(statement: Mapping[str, Any], action: str, resource: str, context: Request) -> bool:
    for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
        if unsupported in statement:
            raise NotImplementedError(f"{unsupported} is not modelled")
    if not any(wildcard_match(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    resources = [_substitute(r, context) for r in _as_list(statement["Resource"])]
    if not any(r is not None and wildcard_match(r, resource) for r in resources):
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


def _statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for document in documents for s in _as_list(document["Statement"])]


def is_allowed(documents: Iterable[Mapping[str, Any]], action: str, resource: str, context: Request) -> bool:
    """IAM's verdict for one request against identity policies (explicit Deny > Allow > implicit deny)."""
    statements = _statements(documents)
    matching = [s for s in statements if _statement_matches(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in matching):
        return False
    return any(s["Effect"] == "Allow" for s in matching)


def trust_admits(trust_policy: Mapping[str, Any], principal: Mapping[str, str], claims: Request) -> bool:
    """Whether a token of ``principal`` (e.g. {"Federated": provider ARN}) with ``claims`` may assume the role."""
    for statement in _as_list(trust_policy["Statement"]):
        if statement["Effect"] != "Allow":
            continue
        if "sts:AssumeRoleWithWebIdentity" not in _as_list(statement["Action"]):
            continue
        (kind, value), *_ = principal.items()
        if value not in _as_list(statement.get("Principal", {}).get(kind, [])):
            continue
        if _conditions_hold(statement.get("Condition", {}), claims):
            return True
    return False
