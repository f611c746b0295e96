"""The ``--signing-profiles`` value of ``sam package``: every function of the template, one profile.

``sam package --signing-profiles`` takes ``LogicalId=ProfileName`` pairs and signs only the
functions it names; a function left out is uploaded unsigned, which Lambda refuses in prod
(code-signing policy Enforce). So the list is read from the templates, not written by hand: every
``AWS::Serverless::Function`` and ``AWS::Lambda::Function`` with local code, in the template and
in every nested template it names by a local path (``AWS::Serverless::Application`` Location,
``AWS::CloudFormation::Stack`` TemplateURL), which ``sam package`` packages with the same
profiles.

Runs in the SAM CLI's environment (it needs only aws-sam-translator's YAML loader).

Usage: ``python -m tools.deploy.signing_profiles infra/template.yaml <profile name>`` prints
``MoviesFunction=<profile> PreTrafficHookFunction=<profile>``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["function_logical_ids", "main"]

_FUNCTION_TYPES = {"AWS::Serverless::Function": "CodeUri", "AWS::Lambda::Function": "Code"}
_NESTED = {"AWS::Serverless::Application": "Location", "AWS::CloudFormation::Stack": "TemplateURL"}


def _load(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    document = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise SystemExit(f"error: {path} is not a template")
    return document


def function_logical_ids(template: Path) -> list[str]:
    """Logical IDs of the functions with local code in ``template`` and its local nested templates."""
    document = _load(template)
    found: list[str] = []
    for logical_id, resource in document.get("Resources", {}).items():
        kind = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        if kind in _FUNCTION_TYPES:
            code = properties.get(_FUNCTION_TYPES[kind], document.get("Globals", {}).get("Function", {}).get("CodeUri"))
            is_local = isinstance(code, str) and not code.startswith("s3://")
            if is_local or (kind == "AWS::Serverless::Function" and code is None):
                found.append(logical_id)
        elif kind in _NESTED:
            location = properties.get(_NESTED[kind])
            if isinstance(location, str) and "://" not in location:
                found += function_logical_ids((template.parent / location).resolve())
    return sorted(set(found))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tools.deploy.signing_profiles <template> <signing profile name>", file=sys.stderr)
        return 2
    template, profile = Path(args[0]), args[1]
    functions = function_logical_ids(template)
    if not functions:
        print(f"error: {template} has no function with local code to sign", file=sys.stderr)
        return 2
    print(" ".join(f"{logical_id}={profile}" for logical_id in functions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
