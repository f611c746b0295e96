"""The hash that makes every change to a function's code or configuration publish a new version.

``AutoPublishAlias`` publishes a version (and moves the alias to it) only when SAM gives the
``AWS::Lambda::Version`` a new logical ID. SAM derives that ID (aws-sam-translator,
``SamFunction._construct_version``) from, in this order:

* ``AutoPublishCodeSha256`` when it is set: its first 10 characters, nothing else;
* otherwise a SHA-1 of the code location with parameter references resolved, plus the
  ``Environment``, ``MemorySize`` and ``SnapStart`` properties *unresolved* (or, with
  ``AutoPublishAliasAllProperties``, all properties, still unresolved).

So a deploy that changes only a parameter's value (``LogLevel``, ``CorsAllowOrigins``,
``TracingLayerArn``, SnapStart in dev) updates ``$LATEST`` but publishes nothing: the alias keeps
serving the old configuration (aws/serverless-application-model#1640, #3820). And a template
edit to, say, ``Timeout`` or ``Layers`` does not change the ID either.

Hence: the function's ``AutoPublishCodeSha256`` is a parameter, and this module computes its
value for one deploy: a SHA-256 of the function's properties and the ``Globals`` it inherits
(as written, without ``Events``, ``DeploymentPreference``, the version's own settings and the
reserved concurrency, which belongs to the function rather than to a version), the
code (the zip's bytes for a local ``CodeUri``; the S3 URI that ``sam package`` content-addresses
otherwise), and the value of every parameter those properties read, directly or through
conditions. A deploy that changes none of them keeps the version; any other change publishes one.

Usage (SAM CLI's environment; standard library and aws-sam-translator only)::

    python -m tools.deploy.function_version --template infra/template.yaml --parameter-overrides 'LogLevel="INFO"'

prints ``FunctionConfigurationSha256=<hex>`` for each function whose ``AutoPublishCodeSha256``
is a ``Ref`` to a parameter.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["NOT_CONFIGURATION", "configuration_hashes", "parse_overrides", "referenced_parameters"]

# Properties of a SAM function that are not part of a version: how it is invoked and deployed, and
# its reserved concurrency (a setting of the function, not of a version: PutFunctionConcurrency).
NOT_CONFIGURATION = frozenset(
    {
        "Events",
        "DeploymentPreference",
        "AutoPublishAlias",
        "AutoPublishCodeSha256",
        "VersionDescription",
        "ReservedConcurrentExecutions",
    }
)
_SUB_NAME = re.compile(r"\$\{([^!}.][^}.]*)\}")
_NESTED_STACK_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")


def parse_overrides(overrides: str) -> dict[str, str]:
    """``Key="value" Other="v"`` (the form of ``--parameter-overrides``) as a mapping."""
    pairs = shlex.split(overrides)
    malformed = [pair for pair in pairs if "=" not in pair]
    if malformed:
        raise ValueError(f"not Key=Value: {malformed}")
    return dict(pair.split("=", 1) for pair in pairs)


def referenced_parameters(node: Any, template: Mapping[str, Any]) -> set[str]:
    """Names of the template's parameters ``node`` reads: Ref, ${Name} in Fn::Sub, and conditions.

    An output of a nested stack (``Fn::GetAtt [App, Outputs.X]``) reads every parameter the
    root passes that stack: a nested output can follow any of them (the table the function serves
    follows ``ActiveTableName`` through the data stack). After ``sam package`` the nested template
    is an S3 URL, so this cannot narrow it to the output's own inputs; a version too many is safe,
    a configuration change that publishes none is not.
    """
    parameters = set(template.get("Parameters") or {})
    conditions = template.get("Conditions") or {}
    resources = template.get("Resources") or {}
    found: set[str] = set()
    seen_conditions: set[str] = set()
    seen_stacks: set[str] = set()

    def nested_stack(attribute: Any) -> None:
        logical_id = attribute[0] if isinstance(attribute, list) and attribute else str(attribute).split(".")[0]
        resource = resources.get(logical_id) or {}
        if resource.get("Type") in _NESTED_STACK_TYPES and logical_id not in seen_stacks:
            seen_stacks.add(logical_id)
            visit((resource.get("Properties") or {}).get("Parameters"))
            if "Condition" in resource:
                condition(resource["Condition"])

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "Ref" and item in parameters:
                    found.add(item)
                elif key == "Fn::GetAtt":
                    nested_stack(item)
                elif key == "Fn::Sub":
                    text = item[0] if isinstance(item, list) else item
                    if isinstance(text, str):
                        found.update(name for name in _SUB_NAME.findall(text) if name in parameters)
                    visit(item[1] if isinstance(item, list) and len(item) > 1 else None)
                elif key == "Fn::If" and isinstance(item, list) and item:
                    condition(item[0])
                    visit(item[1:])
                elif key == "Condition" and isinstance(item, str):
                    condition(item)
                else:
                    visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    def condition(name: str) -> None:
        if name in conditions and name not in seen_conditions:
            seen_conditions.add(name)
            visit(conditions[name])

    visit(node)
    return found


def _code_identity(code_uri: Any, template_dir: Path) -> Any:
    if isinstance(code_uri, str) and "://" not in code_uri:
        return "sha256:" + hashlib.sha256((template_dir / code_uri).read_bytes()).hexdigest()
    return code_uri


def configuration_hashes(template_path: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """Parameter name -> SHA-256 (hex) for each function whose AutoPublishCodeSha256 is a Ref to it.

    Raises FileNotFoundError when a local CodeUri's artifact is missing (build it first), and
    ValueError when a parameter the configuration reads has neither a value nor a default.
    """
    from samtranslator.yaml_helper import yaml_parse  # short-form intrinsics (!Ref, !If) included

    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    declared = template.get("Parameters") or {}
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    hashes = {}
    for name, resource in (template.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        target = properties.get("AutoPublishCodeSha256")
        if resource.get("Type") != "AWS::Serverless::Function" or not isinstance(target, dict) or "Ref" not in target:
            continue
        configuration = {key: value for key, value in properties.items() if key not in NOT_CONFIGURATION}
        inherited = {key: value for key, value in globals_function.items() if key not in NOT_CONFIGURATION}
        read = referenced_parameters([configuration, inherited], template) - {target["Ref"]}
        values = {}
        for parameter in sorted(read):
            if parameter in overrides:
                values[parameter] = str(overrides[parameter])
            elif "Default" in declared[parameter]:
                values[parameter] = str(declared[parameter]["Default"])
            else:
                raise ValueError(f"{name} reads parameter {parameter}, which has neither a value nor a default")
        code_uri = configuration.get("CodeUri", inherited.get("CodeUri"))
        document = {
            "function": name,
            "properties": {**configuration, "CodeUri": _code_identity(code_uri, template_path.parent)},
            "globals": inherited,
            "parameters": values,
        }
        digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
        hashes[target["Ref"]] = digest
    return hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, required=True, help="the SAM template being deployed")
    parser.add_argument("--parameter-overrides", default="", help='the deploy\'s overrides, Key="value" ...')
    args = parser.parse_args(argv)
    try:
        hashes = configuration_hashes(args.template, parse_overrides(args.parameter_overrides))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(" ".join(f'{parameter}="{digest}"' for parameter, digest in sorted(hashes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
