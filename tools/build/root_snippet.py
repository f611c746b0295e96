"""A root-template fragment (``infra/snippets/*.yaml``), placed in a root of stand-ins, so the gates can run on it.

A snippet holds what a nested stack adds to the root template (its ``AWS::Serverless::Application``
and the functions that must stay at the root). Until it is merged into ``infra/template.yaml`` it
is checked the way the root is: this puts it into a SAM template that has the root's globals and
parameters, and stand-ins for what it references there (the ``Data`` and ``Telemetry`` nested
stacks' outputs, the code signing config), with every local ``Location`` as a placeholder URL
(what ``sam package`` makes of it). The translation of that template goes to cfn-lint and checkov.

Usage: ``python -m tools.build.root_snippet infra/snippets/search-root.yaml -o build/infra/search-root.json``
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from tools.build.sam_translate import OFFLINE_REGION, TranslationError, load_sam_template, translate

__all__ = ["compose", "compose_file"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROOT_TEMPLATE = PROJECT_ROOT / "infra" / "template.yaml"
_PLACEHOLDER = "https://offline-translation-artifacts.s3.amazonaws.com/{}.template"
# Root parameters a snippet may reference that this root (before the split) does not have yet.
_SPLIT_PARAMETERS = {
    "PermissionsBoundaryArn": {
        "Type": "String",
        "Default": "",
        "Description": "The permissions boundary every role of the stack carries (the split's root parameter).",
    },
}
_STAND_INS = {
    # The split's nested stacks, as CloudFormation sees them: their outputs are all a snippet may read.
    name: {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": _PLACEHOLDER.format(name.lower())}}
    for name in ("Data", "Telemetry")
}


def compose(snippet: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A SAM template: the root's header, globals, parameters and code signing config, stand-ins, and the snippet."""
    resources = root["Resources"]
    composed: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": root["Transform"],
        "Globals": copy.deepcopy(root.get("Globals", {})),
        "Parameters": {**copy.deepcopy(root["Parameters"]), **_SPLIT_PARAMETERS},
        "Conditions": copy.deepcopy(root.get("Conditions", {})),
        "Resources": {
            **copy.deepcopy(_STAND_INS),
            # The code signing config and the profile it may create: the snippet's functions are signed as the root's.
            **{name: copy.deepcopy(resources[name]) for name in ("CodeSigningConfig", "SigningProfile")},
        },
        "Outputs": {},
    }
    for section in ("Parameters", "Resources", "Outputs"):
        clashes = composed[section].keys() & snippet.get(section, {}).keys()
        if clashes:
            raise TranslationError(f"the snippet's {section} {sorted(clashes)} clash with the root's")
        composed[section].update(copy.deepcopy(snippet.get(section, {})))
    for resource in composed["Resources"].values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Application" and isinstance(properties.get("Location"), str):
            properties["Location"] = _PLACEHOLDER.format(Path(properties["Location"]).stem)
    return _without_unused(composed)


def _without_unused(template: dict[str, Any]) -> dict[str, Any]:
    """Only the root's parameters and conditions that the kept resources (and those conditions) use."""
    used = _names_used([template["Resources"], template["Outputs"], template["Globals"]])
    while True:  # conditions use parameters and other conditions
        more = _names_used([template["Conditions"].get(name, {}) for name in used]) - used
        if not more:
            break
        used |= more
    template["Parameters"] = {name: spec for name, spec in template["Parameters"].items() if name in used}
    template["Conditions"] = {name: spec for name, spec in template["Conditions"].items() if name in used}
    return template


def _names_used(nodes: list[Any]) -> set[str]:
    """Every name a ``Ref``, ``Fn::Sub``, ``Fn::If``, ``Condition`` or ``Fn::GetAtt`` in ``nodes`` refers to."""
    names: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in ("Ref", "Condition") and isinstance(value, str):
                    names.add(value)
                elif key == "Fn::If" and isinstance(value, list) and value:
                    names.add(str(value[0]))
                elif key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) else value
                    names |= set(re.findall(r"\$\{([A-Za-z0-9]+)[^}]*\}", str(text)))
                stack.append(value)
    return names


def compose_file(snippet: Path, *, region: str = OFFLINE_REGION) -> tuple[dict[str, Any], dict[str, Any]]:
    """The composed SAM template of ``snippet`` and its translation to CloudFormation."""
    composed = compose(load_sam_template(snippet), load_sam_template(ROOT_TEMPLATE))
    return composed, translate(composed, region=region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("snippet", type=Path, help="the root-template fragment (e.g. infra/snippets/search-root.yaml)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the translated JSON")
    parser.add_argument("--region", default=OFFLINE_REGION)
    args = parser.parse_args(argv)
    try:
        _, translated = compose_file(args.snippet, region=args.region)
    except TranslationError as error:
        print(f"error: {args.snippet}: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(translated, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.snippet} in a root of stand-ins -> {args.output} ({len(translated['Resources'])} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
