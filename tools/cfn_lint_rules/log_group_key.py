"""E9108: a log group's KMS key (of the same template) lets CloudWatch Logs use it.

CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS": the key policy
must allow the service principal ``logs.<region>.amazonaws.com`` to use the key; without it,
CreateLogGroup (and AssociateKmsKey) fail. Checked where the key is a resource of the template,
followed through Ref/Fn::GetAtt; a key passed in from elsewhere is its own template's concern.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:*"}


def _admits_logs(key_policy: Any) -> bool:
    for statement in (key_policy or {}).get("Statement", []) if isinstance(key_policy, dict) else []:
        if statement.get("Effect") != "Allow":
            continue
        principal = json.dumps(statement.get("Principal", {}), default=str)
        actions = statement.get("Action", [])
        actions = set(actions if isinstance(actions, list) else [actions])
        if (
            "logs." in principal
            and ".amazonaws.com" in principal
            and {"kms:Encrypt", "kms:Decrypt"} <= actions | (USE_ACTIONS if "kms:*" in actions else set())
        ):
            return True
    return False


class LogGroupKey(CloudFormationLintRule):
    id = "E9108"
    shortdesc = "A log group's KMS key admits CloudWatch Logs"
    description = "The key policy of a log group's KMS key must allow logs.<region>.amazonaws.com to use it"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
    tags: ClassVar[list[str]] = ["resources", "logs", "kms", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources") or {}
        matches = []
        for name, group in cfn.get_resources(["AWS::Logs::LogGroup"]).items():
            key = (group.get("Properties") or {}).get("KmsKeyId")
            key_name = None
            if isinstance(key, dict):
                key_name = key.get("Ref") or (key.get("Fn::GetAtt") or [None])[0]
            key_resource = resources.get(key_name or "", {})
            if key_resource.get("Type") != "AWS::KMS::Key":
                continue
            if not _admits_logs((key_resource.get("Properties") or {}).get("KeyPolicy")):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "KmsKeyId"],
                        f"{name} is encrypted with {key_name}, whose key policy does not let "
                        "logs.<region>.amazonaws.com encrypt and decrypt with it: CreateLogGroup would fail",
                    )
                )
        return matches
