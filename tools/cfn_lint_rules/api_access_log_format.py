"""E9109: an API Gateway access log format is one line that includes the request ID.

API Gateway developer guide, access logging for REST APIs: "The access log format must include at
least $context.requestId or $context.extendedRequestId." API reference, AccessLogSettings.format:
"A single line format of the access logs of data". Checked on AWS::ApiGateway::Stage and on SAM's
AWS::Serverless::Api (AccessLogSetting).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

REQUEST_IDS = ("$context.requestId", "$context.extendedRequestId")


class ApiAccessLogFormat(CloudFormationLintRule):
    id = "E9109"
    shortdesc = "API access log format: one line, with $context.requestId or $context.extendedRequestId"
    description = "API Gateway rejects an access log format without a request ID variable"
    source_url = "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-access-logging.html"
    tags: ClassVar[list[str]] = ["resources", "apigateway", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(["AWS::ApiGateway::Stage", "AWS::Serverless::Api"]).items():
            setting = (resource.get("Properties") or {}).get("AccessLogSetting") or {}
            text = setting.get("Format")
            if not isinstance(text, str):
                continue
            path = ["Resources", name, "Properties", "AccessLogSetting", "Format"]
            if not any(variable in text for variable in REQUEST_IDS):
                matches.append(RuleMatch(path, f"{name}: the access log format lacks $context.requestId"))
            if "\n" in text.strip():
                matches.append(RuleMatch(path, f"{name}: the access log format must be a single line"))
        return matches
