"""E9111: every log group the template creates keeps its events for a set time and is encrypted with a KMS key.

CloudWatch Logs user guide, "Change log data retention in CloudWatch Logs": "By default, log data
is stored in CloudWatch Logs indefinitely" (RetentionInDays absent means never expire, and
storage is billed forever); "Encrypt log data in CloudWatch Logs using AWS KMS": without KmsKeyId
the group is encrypted with a key the account cannot control or audit. Both are properties of
AWS::Logs::LogGroup, so both are required on every one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

REQUIRED = {
    "RetentionInDays": "keeps its events forever (billed forever)",
    "KmsKeyId": "is not encrypted with a key of ours",
}


class LogGroupRetention(CloudFormationLintRule):
    id = "E9111"
    shortdesc = "Log groups have retention and a KMS key"
    description = "Every AWS::Logs::LogGroup sets RetentionInDays and KmsKeyId"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html"
    tags: ClassVar[list[str]] = ["resources", "logs", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, group in cfn.get_resources(["AWS::Logs::LogGroup"]).items():
            properties = group.get("Properties") or {}
            for property_name, consequence in REQUIRED.items():
                if properties.get(property_name) in (None, ""):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties"],
                            f"{name} has no {property_name}: it {consequence}",
                        )
                    )
        return matches
