"""E9122: every DynamoDB table is retained, deletion-protected by a property, and encrypted with a key of ours.

DynamoDB API reference, ``SSESpecification``: "If enabled (true), server-side encryption type is
set to KMS and an AWS managed key is used ... If disabled (false) or not specified, server-side
encryption is set to AWS owned key"; only ``KMSMasterKeyId`` names a key the account controls (its
policy, its rotation, its audit trail in CloudTrail). Every table of the project holds what
clients sent (movies, their index, idempotency records): each one gets ``SSEEnabled`` with
``SSEType: KMS`` and a ``KMSMasterKeyId``; ``DeletionPolicy`` and ``UpdateReplacePolicy``
``Retain`` (CloudFormation never deletes a table, not even on a replacement); and
``DeletionProtectionEnabled`` set (the template decides per environment: "When enabled, the table
cannot be deleted by any user or process", DynamoDB developer guide, deletion protection).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch


class DynamoDBTableProtection(CloudFormationLintRule):
    id = "E9122"
    shortdesc = "DynamoDB tables are retained, deletion-protected and encrypted with a customer managed key"
    description = (
        "Every AWS::DynamoDB::Table has DeletionPolicy and UpdateReplacePolicy Retain, sets "
        "DeletionProtectionEnabled, and SSESpecification with SSEEnabled, SSEType KMS and KMSMasterKeyId"
    )
    source_url = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSESpecification.html"
    tags: ClassVar[list[str]] = ["resources", "dynamodb", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, table in cfn.get_resources(["AWS::DynamoDB::Table"]).items():
            path = ["Resources", name]
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                if table.get(policy) != "Retain":
                    matches.append(
                        RuleMatch(
                            [*path, policy], f"{name}: {policy} must be Retain (a table is never deleted by a stack)"
                        )
                    )
            properties = table.get("Properties") or {}
            if "DeletionProtectionEnabled" not in properties:
                matches.append(
                    RuleMatch([*path, "Properties"], f"{name}: set DeletionProtectionEnabled (on outside dev)")
                )
            sse = properties.get("SSESpecification") or {}
            if sse.get("SSEEnabled") is not True or sse.get("SSEType") != "KMS" or not sse.get("KMSMasterKeyId"):
                matches.append(
                    RuleMatch(
                        [*path, "Properties", "SSESpecification"],
                        f"{name}: encrypt with a customer managed key (SSEEnabled true, SSEType KMS, KMSMasterKeyId);"
                        " without KMSMasterKeyId DynamoDB uses an AWS managed or AWS owned key",
                    )
                )
        return matches
