"""E9110: every SNS topic has a policy that refuses plain HTTP, and binds the services it admits to their source.

Amazon SNS developer guide, security best practices, "Enforce encryption of data in transit":
"You can use the aws:SecureTransport condition in your topic policy to enforce HTTPS (TLS) for
sns:Publish" (a Deny where aws:SecureTransport is "false"). Without a policy of its own a topic
takes SNS's default one, which has no such statement. And, "Cross-service confused deputy
prevention": a statement that lets a service principal act on the topic should name the source
with aws:SourceArn or aws:SourceAccount, or any account's use of that service could reach it.
Checked per template: the policy must be a resource of the template that names the topic.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

SOURCE_KEYS = {"aws:sourcearn", "aws:sourceaccount"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _refs(topics: Any) -> set[str]:
    return {t["Ref"] for t in _as_list(topics) if isinstance(t, dict) and isinstance(t.get("Ref"), str)}


def _everyone(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))


def _covers_publish(actions: Any) -> bool:
    return any(str(a).lower() in {"sns:publish", "sns:*", "*"} for a in _as_list(actions))


def _refuses_plain_http(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    if not (_everyone(statement.get("Principal")) and _covers_publish(statement.get("Action"))):
        return False
    for operator, block in (statement.get("Condition") or {}).items():
        if operator in ("Bool", "BoolIfExists") and isinstance(block, dict):
            for key, value in block.items():
                if key.lower() == "aws:securetransport" and str(_as_list(value)[0]).lower() == "false":
                    return True
    return False


def _unbound_service_grant(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    if not (isinstance(principal, dict) and "Service" in principal):
        return False
    blocks = [block for block in (statement.get("Condition") or {}).values() if isinstance(block, dict)]
    keys = {key.lower() for block in blocks for key in block}
    return not keys & SOURCE_KEYS


class SnsTopicPolicy(CloudFormationLintRule):
    id = "E9110"
    shortdesc = "SNS topics refuse plain HTTP and bind service principals to their source"
    description = (
        "Every SNS topic has a topic policy of the template with a Deny of sns:Publish when aws:SecureTransport is "
        "false, and every Allow to a service principal carries aws:SourceArn or aws:SourceAccount"
    )
    source_url = "https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html"
    tags: ClassVar[list[str]] = ["resources", "sns", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        policies = cfn.get_resources(["AWS::SNS::TopicPolicy"])
        matches = []
        for topic in cfn.get_resources(["AWS::SNS::Topic"]):
            documents = [
                (policy.get("Properties") or {}).get("PolicyDocument") or {}
                for policy in policies.values()
                if topic in _refs((policy.get("Properties") or {}).get("Topics"))
            ]
            statements = [statement for document in documents for statement in _as_list(document.get("Statement"))]
            if not any(_refuses_plain_http(s) for s in statements):
                matches.append(
                    RuleMatch(
                        ["Resources", topic],
                        f"{topic}: no topic policy of this template denies sns:Publish when aws:SecureTransport is "
                        "false; SNS's default policy accepts plain HTTP",
                    )
                )
        for name, policy in policies.items():
            document = (policy.get("Properties") or {}).get("PolicyDocument") or {}
            for index, statement in enumerate(_as_list(document.get("Statement"))):
                if _unbound_service_grant(statement):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "PolicyDocument", "Statement", index],
                            f"{name}: statement {index} lets a service principal in without aws:SourceArn or "
                            "aws:SourceAccount (the confused deputy: any account's use of that service could reach it)",
                        )
                    )
        return matches
