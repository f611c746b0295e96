"""E9113: a KMS key policy that lets CloudWatch Logs use the key names the log groups it may use it for.

CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS": CloudWatch Logs
sends the log group's ARN as the encryption context ``kms:EncryptionContext:aws:logs:arn``, and
the key policy should use it so the key "can be used only for" the log groups named. Without the
condition, or with ``log-group:*`` (or any pattern whose wildcard comes before the stack's name),
anyone in the account who may create a log group can have CloudWatch Logs encrypt and decrypt
with the stack's key. Each pattern must therefore be an exact log group, or carry the stack's name
(``${AWS::StackName}``, or the ``${RootStackName}`` a nested stack is given) before any wildcard.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"
STACK_NAMES = ("${AWS::StackName}", "${RootStackName}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        return text if isinstance(text, str) else None
    return None


def _admits_logs(statement: dict[str, Any]) -> bool:
    principal = json.dumps(statement.get("Principal", {}), default=str)
    return statement.get("Effect") == "Allow" and "logs." in principal and ".amazonaws.com" in principal


def _too_wide(pattern: Any) -> str | None:
    """Why this encryption-context pattern admits log groups of others; None if it does not."""
    text = _text(pattern)
    if text is None or "log-group:" not in text:
        return f"{pattern!r} is not a log group ARN this rule can read"
    name = text.split("log-group:", 1)[1]
    wildcards = [i for i in (name.find("*"), name.find("?")) if i != -1]
    if not wildcards:
        return None
    prefix = name[: min(wildcards)]
    if any(stack in prefix for stack in STACK_NAMES):
        return None
    return f"log-group:{name} admits log groups of any name beginning {prefix!r}, not only this stack's"


class KmsLogGroupsScope(CloudFormationLintRule):
    id = "E9113"
    shortdesc = "Keys admit CloudWatch Logs for the stack's log groups only"
    description = (
        "A key policy statement for logs.<region>.amazonaws.com has a kms:EncryptionContext:aws:logs:arn condition "
        "whose every pattern is an exact log group or carries the stack's name before any wildcard"
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
    tags: ClassVar[list[str]] = ["resources", "kms", "logs", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, key in cfn.get_resources(["AWS::KMS::Key"]).items():
            policy = (key.get("Properties") or {}).get("KeyPolicy") or {}
            if not isinstance(policy, dict):
                continue
            for index, statement in enumerate(_as_list(policy.get("Statement"))):
                if not isinstance(statement, dict) or not _admits_logs(statement):
                    continue
                path = ["Resources", name, "Properties", "KeyPolicy", "Statement", index]
                patterns = [
                    pattern
                    for operator, block in (statement.get("Condition") or {}).items()
                    if operator.startswith(("Arn", "String")) and isinstance(block, dict)
                    for key_name, value in block.items()
                    if key_name.lower() == CONTEXT_KEY
                    for pattern in _as_list(value)
                ]
                if not patterns:
                    matches.append(
                        RuleMatch(
                            path,
                            f"{name}: statement {index} lets CloudWatch Logs use the key for any log group "
                            "(no kms:EncryptionContext:aws:logs:arn condition naming this stack's groups)",
                        )
                    )
                for pattern in patterns:
                    reason = _too_wide(pattern)
                    if reason:
                        matches.append(RuleMatch(path, f"{name}: statement {index}: {reason}"))
        return matches
