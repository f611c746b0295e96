"""Enough of IAM's policy evaluation for tests to state what a principal may and may not do, offline.

Source of the rules: IAM User Guide, "Policy evaluation logic" (same-account requests), "IAM JSON
policy elements: Condition operators", "Single-valued vs. multivalued context keys", "Permissions
boundaries for IAM entities", and the AWS KMS Developer Guide, "Key policies" (a key policy must
allow the account before any IAM policy counts).

* ``is_allowed``: identity policies alone: an explicit Deny wins, otherwise an Allow must match
  action, resource and every condition.
* ``evaluate``: one same-account request against every policy that takes part: the principal's
  identity policies, its permissions boundary, and the resource's policy (a bucket policy, a key
  policy). An explicit Deny in any of them wins; a resource policy that names the role (or
  ``*``) grants by itself, but only within the boundary; otherwise the identity policies must
  allow, the boundary too, and for KMS the key policy must delegate to the account's IAM.
* ``trust_admits``: whether a trust policy lets a web-identity token with these claims assume a role.

Modelled: ``*``/``?`` wildcards (actions case-insensitive), ``NotAction``, ``NotResource``,
``NotPrincipal``, policy variables such as ``${aws:PrincipalTag/DeploymentEnvironment}``, the
String*, Arn*, Bool, Null and Numeric* operators with ``IfExists``, the ``ForAnyValue:`` and
``ForAllValues:`` set operators over multivalued keys (a context value given as a list), and
IAM's rules for a missing key: it fails a positive operator, satisfies a negated one, fails
``ForAnyValue`` and satisfies ``ForAllValues``. Anything else (Date*, IpAddress, a list value
under a single-valued operator) raises instead of being guessed.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "Decision",
    "Request",
    "evaluate",
    "is_allowed",
    "principal_matches",
    "trust_admits",
    "wildcard_match",
]

ContextValue = str | Sequence[str]
Request = Mapping[str, ContextValue]  # request context: condition key -> value (a list if multivalued)
Document = Mapping[str, Any]
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericNotEquals": lambda a, b: a == b,  # negated below, like every *Not* operator
    "NumericLessThan": lambda a, b: a < b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@functools.cache
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # Compiled once per pattern: the gates evaluate the same few hundred policy strings many times.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's StringLike: ``*`` is any run of characters (also none), ``?`` exactly one."""
    return _wildcard_regex(pattern, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _substitute(text: str, context: Request) -> str | None:
    """Policy variables replaced from the request context; None if one is missing (no match)."""
    names = _VARIABLE.findall(text)
    if any(name not in context or not isinstance(context[name], str) for name in names):
        return None
    return _VARIABLE.sub(lambda m: str(context[m.group(1)]), text)


def _value_matches(base: str, actual: str, expected: list[Any], context: Request) -> bool:
    """Whether one request value matches any of the policy's values under a non-negated operator."""
    if base.startswith("Numeric"):
        compare = _NUMERIC.get(base)
        if compare is None:
            raise NotImplementedError(f"condition operator {base} is not modelled")
        return any(compare(float(actual), float(v)) for v in expected)
    patterns = [p for p in (_substitute(str(v), context) for v in expected) if p is not None]
    if base in ("StringEquals", "StringNotEquals"):
        return actual in patterns
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.lower() in (p.lower() for p in patterns)
    if base in ("StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return any(wildcard_match(p, actual) for p in patterns)
    if base == "Bool":
        return actual.lower() in (p.lower() for p in patterns)
    raise NotImplementedError(f"condition operator {base} is not modelled")


def _condition_holds(operator: str, key: str, expected: Any, context: Request) -> bool:
    if operator == "Null":
        wants_missing = str(_as_list(expected)[0]).lower() == "true"
        return (key not in context) == wants_missing
    qualifier, _, inner = operator.rpartition(":")
    if_exists = inner.endswith("IfExists")
    base = inner.removesuffix("IfExists")
    negated = "Not" in base
    expected_values = _as_list(expected)
    if qualifier in ("ForAnyValue", "ForAllValues"):
        if key not in context:
            # IAM: ForAllValues is true when the key is absent (no value fails it); ForAnyValue false.
            return qualifier == "ForAllValues"
        values = _as_list(context[key])
        each = [
            (not _value_matches(base, v, expected_values, context))
            if negated
            else _value_matches(base, v, expected_values, context)
            for v in values
        ]
        return any(each) if qualifier == "ForAnyValue" else all(each)
    if qualifier:
        raise NotImplementedError(f"condition qualifier {qualifier} is not modelled")
    if key not in context:
        # IAM: a missing key never satisfies a positive operator, always satisfies a negated one.
        return if_exists or negated
    actual = context[key]
    if not isinstance(actual, str):
        raise NotImplementedError(f"{key} is multivalued: use ForAnyValue/ForAllValues, not {operator}")
    found = _value_matches(base, actual, expected_values, context)
    return not found if negated else found


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Request) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in conditions.items()
        for key, expected in block.items()
    )


def _names_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(wildcard_match(a, action, ignore_case=True) for a in _as_list(statement["NotAction"]))
    return any(wildcard_match(a, action, ignore_case=True) for a in _as_list(statement["Action"]))


def _names_resource(statement: Mapping[str, Any], resource: str, context: Request) -> bool:
    if "NotResource" in statement:
        patterns = [_substitute(r, context) for r in _as_list(statement["NotResource"])]
        return not any(p is not None and wildcard_match(p, resource) for p in patterns)
    if "Resource" not in statement:  # trust policies name no resource
        return True
    patterns = [_substitute(r, context) for r in _as_list(statement["Resource"])]
    return any(p is not None and wildcard_match(p, resource) for p in patterns)


def _account_of(arn: str) -> str:
    return arn.split(":")[4] if arn.startswith("arn:") else arn


def principal_matches(principal_block: Any, principal_arn: str, *, for_deny: bool) -> bool:
    """Whether a resource policy's ``Principal`` names this IAM principal.

    ``*`` names everyone. An account (``123456789012`` or ``arn:...:root``) names every principal
    of that account for a Deny, but for an Allow it only delegates to that account's IAM policies
    (IAM User Guide, "AWS JSON policy elements: Principal"), so it grants nothing by itself.
    """
    if principal_block == "*":
        return True
    values = [str(v) for v in _as_list(principal_block.get("AWS", []))]
    for value in values:
        if value == "*" or value == principal_arn:
            return True
        is_account = re.fullmatch(r"\d{12}", value) or value.endswith(":root")
        if is_account and for_deny and _account_of(value) == _account_of(principal_arn):
            return True
    return False


def _statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Request,
    principal_arn: str | None,
    *,
    for_deny: bool,
) -> bool:
    if principal_arn is not None:  # a resource policy: the statement must name the principal
        if "NotPrincipal" in statement:
            if principal_matches(statement["NotPrincipal"], principal_arn, for_deny=True):
                return False
        elif not principal_matches(statement.get("Principal", {}), principal_arn, for_deny=for_deny):
            return False
    return (
        _names_action(statement, action)
        and _names_resource(statement, resource, context)
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def _statements(documents: Iterable[Document]) -> list[Mapping[str, Any]]:
    return [s for document in documents for s in _as_list(document["Statement"])]


def _verdict(
    documents: Iterable[Document], action: str, resource: str, context: Request, principal_arn: str | None = None
) -> Decision:
    statements = _statements(documents)
    if any(
        s["Effect"] == "Deny" and _statement_applies(s, action, resource, context, principal_arn, for_deny=True)
        for s in statements
    ):
        return Decision.EXPLICIT_DENY
    if any(
        s["Effect"] == "Allow" and _statement_applies(s, action, resource, context, principal_arn, for_deny=False)
        for s in statements
    ):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def is_allowed(documents: Iterable[Document], action: str, resource: str, context: Request) -> bool:
    """IAM's verdict for one request against identity policies (explicit Deny > Allow > implicit deny)."""
    return _verdict(documents, action, resource, context) is Decision.ALLOW


def _key_policy_admits(key_policy: Document, action: str, resource: str, context: Request, principal_arn: str) -> bool:
    """Whether an Allow of the key policy names the principal, ``*``, or the principal's account."""
    account = _account_of(principal_arn)
    for statement in _statements([key_policy]):
        block = statement.get("Principal", {})
        values = [str(v) for v in _as_list(block.get("AWS", []))] if block != "*" else ["*"]
        names = any(v in ("*", principal_arn, account) or v.endswith(f"::{account}:root") for v in values)
        if (
            statement["Effect"] == "Allow"
            and names
            and _names_action(statement, action)
            and _names_resource(statement, resource, context)
            and _conditions_hold(statement.get("Condition", {}), context)
        ):
            return True
    return False


def evaluate(
    action: str,
    resource: str,
    context: Request,
    *,
    principal_arn: str,
    identity_policies: Iterable[Document],
    permissions_boundary: Document | None = None,
    resource_policy: Document | None = None,
    resource_policy_must_delegate: bool = False,
) -> Decision:
    """IAM's verdict for one request made within one account.

    ``principal_arn`` is the role's ARN (``arn:aws:iam::<account>:role/<name>``);
    ``resource_policy_must_delegate`` is True for KMS keys, whose key policy must allow the
    account (or the principal) before identity policies count.
    """
    identity = list(identity_policies)
    verdicts = [_verdict(identity, action, resource, context)]
    boundary = _verdict([permissions_boundary], action, resource, context) if permissions_boundary else None
    if boundary is not None:
        verdicts.append(boundary)
    by_resource = (
        _verdict([resource_policy], action, resource, context, principal_arn) if resource_policy is not None else None
    )
    if by_resource is not None:
        verdicts.append(by_resource)
    if Decision.EXPLICIT_DENY in verdicts:
        return Decision.EXPLICIT_DENY
    within_boundary = boundary is None or boundary is Decision.ALLOW
    if by_resource is Decision.ALLOW and within_boundary:
        return Decision.ALLOW
    if resource_policy_must_delegate and (
        resource_policy is None or not _key_policy_admits(resource_policy, action, resource, context, principal_arn)
    ):
        return Decision.IMPLICIT_DENY
    if verdicts[0] is Decision.ALLOW and within_boundary:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


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
