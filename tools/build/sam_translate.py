"""Translate the SAM template into plain CloudFormation, offline, as CloudFormation's transform would.

cfn-lint (v1) no longer runs the SAM transform itself, so it cannot see a bad ``!Ref`` inside a
SAM resource, and checkov sees SAM resources only through its own approximations. Translating
first with aws-sam-translator, the library behind the ``AWS::Serverless-2016-10-31`` transform,
gives every gate the resources CloudFormation will actually create.

Offline means three things:

* a fixed region (its partition follows) instead of an AWS session: no credentials, no calls;
* local ``CodeUri`` paths (the zips ``make build`` writes) become placeholder S3 locations, as
  ``sam package`` would turn them into real ones; nothing is read or uploaded;
* an AWS managed policy named by a name SAM does not bundle would need ``iam:ListPolicies``: this
  refuses it with a clear error instead (name it by ARN). Names SAM bundles resolve offline;
* parameters get their defaults, or the values given; one without either is refused, because the
  transform resolves some properties (``AutoPublishCodeSha256``) from parameter values.

A nested application's local ``Location`` (``AWS::Serverless::Application``) becomes the nested
stack's ``TemplateURL`` as it is: ``sam package`` would upload the file. ``translate_file`` makes it
relative to where the translation is written, so that cfn-lint still finds the nested template and
checks the parameters passed to it (E3043).

Each SAM resource's ``Metadata`` (where the checkov skips and their reasons live) is copied onto
the resources generated from it, so the translated template's gates honour the same justified
skips, written once, next to the resource.

Usage: ``python -m tools.build.sam_translate infra/template.yaml -o build/infra/template.json [-p Name=Value]``
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["OFFLINE_REGION", "TranslationError", "load_sam_template", "translate", "translate_file"]

OFFLINE_REGION = "us-east-1"
# The parameters a deploy computes (no default in the template), with stand-in values for offline
# translation (make check-infra passes the same with -p).
OFFLINE_PARAMETERS = {"FunctionConfigurationSha256": "0" * 64}
_PLACEHOLDER_BUCKET = "offline-translation-artifacts"
# Properties that name local files which `sam package` uploads, by resource type.
_LOCAL_ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


class TranslationError(RuntimeError):
    """The SAM transform rejected the template; the message lists every reason it gave."""


def load_sam_template(path: Path) -> dict[str, Any]:
    """Parse a SAM template (YAML or JSON, short-form intrinsics such as ``!Ref`` included)."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(template, dict):
        raise TranslationError(f"{path} is not a template: its top level is not a mapping")
    return template


def _with_placeholder_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function["CodeUri"] = _placeholder(globals_function["CodeUri"])
    for resource in template.get("Resources", {}).values():
        name = _LOCAL_ARTIFACT_PROPERTIES.get(resource.get("Type", ""))
        properties = resource.get("Properties") or {}
        if name and isinstance(properties.get(name), str):
            properties[name] = _placeholder(properties[name])
    return template


def _placeholder(location: str) -> str:
    if location.startswith("s3://"):
        return location
    return f"s3://{_PLACEHOLDER_BUCKET}/{Path(location).name}"


def _refuse_managed_policy_lookup() -> dict[str, str]:
    raise TranslationError(
        "The template names a managed policy SAM does not know; resolving the name needs IAM, which an "
        "offline translation cannot call. Name the policy by its ARN."
    )


def _parameter_values(template: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(given or {})
    missing = [
        name
        for name, spec in (template.get("Parameters") or {}).items()
        if name not in values and "Default" not in spec
    ]
    if missing:
        raise TranslationError(f"the template's parameters {missing} have no default: give their values")
    return values


def translate(
    template: dict[str, Any],
    *,
    region: str = OFFLINE_REGION,
    parameter_values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform produces for ``template`` in ``region``.

    ``parameter_values`` override the parameters' defaults; TranslationError if a parameter
    without a default gets no value, or if the transform rejects the template.
    """
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The default feature-toggle config knows no features and says so on every lookup: noise.
    logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)  # metrics are never published here
    # Credentials are never used (the session only supplies the region); fixed ones keep botocore
    # from searching the environment, config files or the instance metadata service.
    session = boto3.session.Session(
        aws_access_key_id="offline",
        aws_secret_access_key="offline",  # noqa: S106 - a placeholder, never sent anywhere
        region_name=region,
    )
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session)
    try:
        translated: dict[str, Any] = translator.translate(
            _with_placeholder_artifacts(template),
            parameter_values=_parameter_values(template, parameter_values),
            passthrough_metadata=True,
            get_managed_policy_map=_refuse_managed_policy_lookup,
        )
    except InvalidDocumentException as error:
        reasons = "\n".join(f"  - {cause.message}" for cause in error.causes)
        raise TranslationError(f"the SAM transform rejected the template:\n{reasons}") from error
    # Round-trip through JSON: the translator leaves its own string subclasses in the tree.
    plain: dict[str, Any] = json.loads(json.dumps(translated))
    return plain


def translate_file(
    source: Path,
    destination: Path,
    *,
    region: str = OFFLINE_REGION,
    parameter_values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Translate ``source`` into ``destination`` (JSON); nested templates stay where they are."""
    translated = translate(load_sam_template(source), region=region, parameter_values=parameter_values)
    for resource in translated["Resources"].values():
        properties = resource.get("Properties") or {}
        url = properties.get("TemplateURL")
        if resource["Type"] == "AWS::CloudFormation::Stack" and isinstance(url, str) and "://" not in url:
            nested = (source.parent / url).resolve()
            properties["TemplateURL"] = os.path.relpath(nested, destination.parent.resolve())
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(json.dumps(translated, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("template", type=Path, help="the SAM template (e.g. infra/template.yaml)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the CloudFormation JSON")
    parser.add_argument("--region", default=OFFLINE_REGION, help="region to translate for (default: %(default)s)")
    parser.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE", help="a parameter's value (repeatable)"
    )
    args = parser.parse_args(argv)
    values = dict(pair.split("=", 1) for pair in args.parameter)
    try:
        translated = translate_file(args.template, args.output, region=args.region, parameter_values=values)
    except TranslationError as error:
        print(f"error: {args.template}: {error}", file=sys.stderr)
        return 1
    print(f"{args.template} -> {args.output} ({len(translated['Resources'])} CloudFormation resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
