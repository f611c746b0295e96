"""E9112: the log groups that services create for the template's resources are resources of the template.

A service that creates a log group itself creates it with no retention and no key of ours, and the
stack can then neither set them nor delete the group. The ones this rule knows:

* Lambda logs to ``/aws/lambda/<function>`` unless ``LoggingConfig.LogGroup`` names a group, and
  creates it on the first invocation (Lambda developer guide, "Sending Lambda function logs to
  CloudWatch Logs"): every function names its group.
* A CloudWatch Synthetics canary runs as the function ``cwsyn-<first 21 characters of the canary
  name>-<canary id>`` (GetCanary's EngineArn; DeleteCanary lists its log group
  ``/aws/lambda/cwsyn-...``), whose configuration Synthetics owns: the template must create
  ``/aws/lambda/cwsyn-<canary name>-<canary id>`` itself (the name from the canary's ``Name`` and
  its ``Id`` attribute), and the canary's role must not be able to create log groups, or the
  first run can create it before the stack does and the stack's create then fails.
* API Gateway writes execution logs (``LoggingLevel`` INFO or ERROR) to
  ``API-Gateway-Execution-Logs_<rest api id>/<stage>``, which it creates.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
CREATE_LOG_GROUP = re.compile(r"^(\*|logs:\*|logs:create\*|logs:createlog\*|logs:createloggroup)$", re.IGNORECASE)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """A name as written: a literal, or the template string of an Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        return text if isinstance(text, str) else None
    return None


def _get_att_target(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return (target.split(".")[0] if isinstance(target, str) else target[0]) or None
    return None


def _names_its_log_group(properties: dict[str, Any], globals_: dict[str, Any]) -> bool:
    own = (properties.get("LoggingConfig") or {}).get("LogGroup")
    inherited = (globals_.get("LoggingConfig") or {}).get("LogGroup")
    return own not in (None, "") or inherited not in (None, "")


def _grants_create_log_group(role: dict[str, Any]) -> bool:
    for policy in (role.get("Properties") or {}).get("Policies") or []:
        for statement in _as_list((policy.get("PolicyDocument") or {}).get("Statement")):
            allows = isinstance(statement, dict) and statement.get("Effect") == "Allow"
            if allows and any(CREATE_LOG_GROUP.match(str(action)) for action in _as_list(statement.get("Action"))):
                return True
    return False


class ServiceLogGroups(CloudFormationLintRule):
    id = "E9112"
    shortdesc = "Log groups that services create are the template's"
    description = (
        "Functions name their log group; a Synthetics canary's /aws/lambda/cwsyn-<name>-<id> group is created by the "
        "template and its role cannot create log groups; execution-logging stages have their group"
    )
    source_url = "https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_DeleteCanary.html"
    tags: ClassVar[list[str]] = ["resources", "logs", "lambda", "synthetics", "apigateway", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        resources = cfn.template.get("Resources") or {}
        group_names = [
            _text((group.get("Properties") or {}).get("LogGroupName"))
            for group in cfn.get_resources(["AWS::Logs::LogGroup"]).values()
        ]
        matches = []
        globals_ = ((cfn.template.get("Globals") or {}).get("Function")) or {}
        for name, function in cfn.get_resources(list(FUNCTION_TYPES)).items():
            properties = function.get("Properties") or {}
            inherited = globals_ if function.get("Type") == "AWS::Serverless::Function" else {}
            own_group = any(n and f"${{{name}}}" in n and n.startswith("/aws/lambda/") for n in group_names)
            if not _names_its_log_group(properties, inherited) and not own_group:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name} names no LoggingConfig.LogGroup: Lambda will create /aws/lambda/<function> on the "
                        "first invocation, with no retention and no key",
                    )
                )
        for name, canary in cfn.get_resources(["AWS::Synthetics::Canary"]).items():
            properties = canary.get("Properties") or {}
            canary_name = _text(properties.get("Name"))
            prefixes = [prefix for prefix in (f"${{{name}}}", canary_name) if prefix]
            expected = {f"/aws/lambda/cwsyn-{prefix}-${{{name}.Id}}" for prefix in prefixes}
            if not expected & set(group_names):
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"{name}: no log group of this template is named "
                        f"/aws/lambda/cwsyn-<canary name>-${{{name}.Id}}; Lambda creates the canary function's "
                        "group on its first run, with no retention and no key",
                    )
                )
            role = resources.get(_get_att_target(properties.get("ExecutionRoleArn")) or "", {})
            if role.get("Type") == "AWS::IAM::Role" and _grants_create_log_group(role):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "ExecutionRoleArn"],
                        f"{name}: its role may create log groups, so its first run can create the function's group "
                        "before the stack does (no retention, no key, and the stack's create fails)",
                    )
                )
        execution_logs = any(n and n.startswith("API-Gateway-Execution-Logs_") for n in group_names)
        for name, stage in cfn.get_resources(["AWS::ApiGateway::Stage", "AWS::Serverless::Api"]).items():
            for index, setting in enumerate((stage.get("Properties") or {}).get("MethodSettings") or []):
                level = setting.get("LoggingLevel") if isinstance(setting, dict) else None
                if isinstance(level, str) and level.upper() in ("INFO", "ERROR") and not execution_logs:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", "MethodSettings", index, "LoggingLevel"],
                            f"{name}: execution logging ({level}) writes to API-Gateway-Execution-Logs_<api>/<stage>, "
                            "which API Gateway creates with no retention and no key; create it in the template",
                        )
                    )
        return matches
