"""Who may use the stack's observability key, alarm topic and canary secret, asked of the policies themselves.

Each test evaluates the application's policies (the whole application, nested stacks linked in,
deployed as ``mvdb-prod`` in one account) with the project's IAM evaluator
(``tests/infra/iam_evaluation.py``) for a concrete request: a principal, an action, a resource
and the request context the service sends. A resource policy applies to a principal when its
``Principal`` names it: ``"*"``, the service, the role, or the account (``...:root``: in a key
policy, the account delegating to IAM, so the principal's own policy must allow too). Within
the account a request is allowed when the identity policy or the resource policy allows it and
neither denies it (IAM user guide, "Policy evaluation logic"). Each property has a broken twin
that the same check refuses, so the checks can fail.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tests.infra.cfn import Template, as_list
from tests.infra.iam_evaluation import is_allowed

pytestmark = pytest.mark.infra

ACCOUNT, OTHER_ACCOUNT, REGION, STACK = "111122223333", "444455556666", "us-east-1", "mvdb-prod"
CANARY_ID = "0b9d5f3e-1c2a-4e7b-9a6d-3f8e2c1b0a97"  # a canary's Id: a UUID
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-alarms"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-0000-4000-8000-000000000000"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{STACK}/canary-client-AbCdEf"
OPS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/operator"
_SUB = re.compile(r"\$\{([^}]+)\}")


def concrete(value: Any, refs: Mapping[str, str]) -> Any:
    """``value`` as deployed: pseudo parameters, the stack's name, the canary's Id and ``refs`` filled in.

    Anything else a deployed account decides is written ``<name>``, which matches no ARN of interest.
    """
    if isinstance(value, list):
        return [concrete(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        known = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            **refs,
        }
        return _SUB.sub(
            lambda m: CANARY_ID if m.group(1).endswith(".Id") else known.get(m.group(1), f"<{m.group(1)}>"),
            value["Fn::Sub"],
        )
    if set(value) == {"Ref"}:
        return {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, **refs}.get(value["Ref"], f"<{value['Ref']}>")
    if set(value) == {"Fn::GetAtt"}:
        attribute = ".".join(value["Fn::GetAtt"])
        return {"ObservabilityKey.Arn": KEY}.get(attribute, f"<{attribute}>")
    return {k: concrete(v, refs) for k, v in value.items()}


def _principal_matches(statement: Mapping[str, Any], principal: Mapping[str, str]) -> bool:
    named = statement.get("Principal")
    if named == "*":
        return True
    (kind, who), *_ = principal.items()
    names = as_list(named.get(kind, [])) if isinstance(named, dict) else []
    if kind == "AWS":
        account = who.split(":")[4]
        return any(n in ("*", who, f"arn:aws:iam::{account}:root") for n in names)
    return who in names


def _applying(document: Mapping[str, Any], principal: Mapping[str, str]) -> dict[str, Any]:
    return {"Statement": [s for s in as_list(document["Statement"]) if _principal_matches(s, principal)]}


def allowed(
    resource_policy: Mapping[str, Any],
    principal: Mapping[str, str],
    action: str,
    resource: str,
    context: Mapping[str, str],
    identity_policies: Iterable[Mapping[str, Any]] = (),
) -> bool:
    """IAM's verdict within one account: some Allow (identity or resource policy) and no Deny in either."""
    applying = _applying(resource_policy, principal)
    documents = [applying, *identity_policies]
    if any(
        s["Effect"] == "Deny" and is_allowed([{"Statement": [{**s, "Effect": "Allow"}]}], action, resource, context)
        for document in documents
        for s in as_list(document["Statement"])
    ):
        return False
    return any(is_allowed([document], action, resource, context) for document in documents)


def key_allows(
    key_policy: Mapping[str, Any], principal: Mapping[str, str], action: str, context: Mapping[str, str]
) -> bool:
    """A key policy's own verdict (a root principal statement also needs the caller's IAM policy: given here)."""
    return allowed(key_policy, principal, action, "*", context)


@pytest.fixture(scope="module")
def prod(template: Template) -> Template:
    return template.with_parameters(Environment="prod", SyntheticCanary="Enabled")


@pytest.fixture(scope="module")
def key_policy(prod: Template) -> dict[str, Any]:
    return dict(concrete(prod.resolve(prod.properties("ObservabilityKey")["KeyPolicy"]), {}))


@pytest.fixture(scope="module")
def topic_policy(prod: Template) -> dict[str, Any]:
    (policy,) = prod.of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    return dict(concrete(prod.resolve(policy["Properties"]["PolicyDocument"]), {"AlarmTopic": TOPIC}))


# -- the observability key and CloudWatch Logs -----------------------------------------------------

LOGS = {"Service": f"logs.{REGION}.amazonaws.com"}


def _logs_may_use_key_for(key_policy: Mapping[str, Any], log_group: str) -> bool:
    context = {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}"}
    return all(key_allows(key_policy, LOGS, action, context) for action in ("kms:Encrypt", "kms:Decrypt"))


def test_cloudwatch_logs_may_use_the_key_for_every_log_group_of_the_application(
    prod: Template, key_policy: dict[str, Any]
) -> None:
    groups = {
        name: concrete(group["Properties"]["LogGroupName"], {})
        for name, group in prod.of_type("AWS::Logs::LogGroup").items()
        if group["Properties"].get("KmsKeyId") == {"Fn::GetAtt": ["ObservabilityKey", "Arn"]}
    }
    # API function, hook, search index function, audit trail function, API access, WAF, canary,
    # restore validation, backup job events
    assert len(groups) == 9
    assert {name: _logs_may_use_key_for(key_policy, group) for name, group in groups.items()} == dict.fromkeys(
        groups, True
    )


@pytest.mark.parametrize(
    "log_group",
    [
        "/aws/lambda/another-app/movies",
        "/aws/lambda/mvdb-prod-payments/movies",
        "aws-waf-logs-mvdb-prod2",
        f"/aws/lambda/cwsyn-mvdb-prod-api-api-{CANARY_ID}",  # the canary of a stack named mvdb-prod-api
        "/aws/lambda/cwsyn-mvdb-prod-api-anything",
    ],
)
def test_cloudwatch_logs_may_not_use_the_key_for_other_log_groups_of_the_account(
    key_policy: dict[str, Any], log_group: str
) -> None:
    assert not _logs_may_use_key_for(key_policy, log_group)


def test_an_account_wide_logs_statement_would_fail_that_check(key_policy: dict[str, Any]) -> None:
    broken = copy.deepcopy(key_policy)
    (statement,) = [s for s in broken["Statement"] if s.get("Principal") == LOGS]
    statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] = (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"
    )
    assert _logs_may_use_key_for(broken, "/aws/lambda/another-app/movies")


# -- the alarm topic -----------------------------------------------------------------------------

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
OWN_ALARM = {
    "aws:SourceAccount": ACCOUNT,
    "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-Alarms-1A2B-ErrorsAlarm-3C4D",
    "aws:SecureTransport": "true",
}
PUBLISH_ANYWHERE = {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}


def test_this_accounts_cloudwatch_alarms_may_publish_to_the_alarm_topic(topic_policy: dict[str, Any]) -> None:
    assert allowed(topic_policy, CLOUDWATCH, "sns:Publish", TOPIC, OWN_ALARM)


def test_another_accounts_alarms_may_not_publish_to_the_alarm_topic(topic_policy: dict[str, Any]) -> None:
    other = {
        "aws:SourceAccount": OTHER_ACCOUNT,
        "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{OTHER_ACCOUNT}:alarm:{STACK}-errors",
        "aws:SecureTransport": "true",
    }
    assert not allowed(topic_policy, CLOUDWATCH, "sns:Publish", TOPIC, other)


def test_a_principal_of_this_account_may_not_publish_even_when_its_own_policy_allows_it(
    topic_policy: dict[str, Any],
) -> None:
    request = {"aws:SecureTransport": "true", "aws:PrincipalAccount": ACCOUNT}
    assert not allowed(topic_policy, {"AWS": OPS_ROLE}, "sns:Publish", TOPIC, request, [PUBLISH_ANYWHERE])
    # ...while the same role, without the topic's policy in the way, could: the Deny is what refuses it.
    assert allowed({"Statement": []}, {"AWS": OPS_ROLE}, "sns:Publish", TOPIC, request, [PUBLISH_ANYWHERE])


def test_nobody_publishes_to_the_alarm_topic_over_plain_http(topic_policy: dict[str, Any]) -> None:
    assert not allowed(topic_policy, CLOUDWATCH, "sns:Publish", TOPIC, {**OWN_ALARM, "aws:SecureTransport": "false"})


def test_a_topic_policy_without_the_tls_statement_would_fail_that_check(topic_policy: dict[str, Any]) -> None:
    broken = {"Statement": [s for s in topic_policy["Statement"] if s.get("Sid") != "TlsOnly"]}
    assert allowed(broken, CLOUDWATCH, "sns:Publish", TOPIC, {**OWN_ALARM, "aws:SecureTransport": "false"})


# -- the canary's client credentials -------------------------------------------------------------


def _role_policies(prod: Template, role: str) -> list[dict[str, Any]]:
    assert concrete(prod.properties("CanaryClientSecret")["Name"], {}) == f"{STACK}/canary-client"
    refs = {"CanaryClientSecret": SECRET}  # Ref of a secret is its ARN: the name and 6 characters
    return [
        {"Statement": [concrete(s, refs) for s in as_list(p["PolicyDocument"]["Statement"])]}
        for p in prod.resolve(prod.properties(role))["Policies"]
    ]


@pytest.fixture(scope="module")
def canary_policies(prod: Template) -> list[dict[str, Any]]:
    policies = _role_policies(prod, "ApiCanaryRole")
    secret_arns = {
        s["Resource"]
        for p in policies
        for s in p["Statement"]
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
    }
    assert secret_arns == {SECRET}
    return policies


def test_the_canary_reads_its_own_client_credentials_and_decrypts_them_through_secrets_manager(
    canary_policies: list[dict[str, Any]], key_policy: dict[str, Any]
) -> None:
    via = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    assert is_allowed(canary_policies, "secretsmanager:GetSecretValue", SECRET, {})
    decrypt = {**via, "kms:EncryptionContext:SecretARN": SECRET}
    assert is_allowed(canary_policies, "kms:Decrypt", KEY, decrypt)
    assert key_allows(key_policy, {"AWS": f"arn:aws:iam::{ACCOUNT}:role/canary"}, "kms:Decrypt", decrypt)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("cognito-idp:DescribeUserPoolClient", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{STACK}/machine-AbCdEf"),
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:mvdb-dev/canary-client-Ab",
        ),
    ],
)
def test_the_canary_reads_no_other_client_secret(
    canary_policies: list[dict[str, Any]], action: str, resource: str
) -> None:
    assert not is_allowed(canary_policies, action, resource, {})


def test_the_key_decrypts_for_secrets_manager_only_the_canarys_secret(key_policy: dict[str, Any]) -> None:
    caller = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/anyone"}
    via = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    other_secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:payments/db-AbCdEf"
    assert key_allows(key_policy, caller, "kms:Decrypt", {**via, "kms:EncryptionContext:SecretARN": SECRET})
    assert not key_allows(key_policy, caller, "kms:Decrypt", {**via, "kms:EncryptionContext:SecretARN": other_secret})
    # Not directly either: the context is only for requests Secrets Manager makes.
    assert not key_allows(key_policy, caller, "kms:Decrypt", {"kms:EncryptionContext:SecretARN": SECRET})


def test_a_canary_role_reading_the_user_pools_clients_would_fail_that_check() -> None:
    # The grant this stack used to have: DescribeUserPoolClient on the pool reads every client's secret.
    old = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cognito-idp:DescribeUserPoolClient",
                "Resource": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123",
            }
        ]
    }
    machine_client_pool = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123"
    assert is_allowed([old], "cognito-idp:DescribeUserPoolClient", machine_client_pool, {})
