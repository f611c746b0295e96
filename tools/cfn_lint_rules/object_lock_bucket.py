"""E9119: an S3 Object Lock configuration that S3 accepts, and a lifecycle that does not hide locked records.

S3 API reference, PutObjectLockConfiguration and CreateBucket: Object Lock is turned on for a bucket
with ``x-amz-bucket-object-lock-enabled`` (``ObjectLockEnabled: true``); a default retention
"requires both a mode and a period" (Days or Years, not both). S3 user guide, "Locking objects
with Object Lock": Object Lock works only in versioned buckets, and versioning cannot be
suspended on a bucket with Object Lock; a retention "doesn't prevent ... a delete marker being
added" (lifecycle expiration of a current version adds one), so an expiration sooner than the
default retention hides records that are still locked. Checked with the parameters' defaults
(Fn::If: both branches, FindInMap: every value of the map). The schemas carry none of this.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def _candidates(value: Any, cfn: Any) -> list[float]:
    """Every number ``value`` can resolve to with the parameters' defaults (empty when unknown)."""
    parameters = cfn.template.get("Parameters") or {}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, str) and value.isdigit():
        return [float(value)]
    if isinstance(value, dict) and set(value) == {"Ref"}:
        default = parameters.get(value["Ref"], {}).get("Default")
        return _candidates(default, cfn) if default is not None else []
    if isinstance(value, dict) and set(value) == {"Fn::If"} and isinstance(value["Fn::If"], list):
        return [n for branch in value["Fn::If"][1:] for n in _candidates(branch, cfn)]
    if isinstance(value, dict) and set(value) == {"Fn::FindInMap"}:
        name, _, key = (value["Fn::FindInMap"] + [None, None, None])[:3]
        table = (cfn.template.get("Mappings") or {}).get(name, {}) if isinstance(name, str) else {}
        return [float(row[key]) for row in table.values() if isinstance(row, dict) and isinstance(row.get(key), int)]
    return []


class ObjectLockBucket(CloudFormationLintRule):
    id = "E9119"
    shortdesc = "S3 Object Lock: enabled at creation, versioning never suspended, no expiration before the retention"
    description = "Object Lock needs ObjectLockEnabled and versioning; lifecycle must not expire records still locked"
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html"
    tags: ClassVar[list[str]] = ["resources", "s3", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, bucket in cfn.get_resources(["AWS::S3::Bucket"]).items():
            properties = bucket.get("Properties") or {}
            lock = properties.get("ObjectLockConfiguration")
            enabled = properties.get("ObjectLockEnabled") in (True, "true", "True")
            path = ["Resources", name, "Properties"]
            if isinstance(lock, dict) and not enabled:
                matches.append(
                    RuleMatch(
                        [*path, "ObjectLockConfiguration"],
                        f"{name}: an Object Lock configuration needs ObjectLockEnabled: true "
                        "(set when the bucket is created)",
                    )
                )
            if not enabled:
                continue
            if (properties.get("VersioningConfiguration") or {}).get("Status") == "Suspended":
                matches.append(
                    RuleMatch(
                        [*path, "VersioningConfiguration"],
                        f"{name}: versioning cannot be suspended on a bucket with Object Lock",
                    )
                )
            retention = ((lock or {}).get("Rule") or {}).get("DefaultRetention") or {}
            if retention and ("Mode" not in retention or ("Days" in retention) == ("Years" in retention)):
                matches.append(
                    RuleMatch(
                        [*path, "ObjectLockConfiguration"],
                        f"{name}: a default retention needs a Mode and either Days or Years",
                    )
                )
            locked = _candidates(retention.get("Days"), cfn) + [
                365 * y for y in _candidates(retention.get("Years"), cfn)
            ]
            rules = ((properties.get("LifecycleConfiguration") or {}).get("Rules")) or []
            for index, rule in enumerate(rules if isinstance(rules, list) else []):
                expiration = rule.get("ExpirationInDays") if isinstance(rule, dict) else None
                if expiration is not None and expiration == retention.get("Days"):
                    continue  # the same value, whatever the parameters: records expire as their lock lapses
                expiring = _candidates(expiration, cfn)
                if locked and expiring and min(expiring) < max(locked):
                    matches.append(
                        RuleMatch(
                            [*path, "LifecycleConfiguration", "Rules", index, "ExpirationInDays"],
                            f"{name}: expiring after {min(expiring):g} days adds delete markers over records "
                            f"locked for up to {max(locked):g}: they vanish from listings",
                        )
                    )
        return matches
