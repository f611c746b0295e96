"""The whole application as one template: the root stack with its nested stacks linked in, offline.

The stack is split into nested applications (``AWS::Serverless::Application`` with a local
``Location``; docs/adr/0001-split-the-stack-into-nested-applications.md). CloudFormation joins
them at deploy time: a parent passes values in through the nested stack's ``Parameters`` and
reads them back with ``Fn::GetAtt <Stack>.Outputs.<Name>``. To state a property of the whole
application ("the function may touch only its table", "every alarm notifies the one topic")
a reader needs the same join, so ``link`` performs it on the templates:

* every ``Ref`` to a nested stack's parameter becomes the expression the parent passes (or the
  parameter's default), including ``${Parameter}`` inside ``Fn::Sub``;
* every ``Fn::GetAtt [Stack, Outputs.Name]`` (and ``${Stack.Outputs.Name}``) becomes the nested
  output's value, written in the parent's terms;
* the nested resources join the parent's (a logical ID used twice is an error, so each one
  names one resource of the application); a nested stack's condition names are prefixed with
  the stack's logical ID, and a conditional nested stack makes its resources conditional.

What a nested stack cannot mean the same way in the joined template is refused: ``AWS::StackName``
(a nested stack has a generated name of its own; names come from the root's, passed in) and
nested stacks that are not local files. The result is for reading and asserting, not deploying.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["LinkError", "link", "nested_template_paths"]

_SUB_REFERENCE = re.compile(r"\$\{([^!}][^}]*)\}")
NESTED_STACK_TYPES = {"AWS::CloudFormation::Stack": "TemplateURL", "AWS::Serverless::Application": "Location"}


class LinkError(ValueError):
    """The templates cannot be joined into one (the message says which stack and why)."""


def nested_template_paths(template: Mapping[str, Any], template_dir: Path) -> dict[str, Path]:
    """Logical ID -> local file of every nested stack or nested application of ``template``."""
    paths = {}
    for name, resource in (template.get("Resources") or {}).items():
        key = NESTED_STACK_TYPES.get(resource.get("Type", ""))
        location = (resource.get("Properties") or {}).get(key) if key else None
        if key is None:
            continue
        if not isinstance(location, str) or "://" in location:
            raise LinkError(f"{name}: nested stack {location!r} is not a local file")
        paths[name] = (template_dir / location).resolve()
    return paths


def link(
    template: Mapping[str, Any],
    template_dir: Path,
    load: Callable[[Path], dict[str, Any]],
) -> dict[str, Any]:
    """``template`` (a translated root) with every nested stack linked in, recursively.

    ``load`` reads (and, where it carries a transform, translates) a nested template file.
    Raises LinkError for a name used twice, an unknown output, or a construct that has no
    meaning once joined (see the module docstring).
    """
    linked: dict[str, Any] = copy.deepcopy(dict(template))
    resources: dict[str, Any] = linked.setdefault("Resources", {})
    conditions: dict[str, Any] = linked.setdefault("Conditions", {})
    outputs_of: dict[str, dict[str, Any]] = {}
    for stack, path in nested_template_paths(template, template_dir).items():
        stack_resource = resources.pop(stack)
        nested = link(load(path), path.parent, load)
        passed = (stack_resource.get("Properties") or {}).get("Parameters") or {}
        nested = _bind_parameters(stack, nested, passed, path)
        nested = _prefix_conditions(stack, nested)
        if "Condition" in stack_resource:
            _make_conditional(nested, stack_resource["Condition"])
        clashes = (set(nested.get("Resources", {})) & set(resources)) | (
            set(nested.get("Conditions", {})) & set(conditions)
        )
        if clashes:
            raise LinkError(f"{stack} ({path.name}): {sorted(clashes)} already name something else in the application")
        resources.update(nested.get("Resources", {}))
        conditions.update(nested.get("Conditions", {}))
        outputs_of[stack] = {name: output["Value"] for name, output in (nested.get("Outputs") or {}).items()}
    if outputs_of:
        linked = _replace_output_reads(linked, outputs_of)
    return linked


def _bind_parameters(stack: str, nested: dict[str, Any], passed: Mapping[str, Any], path: Path) -> dict[str, Any]:
    declared = nested.get("Parameters") or {}
    unknown = set(passed) - set(declared)
    if unknown:
        raise LinkError(f"{stack} passes {sorted(unknown)}, which {path.name} does not declare")
    values = {}
    for name, spec in declared.items():
        if name in passed:
            values[name] = passed[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise LinkError(f"{stack} does not pass {name}, which {path.name} requires")
    body = {key: value for key, value in nested.items() if key != "Parameters"}

    def visit(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref" and argument == "AWS::StackName":
                raise LinkError(f"{path.name} uses AWS::StackName; pass the root stack's name in (RootStackName)")
            if function == "Ref" and argument in values:
                return copy.deepcopy(values[argument])
            if function == "Fn::Sub":
                return _substitute(argument, values.get, path, visit)
        if isinstance(node, dict):
            return {key: visit(value) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    bound: dict[str, Any] = visit(body)
    return bound


def _substitute(
    argument: Any, lookup: Callable[[str], Any], path: Path | None, visit: Callable[[Any], Any]
) -> dict[str, Any]:
    """An ``Fn::Sub`` with every ``${name}`` that ``lookup`` knows replaced by its expression."""
    text, variables = (argument[0], dict(argument[1])) if isinstance(argument, list) else (argument, {})
    variables = {key: visit(value) for key, value in variables.items()}
    if not isinstance(text, str):
        return {"Fn::Sub": [text, variables] if variables else text}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "AWS::StackName" and path is not None:
            raise LinkError(f"{path.name} uses AWS::StackName; pass the root stack's name in (RootStackName)")
        if name in variables:
            return match.group(0)
        expression = lookup(name)
        if expression is None:
            return match.group(0)
        if isinstance(expression, str | int | float):
            return str(expression)
        if isinstance(expression, dict) and len(expression) == 1:
            (function, value), *_ = expression.items()
            if function == "Ref" and isinstance(value, str):
                return "${" + value + "}"
            if function == "Fn::GetAtt" and isinstance(value, list):
                return "${" + ".".join(value) + "}"
            if function == "Fn::Sub" and isinstance(value, str):
                return value
        fresh = re.sub(r"\W", "", name) + "Linked"
        variables[fresh] = expression
        return "${" + fresh + "}"

    substituted = _SUB_REFERENCE.sub(replace, text)
    return {"Fn::Sub": [substituted, variables] if variables else substituted}


def _prefix_conditions(stack: str, nested: dict[str, Any]) -> dict[str, Any]:
    names = set(nested.get("Conditions") or {})
    if not names:
        return nested

    def visit(node: Any, key: str | None = None) -> Any:
        if isinstance(node, dict):
            renamed = {}
            for k, v in node.items():
                if k == "Condition" and isinstance(v, str) and v in names:
                    renamed[k] = stack + v
                elif k == "Fn::If" and isinstance(v, list) and v and v[0] in names:
                    renamed[k] = [stack + v[0], *(visit(item) for item in v[1:])]
                else:
                    renamed[k] = visit(v, k)
            return renamed
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    prefixed: dict[str, Any] = visit({k: v for k, v in nested.items() if k != "Conditions"})
    prefixed["Conditions"] = {stack + name: visit(body) for name, body in nested["Conditions"].items()}
    return prefixed


def _make_conditional(nested: dict[str, Any], condition: str) -> None:
    conditions = nested.setdefault("Conditions", {})
    for name, resource in (nested.get("Resources") or {}).items():
        own = resource.get("Condition")
        if own is None:
            resource["Condition"] = condition
        else:
            both = f"{own}And{condition}"
            conditions[both] = {"Fn::And": [{"Condition": own}, {"Condition": condition}]}
            resource["Condition"] = both
        del name


def _replace_output_reads(template: dict[str, Any], outputs_of: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    def output(stack: str, attribute: str) -> Any:
        name = attribute.removeprefix("Outputs.")
        if name not in outputs_of[stack]:
            raise LinkError(f"{stack} has no output {name}")
        return copy.deepcopy(outputs_of[stack][name])

    def lookup(reference: str) -> Any:
        stack, _, attribute = reference.partition(".")
        if stack in outputs_of and attribute.startswith("Outputs."):
            return visit(output(stack, attribute))
        return None

    def visit(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Fn::GetAtt" and isinstance(argument, list) and argument[0] in outputs_of:
                return visit(output(argument[0], argument[1]))
            if function == "Fn::Sub":
                return _substitute(argument, lookup, None, visit)
        if isinstance(node, dict):
            return {key: visit(value) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node

    replaced: dict[str, Any] = visit(template)
    return replaced
