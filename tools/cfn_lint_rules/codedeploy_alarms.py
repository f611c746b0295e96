"""E9106: CodeDeploy watches metric alarms only, at most 10 per deployment group.

CodeDeploy reads the state of a deployment group's alarms with CloudWatch DescribeAlarms (by
name). DescribeAlarms API reference, AlarmTypes: "If you omit this parameter, only metric alarms
are returned, even if composite alarms exist that match your other settings." A composite alarm
therefore never looks like ALARM to CodeDeploy, and a rollback signal wired that way never fires.
CloudFormation, DeploymentGroup AlarmConfiguration.Alarms: "A maximum of 10 alarms can be added."
Alarms are followed through ``Ref`` and, into a local nested stack, through its outputs; SAM's
``DeploymentPreference.Alarms`` is checked as well as the deployment group it becomes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tools.cfn_lint_rules._scenarios import load_nested_output

MAX_ALARMS = 10


def _alarm_lists(cfn: Any) -> Iterator[tuple[list[Any], list[Any]]]:
    """(path, alarm name expressions) of every deployment group and every SAM DeploymentPreference."""
    for name, resource in cfn.get_resources(["AWS::CodeDeploy::DeploymentGroup"]).items():
        alarms = ((resource.get("Properties") or {}).get("AlarmConfiguration") or {}).get("Alarms") or []
        path = ["Resources", name, "Properties", "AlarmConfiguration", "Alarms"]
        yield path, [a.get("Name") if isinstance(a, dict) else a for a in alarms]
    for name, resource in cfn.get_resources(["AWS::Serverless::Function"]).items():
        preference = (resource.get("Properties") or {}).get("DeploymentPreference") or {}
        if isinstance(preference.get("Alarms"), list):
            yield ["Resources", name, "Properties", "DeploymentPreference", "Alarms"], preference["Alarms"]


def _alarm_type(expression: Any, template: Mapping[str, Any], template_path: Path | None) -> str | None:
    """The resource type of the alarm ``expression`` names, when the templates say."""
    if isinstance(expression, dict) and isinstance(expression.get("Ref"), str):
        return str((template.get("Resources") or {}).get(expression["Ref"], {}).get("Type")) or None
    nested, value = load_nested_output(template_path, template, expression)
    if nested is not None:
        location = template["Resources"][expression["Fn::GetAtt"][0]]["Properties"]
        child = template_path.parent / location.get("TemplateURL", location.get("Location")) if template_path else None
        return _alarm_type(value, nested, child)
    return None


class CodeDeployMetricAlarms(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "CodeDeploy rollback alarms are metric alarms, at most 10"
    description = "DescribeAlarms without AlarmTypes returns no composite alarm; a deployment group takes 10 alarms"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html"
    tags: ClassVar[list[str]] = ["resources", "codedeploy", "cloudwatch", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template_path = Path(cfn.filename) if cfn.filename else None
        matches = []
        for path, alarms in _alarm_lists(cfn):
            if len(alarms) > MAX_ALARMS:
                matches.append(RuleMatch(path, f"{len(alarms)} alarms; a deployment group takes at most {MAX_ALARMS}"))
            for index, expression in enumerate(alarms):
                kind = _alarm_type(expression, cfn.template, template_path)
                if kind == "AWS::CloudWatch::CompositeAlarm":
                    matches.append(
                        RuleMatch(
                            [*path, index],
                            f"{expression} is a composite alarm: CodeDeploy reads alarms with DescribeAlarms, which "
                            "returns metric alarms only, so this rollback signal would never fire",
                        )
                    )
        return matches
