"""E9117: AWS Backup restore testing names and windows are what the Backup API accepts.

Backup API reference: RestoreTestingPlanForCreate ("RestoreTestingPlanName ... must consist of
only alphanumeric characters and underscores"; StartWindowHours "has a maximum value of 168
hours"), RestoreTestingSelectionForCreate (RestoreTestingSelectionName "consists of only
alphanumeric characters and underscores. Maximum length is 50"; ValidationWindowHours "0 to
168"), RestoreTestingRecoveryPointSelection (SelectionWindowDays "integers from 1 to 365"). The
registry schemas carry none of these. A name built from a parameter without a default (a stack
name) is evaluated with a stand-in that has a hyphen, as stack names do.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# What a string parameter without a default stands for: a stack name has hyphens.
STAND_IN = "stack-name"
# (resource type, path to the property, lowest, highest)
BOUNDS = (
    ("AWS::Backup::RestoreTestingPlan", ("StartWindowHours",), 1, 168),
    ("AWS::Backup::RestoreTestingPlan", ("RecoveryPointSelection", "SelectionWindowDays"), 1, 365),
    ("AWS::Backup::RestoreTestingSelection", ("ValidationWindowHours",), 0, 168),
)
NAMES = (
    ("AWS::Backup::RestoreTestingPlan", "RestoreTestingPlanName"),
    ("AWS::Backup::RestoreTestingSelection", "RestoreTestingSelectionName"),
)


def evaluate(value: Any, parameters: dict[str, Any]) -> Any:
    """A value as a deploy with the parameters' defaults would give it; None when it depends on more."""
    if isinstance(value, str | int | float):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (function, argument), *_ = value.items()
    if function == "Ref":
        spec = parameters.get(argument)
        if spec is None:
            return None
        return spec.get("Default", STAND_IN if spec.get("Type") == "String" else None)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = evaluate_list(argument[1], parameters)
        return None if parts is None else str(argument[0]).join(str(part) for part in parts)
    if function == "Fn::Sub" and isinstance(argument, str):
        text = argument
        for name in re.findall(r"\$\{([A-Za-z0-9]+)\}", argument):
            replacement = evaluate({"Ref": name}, parameters)
            if replacement is None:
                return None
            text = text.replace("${" + name + "}", str(replacement))
        return text
    return None


def evaluate_list(value: Any, parameters: dict[str, Any]) -> list[Any] | None:
    if isinstance(value, dict) and "Fn::Split" in value:
        delimiter, source = value["Fn::Split"]
        text = evaluate(source, parameters)
        return None if text is None else str(text).split(delimiter)
    if not isinstance(value, list):
        return None
    items: list[Any] = []
    for item in value:
        if isinstance(item, dict) and "Fn::Split" in item:
            split = evaluate_list(item, parameters)
            if split is None:
                return None
            items += split
            continue
        evaluated = evaluate(item, parameters)
        if evaluated is None:
            return None
        items.append(evaluated)
    return items


def _bounds(value: Any, parameters: dict[str, Any]) -> tuple[float, float] | None:
    """The lowest and highest value a property can take: a number, or a Number parameter's range."""
    if isinstance(value, int | float):
        return value, value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        spec = parameters[value["Ref"]]
        if "AllowedValues" in spec:
            allowed = [float(v) for v in spec["AllowedValues"]]
            return min(allowed), max(allowed)
        return float(spec.get("MinValue", float("-inf"))), float(spec.get("MaxValue", float("inf")))
    return None


class RestoreTestingLimits(CloudFormationLintRule):
    id = "E9117"
    shortdesc = "AWS Backup restore testing: names and windows the Backup API accepts"
    description = (
        "Restore testing plan and selection names are letters, digits and underscores (at most 50); "
        "StartWindowHours 1-168, SelectionWindowDays 1-365, ValidationWindowHours 0-168"
    )
    source_url = "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreTestingSelectionForCreate.html"
    tags: ClassVar[list[str]] = ["resources", "backup", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        parameters = cfn.template.get("Parameters") or {}
        matches = []
        for resource_type, prop in NAMES:
            for name, resource in cfn.get_resources([resource_type]).items():
                value = (resource.get("Properties") or {}).get(prop)
                if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] not in parameters:
                    continue  # a reference to the plan resource: its name is checked there
                evaluated = evaluate(value, parameters)
                if evaluated is not None and not NAME.match(str(evaluated)):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", prop],
                            f"{name}: {prop} would be {evaluated!r}; the Backup API takes only letters, digits "
                            "and underscores, at most 50",
                        )
                    )
        for resource_type, path, lowest, highest in BOUNDS:
            for name, resource in cfn.get_resources([resource_type]).items():
                value: Any = resource.get("Properties") or {}
                for key in path:
                    value = value.get(key) if isinstance(value, dict) else None
                bounds = _bounds(value, parameters) if value is not None else None
                if bounds is not None and (bounds[0] < lowest or bounds[1] > highest):
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", *path],
                            f"{name}: {'.'.join(path)} can be {bounds[0]:g} to {bounds[1]:g}; the Backup API "
                            f"takes {lowest} to {highest}",
                        )
                    )
        return matches
