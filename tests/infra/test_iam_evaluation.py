"""The IAM evaluator the infrastructure tests rely on behaves as the IAM User Guide says.

Each test states one rule of "Policy evaluation logic" or "Condition operators" with the
smallest policy that shows it; a mistake here would make every escalation test meaningless.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.iam_evaluation import Decision, evaluate, is_allowed, principal_matches, wildcard_match

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mvdb-github-deploy-dev"
OBJECT = "arn:aws:s3:::artifacts/mvdb/dev/code.zip"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str] = "s3:PutObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str] = "s3:PutObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- matching ---------------------------------------------------------------------------------


def test_wildcards_follow_string_like() -> None:
    assert wildcard_match("repo:acme/mvdb:*", "repo:acme/mvdb:environment:dev")
    assert not wildcard_match("repo:acme/mvdb:*", "repo:acme/mvdb-fork:environment:dev")
    assert wildcard_match("a?c", "abc") and not wildcard_match("a?c", "ac")


def test_actions_match_case_insensitively_resources_do_not() -> None:
    assert is_allowed([policy(allow("S3:putobject", OBJECT))], "s3:PutObject", OBJECT, {})
    assert not is_allowed([policy(allow("s3:PutObject", OBJECT.upper()))], "s3:PutObject", OBJECT, {})


def test_an_explicit_deny_beats_any_allow() -> None:
    assert not is_allowed([policy(allow()), policy(deny())], "s3:PutObject", OBJECT, {})


def test_nothing_is_allowed_without_an_allow() -> None:
    assert not is_allowed([policy(allow("s3:GetObject"))], "s3:PutObject", OBJECT, {})


def test_not_action_matches_every_other_action() -> None:
    boundary = policy({"Effect": "Deny", "NotAction": ["s3:*", "kms:*"], "Resource": "*"})
    assert not is_allowed([policy(allow("*")), boundary], "iam:CreateRole", "*", {})
    assert is_allowed([policy(allow("*")), boundary], "s3:GetObject", OBJECT, {})


def test_not_resource_matches_every_other_resource() -> None:
    fence = policy({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::artifacts/mvdb/dev/*"})
    assert is_allowed([policy(allow("s3:*")), fence], "s3:PutObject", OBJECT, {})
    assert not is_allowed([policy(allow("s3:*")), fence], "s3:PutObject", "arn:aws:s3:::artifacts/mvdb/prod/x", {})


def test_policy_variables_come_from_the_request_and_a_missing_one_matches_nothing() -> None:
    scoped = policy(allow("s3:PutObject", "arn:aws:s3:::artifacts/mvdb/${aws:PrincipalTag/env}/*"))
    assert is_allowed([scoped], "s3:PutObject", OBJECT, {"aws:PrincipalTag/env": "dev"})
    assert not is_allowed([scoped], "s3:PutObject", OBJECT, {"aws:PrincipalTag/env": "prod"})
    assert not is_allowed([scoped], "s3:PutObject", OBJECT, {})


# --- condition operators ----------------------------------------------------------------------


def allowed_when(operator: str, key: str, value: Any, context: dict[str, Any]) -> bool:
    return is_allowed([policy(allow(Condition={operator: {key: value}}))], "s3:PutObject", OBJECT, context)


def test_a_missing_key_fails_a_positive_operator_and_satisfies_a_negated_one() -> None:
    assert not allowed_when("StringEquals", "s3:x-amz-server-side-encryption", "aws:kms", {})
    assert allowed_when("StringNotEquals", "s3:x-amz-server-side-encryption", "aws:kms", {})
    assert allowed_when("StringEqualsIfExists", "s3:x-amz-server-side-encryption", "aws:kms", {})


def test_null_tests_presence() -> None:
    assert allowed_when("Null", "s3:x-amz-server-side-encryption", "true", {})
    assert not allowed_when("Null", "s3:x-amz-server-side-encryption", "false", {})
    assert allowed_when(
        "Null", "s3:x-amz-server-side-encryption", "false", {"s3:x-amz-server-side-encryption": "AES256"}
    )


def test_several_values_of_one_key_are_alternatives() -> None:
    values = ["lambda.amazonaws.com", "codedeploy.amazonaws.com"]
    assert allowed_when("StringEquals", "iam:PassedToService", values, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed_when(
        "StringNotEquals", "iam:PassedToService", values, {"iam:PassedToService": "lambda.amazonaws.com"}
    )


def test_string_equals_ignore_case() -> None:
    assert allowed_when("StringEqualsIgnoreCase", "aws:RequestTag/env", "DEV", {"aws:RequestTag/env": "dev"})
    assert not allowed_when("StringEquals", "aws:RequestTag/env", "DEV", {"aws:RequestTag/env": "dev"})


@pytest.mark.parametrize(
    ("operator", "limit", "actual", "holds"),
    [
        ("NumericLessThanEquals", "3600", "3600", True),
        ("NumericLessThanEquals", "3600", "3601", False),
        ("NumericLessThan", "3600", "3600", False),
        ("NumericGreaterThan", "7", "30", True),
        ("NumericGreaterThanEquals", "7", "6", False),
        ("NumericEquals", "7", "7.0", True),
        ("NumericNotEquals", "7", "7", False),
    ],
)
def test_numeric_operators_compare_numbers(operator: str, limit: str, actual: str, holds: bool) -> None:
    assert (
        allowed_when(
            operator,
            "kms:ScheduleKeyDeletionPendingWindowInDays",
            limit,
            {"kms:ScheduleKeyDeletionPendingWindowInDays": actual},
        )
        is holds
    )


def test_for_any_value_needs_one_request_value_to_match() -> None:
    tag_keys = {"aws:TagKeys": ["owner", "environment"]}
    assert allowed_when("ForAnyValue:StringEquals", "aws:TagKeys", "environment", tag_keys)
    assert not allowed_when("ForAnyValue:StringEquals", "aws:TagKeys", "cost-centre", tag_keys)
    assert not allowed_when("ForAnyValue:StringEquals", "aws:TagKeys", "environment", {})


def test_for_all_values_needs_every_request_value_to_match_and_holds_without_the_key() -> None:
    allowed_keys = ["owner", "environment"]
    assert allowed_when("ForAllValues:StringEquals", "aws:TagKeys", allowed_keys, {"aws:TagKeys": ["owner"]})
    assert not allowed_when("ForAllValues:StringEquals", "aws:TagKeys", allowed_keys, {"aws:TagKeys": ["owner", "x"]})
    assert allowed_when("ForAllValues:StringEquals", "aws:TagKeys", allowed_keys, {})


def test_a_negated_set_operator_negates_per_value() -> None:
    assert allowed_when(
        "ForAnyValue:StringNotEquals", "aws:TagKeys", "environment", {"aws:TagKeys": ["environment", "x"]}
    )
    assert not allowed_when(
        "ForAnyValue:StringNotEquals", "aws:TagKeys", "environment", {"aws:TagKeys": ["environment"]}
    )


def test_an_unmodelled_operator_or_a_list_under_a_single_valued_operator_raises() -> None:
    with pytest.raises(NotImplementedError):
        allowed_when("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", {"aws:CurrentTime": "x"})
    with pytest.raises(NotImplementedError):
        allowed_when("StringEquals", "aws:TagKeys", "environment", {"aws:TagKeys": ["environment"]})


# --- resource policies, boundaries, key policies ----------------------------------------------


def bucket_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return policy(*statements)


def test_a_bucket_policy_deny_binds_a_principal_its_identity_policy_allows() -> None:
    refuse_aes = deny(Principal="*", Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}})
    decision = evaluate(
        "s3:PutObject",
        OBJECT,
        {"s3:x-amz-server-side-encryption": "AES256"},
        principal_arn=ROLE,
        identity_policies=[policy(allow())],
        resource_policy=bucket_policy(refuse_aes),
    )
    assert decision is Decision.EXPLICIT_DENY


def test_a_bucket_policy_that_names_the_role_grants_without_an_identity_policy() -> None:
    grant = allow("s3:GetObject", OBJECT, Principal={"AWS": ROLE})
    decision = evaluate(
        "s3:GetObject", OBJECT, {}, principal_arn=ROLE, identity_policies=[], resource_policy=bucket_policy(grant)
    )
    assert decision is Decision.ALLOW


def test_a_bucket_policy_that_names_the_account_only_delegates_to_iam() -> None:
    to_account = allow("s3:GetObject", OBJECT, Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    decision = evaluate(
        "s3:GetObject", OBJECT, {}, principal_arn=ROLE, identity_policies=[], resource_policy=bucket_policy(to_account)
    )
    assert decision is Decision.IMPLICIT_DENY


def test_a_deny_naming_the_account_binds_its_roles() -> None:
    assert principal_matches({"AWS": ACCOUNT}, ROLE, for_deny=True)
    assert not principal_matches({"AWS": ACCOUNT}, ROLE, for_deny=False)
    assert not principal_matches({"AWS": "210987654321"}, ROLE, for_deny=True)


def test_not_principal_deny_spares_only_the_principals_it_names() -> None:
    only_dev = {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}
    other = f"arn:aws:iam::{ACCOUNT}:role/mvdb-github-deploy-prod"
    both = {"identity_policies": [policy(allow("s3:*"))], "resource_policy": bucket_policy(only_dev)}
    assert evaluate("s3:PutObject", OBJECT, {}, principal_arn=ROLE, **both) is Decision.ALLOW
    assert evaluate("s3:PutObject", OBJECT, {}, principal_arn=other, **both) is Decision.EXPLICIT_DENY


def test_a_permissions_boundary_caps_what_identity_policies_grant() -> None:
    everything = policy(allow("*"))
    boundary = policy(allow("s3:*", "arn:aws:s3:::artifacts/mvdb/dev/*"))
    kwargs = {"principal_arn": ROLE, "identity_policies": [everything], "permissions_boundary": boundary}
    assert evaluate("s3:PutObject", OBJECT, {}, **kwargs) is Decision.ALLOW
    assert evaluate("iam:CreateRole", "*", {}, **kwargs) is Decision.IMPLICIT_DENY
    assert evaluate("s3:PutObject", "arn:aws:s3:::artifacts/mvdb/prod/x", {}, **kwargs) is Decision.IMPLICIT_DENY


def test_a_boundary_also_caps_a_resource_policy_grant_to_the_role() -> None:
    grant = allow("s3:GetObject", OBJECT, Principal={"AWS": ROLE})
    decision = evaluate(
        "s3:GetObject",
        OBJECT,
        {},
        principal_arn=ROLE,
        identity_policies=[],
        permissions_boundary=policy(allow("kms:*")),
        resource_policy=bucket_policy(grant),
    )
    assert decision is Decision.IMPLICIT_DENY


def test_a_key_policy_must_delegate_to_the_account_before_iam_policies_count() -> None:
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0b1c"
    identity = [policy(allow("kms:Decrypt", key))]
    root = allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    service_only = allow("kms:*", "*", Principal={"Service": "logs.amazonaws.com"})
    common = {"principal_arn": ROLE, "identity_policies": identity, "resource_policy_must_delegate": True}
    assert evaluate("kms:Decrypt", key, {}, resource_policy=policy(root), **common) is Decision.ALLOW
    assert evaluate("kms:Decrypt", key, {}, resource_policy=policy(service_only), **common) is Decision.IMPLICIT_DENY
