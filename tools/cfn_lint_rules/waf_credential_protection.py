"""E9114: a web ACL that keeps request data protects the Authorization header in it.

WAF keeps parts of requests in three places: sampled requests (VisibilityConfig
SampledRequestsEnabled, "Request sampling doesn't provide a field redaction option"), its logs,
and, in those logs, each rate-based rule's aggregation key (rateBasedRuleList customValues). The
logging configuration's RedactedFields reaches only the logs; web ACL data protection
(DataProtectionConfig: "alters the data that's available for any other data collection
activity, including your AWS WAF logging destinations, web ACL request sampling") reaches all
three (WAF API reference, DataProtectionConfig, DataProtection.ExcludeRateBasedDetails). The
API's callers send their bearer tokens in Authorization, so a web ACL that samples requests or
keys a rate limit on that header must protect it (HASH or SUBSTITUTION) at the web ACL level,
without excluding the rate-based details.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

HEADER = "authorization"


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _keeps_request_data(properties: dict[str, Any]) -> bool:
    for key, value in _walk(properties):
        if key == "VisibilityConfig" and isinstance(value, dict) and value.get("SampledRequestsEnabled") is True:
            return True
        if key == "CustomKeys" and isinstance(value, list):
            for custom in value:
                header = (custom or {}).get("Header") if isinstance(custom, dict) else None
                if isinstance(header, dict) and str(header.get("Name", "")).lower() == HEADER:
                    return True
    return False


def _protects_the_header(properties: dict[str, Any]) -> bool:
    for protection in (properties.get("DataProtectionConfig") or {}).get("DataProtections") or []:
        if not isinstance(protection, dict) or protection.get("ExcludeRateBasedDetails") is True:
            continue
        field = protection.get("Field") or {}
        keys = [str(k).lower() for k in field.get("FieldKeys") or []]
        if field.get("FieldType") == "SINGLE_HEADER" and HEADER in keys:
            return True
    return False


class WafCredentialProtection(CloudFormationLintRule):
    id = "E9114"
    shortdesc = "WAF protects the Authorization header in the request data it keeps"
    description = (
        "A web ACL that samples requests or keys a rate-based rule on the Authorization header protects that header "
        "with DataProtectionConfig (SINGLE_HEADER authorization, rate-based details included)"
    )
    source_url = "https://docs.aws.amazon.com/waf/latest/APIReference/API_DataProtectionConfig.html"
    tags: ClassVar[list[str]] = ["resources", "wafv2", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, acl in cfn.get_resources(["AWS::WAFv2::WebACL"]).items():
            properties = acl.get("Properties") or {}
            if _keeps_request_data(properties) and not _protects_the_header(properties):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} keeps request data (sampled requests, or a rate limit keyed on the Authorization "
                        "header) but no DataProtectionConfig protects the authorization header: bearer tokens would "
                        "be readable in sampled requests and WAF logs",
                    )
                )
        return matches
