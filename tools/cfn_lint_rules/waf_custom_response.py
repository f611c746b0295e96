"""E9101: a WAF custom response never sets Content-Type, and names a body the web ACL defines.

WAF API reference, CustomResponse.ResponseHeaders: "You can specify any header name except for
content-type." CreateWebACL rejects the whole web ACL otherwise; the content type comes from the
body's ContentType (CustomResponseBody). CustomResponseBodyKey: "you first define the response body
key and value in the CustomResponseBodies setting for the WebACL or RuleGroup where you want to use it."
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

WAF_TYPES = ("AWS::WAFv2::WebACL", "AWS::WAFv2::RuleGroup")


def _custom_responses(node: Any, path: list[Any]) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "CustomResponse" and isinstance(value, dict):
                yield value, [*path, key]
            yield from _custom_responses(value, [*path, key])
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _custom_responses(item, [*path, index])


class WafCustomResponse(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "WAF custom responses: no Content-Type header, only defined bodies"
    description = "A WAF CustomResponse may set any header but content-type, and references a defined body"
    source_url = "https://docs.aws.amazon.com/waf/latest/APIReference/API_CustomResponse.html"
    tags: ClassVar[list[str]] = ["resources", "wafv2", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(list(WAF_TYPES)).items():
            properties = resource.get("Properties") or {}
            bodies = set((properties.get("CustomResponseBodies") or {}).keys())
            for response, path in _custom_responses(properties, ["Resources", name, "Properties"]):
                for index, header in enumerate(response.get("ResponseHeaders") or []):
                    header_name = header.get("Name") if isinstance(header, dict) else None
                    if isinstance(header_name, str) and header_name.strip().lower() == "content-type":
                        matches.append(
                            RuleMatch(
                                [*path, "ResponseHeaders", index, "Name"],
                                f"{name}: a WAF custom response may not set {header_name!r} (any header name except "
                                "for content-type); the body's ContentType sets it",
                            )
                        )
                key = response.get("CustomResponseBodyKey")
                if isinstance(key, str) and key not in bodies:
                    matches.append(
                        RuleMatch(
                            [*path, "CustomResponseBodyKey"],
                            f"{name}: CustomResponseBodyKey {key!r} is not one of its CustomResponseBodies",
                        )
                    )
        return matches
