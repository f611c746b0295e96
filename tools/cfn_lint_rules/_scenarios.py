"""What a template can deploy as: its values under each plausible set of parameter values.

cfn-lint's own scenarios resolve conditions, not parameters, and a service rule is often about
the *value* a parameter gives a property ("Enforce with a layer", "a Python runtime with active
tracing"). ``Evaluator`` resolves a property for one set of parameter values: ``Ref`` to a
parameter or a pseudo parameter, ``Fn::If`` (conditions evaluated), ``Fn::Sub``/``Fn::Join``/
``Fn::Select``/``Fn::Split`` once their parts are known, and the template's ``Rules`` (a set of
values the Rules refuse is never deployed, so no rule should judge it). What only a deployed
account knows stays as written (``Ref`` to a resource, ``Fn::GetAtt``) or becomes ``UNKNOWN``.

``scenarios`` enumerates the sets of values worth judging: each parameter's allowed values, or
its default and "some other value", the values each environment of a ``samconfig.toml`` next to
the template deploys with, and every combination of those for the parameters a property reads.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "OTHER",
    "UNKNOWN",
    "Evaluator",
    "load_nested_output",
    "referenced_parameters",
    "samconfig_values",
    "scenarios",
]

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()
OTHER = "<another value>"  # a free-form parameter set to something other than its default
PSEUDO = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_SUB = re.compile(r"\$\{([^!}][^}]*)\}")
MAX_SCENARIOS = 4096


def referenced_parameters(node: Any, template: Mapping[str, Any]) -> set[str]:
    """Parameters ``node`` reads, directly, inside Fn::Sub, or through the conditions it names."""
    parameters = set(template.get("Parameters") or {})
    conditions = template.get("Conditions") or {}
    found: set[str] = set()
    seen: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "Ref" and isinstance(item, str) and item in parameters:
                    found.add(item)
                elif key == "Fn::Sub":
                    text = item[0] if isinstance(item, list) else item
                    if isinstance(text, str):
                        found.update(name for name in _SUB.findall(text) if name in parameters)
                    if isinstance(item, list):
                        visit(item[1:])
                elif key in ("Fn::If", "Condition"):
                    name = item[0] if key == "Fn::If" and isinstance(item, list) else item
                    if isinstance(name, str) and name in conditions and name not in seen:
                        seen.add(name)
                        visit(conditions[name])
                    visit(item[1:] if key == "Fn::If" and isinstance(item, list) else None)
                else:
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(node)
    return found


def samconfig_values(template_path: Path | None) -> list[dict[str, str]]:
    """The parameter overrides of each environment in the samconfig.toml beside the template."""
    if template_path is None:
        return []
    config_file = template_path.parent / "samconfig.toml"
    if not config_file.is_file():
        return []
    import shlex

    config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    environments = []
    for section in config.values():
        if not isinstance(section, dict):
            continue
        overrides = section.get("deploy", {}).get("parameters", {}).get("parameter_overrides")
        if isinstance(overrides, str):
            environments.append(dict(pair.split("=", 1) for pair in shlex.split(overrides) if "=" in pair))
    return environments


def _candidates(spec: Mapping[str, Any], observed: Iterable[str]) -> list[Any]:
    values: list[Any] = [str(v) for v in spec.get("AllowedValues", [])]
    if not values:
        default = spec.get("Default")
        values = [str(default)] if default is not None else []
        if spec.get("Type", "String") == "String":
            values.append("" if default not in (None, "") else OTHER)
    for value in observed:
        if value not in values:
            values.append(value)
    return values or [OTHER]


def scenarios(
    template: Mapping[str, Any], parameters: Iterable[str], template_path: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Every combination of plausible values of ``parameters`` that the template's Rules admit."""
    names = sorted(set(parameters))
    declared = template.get("Parameters") or {}
    environments = samconfig_values(template_path)
    choices = [
        _candidates(declared.get(name, {}), (env[name] for env in environments if name in env)) for name in names
    ]
    for count, combination in enumerate(itertools.product(*choices)):
        if count >= MAX_SCENARIOS:
            return
        values = dict(zip(names, combination, strict=True))
        if Evaluator(template, values).rules_hold():
            yield values


class Evaluator:
    """Values of a template's expressions for one set of parameter values (others: their defaults)."""

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self.template = template
        defaults = {n: s["Default"] for n, s in (template.get("Parameters") or {}).items() if "Default" in s}
        self.values: dict[str, Any] = {**PSEUDO, **{k: str(v) for k, v in defaults.items()}, **values}

    def condition(self, name: str) -> Any:
        """True, False, or UNKNOWN (the condition reads something unknowable)."""
        conditions = self.template.get("Conditions") or {}
        return self._logic(conditions[name]) if name in conditions else UNKNOWN

    def rules_hold(self) -> bool:
        """False when one of the template's Rules refuses these values (UNKNOWN counts as holding)."""
        for rule in (self.template.get("Rules") or {}).values():
            applies = self._logic(rule.get("RuleCondition", True))
            if applies is False:
                continue
            for assertion in rule.get("Assertions", []):
                if self._logic(assertion.get("Assert")) is False:
                    return False
        return True

    def _logic(self, node: Any) -> Any:
        if isinstance(node, bool):
            return node
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Not":
                inner = self._logic(argument[0])
                return UNKNOWN if inner is UNKNOWN else not inner
            if function in ("Fn::And", "Fn::Or"):
                parts = [self._logic(part) for part in argument]
                decided = [p for p in parts if p is not UNKNOWN]
                if function == "Fn::And":
                    return False if False in decided else (UNKNOWN if len(decided) < len(parts) else True)
                return True if True in decided else (UNKNOWN if len(decided) < len(parts) else False)
            if function == "Fn::Equals":
                left, right = (self.value(part) for part in argument)
                if UNKNOWN in (left, right) or isinstance(left, dict) or isinstance(right, dict):
                    return UNKNOWN
                return str(left) == str(right)
            if function == "Fn::Contains":
                items, item = self.value(argument[0]), self.value(argument[1])
                if not isinstance(items, list) or item is UNKNOWN:
                    return UNKNOWN
                return str(item) in {str(i) for i in items}
        return UNKNOWN

    def value(self, node: Any) -> Any:
        """``node`` with what these parameter values decide resolved; UNKNOWN where they cannot."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref":
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                if argument in self.values:
                    return self.values[argument]
                return node  # a resource: its physical ID is known only once deployed
            if function == "Fn::If":
                decided = self.condition(argument[0])
                if decided is UNKNOWN:
                    return UNKNOWN
                return self.value(argument[1] if decided else argument[2])
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::Join":
                parts = self.value(argument[1])
                if not isinstance(parts, list) or any(not isinstance(p, str | int | float) for p in parts):
                    return UNKNOWN
                return str(argument[0]).join(str(p) for p in parts)
            if function == "Fn::Split":
                text = self.value(argument[1])
                return text.split(argument[0]) if isinstance(text, str) else UNKNOWN
            if function == "Fn::Select":
                index, items = self.value(argument[0]), self.value(argument[1])
                if isinstance(items, list) and str(index).isdigit() and int(index) < len(items):
                    return items[int(index)]
                return UNKNOWN
            if function.startswith("Fn::"):
                return UNKNOWN if function != "Fn::GetAtt" else node
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _sub(self, argument: Any) -> Any:
        text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
        if not isinstance(text, str):
            return UNKNOWN
        resolved = {name: self.value(value) for name, value in (variables or {}).items()}
        unknown = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unknown
            name = match.group(1)
            value = resolved.get(name, self.values.get(name, UNKNOWN))
            if not isinstance(value, str | int | float) or value is UNKNOWN:
                unknown = True
                return match.group(0)
            return str(value)

        result = _SUB.sub(replace, text)
        return UNKNOWN if unknown else result.replace("${!", "${")


_NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()


def load_nested_output(template_path: Path | None, template: Mapping[str, Any], reference: Any) -> tuple[Any, Any]:
    """(nested template, output value) for ``Fn::GetAtt [Stack, Outputs.Name]`` of a local nested stack.

    (None, None) when ``reference`` is not such a read, or the nested template is not a local file.
    """
    if not (isinstance(reference, dict) and isinstance(reference.get("Fn::GetAtt"), list)) or template_path is None:
        return None, None
    stack, attribute = reference["Fn::GetAtt"][0], str(reference["Fn::GetAtt"][1])
    if not attribute.startswith("Outputs."):
        return None, None
    resource = (template.get("Resources") or {}).get(stack, {})
    properties = resource.get("Properties") or {}
    location = properties.get("TemplateURL", properties.get("Location"))
    if not isinstance(location, str) or "://" in location:
        return None, None
    from cfnlint.decode import decode

    nested, _ = decode(str(template_path.parent / location))
    if not nested:
        return None, None
    output = (nested.get("Outputs") or {}).get(attribute.removeprefix("Outputs."), {})
    return nested, output.get("Value")
