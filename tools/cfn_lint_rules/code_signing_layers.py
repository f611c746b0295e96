"""E9105: a function whose code signing is enforced has no layer that its trusted profiles did not sign.

Lambda developer guide, code signing: "When you add a layer to a function that has code signing
enabled, Lambda checks that the layer is signed by an allowed signing profile." With
UntrustedArtifactOnDeployment Enforce, CreateFunction and UpdateFunctionConfiguration fail for such
a layer. A layer that ``sam package`` builds from this template (an ``AWS::*::LayerVersion`` of it)
is signed with the function; any other layer (an ARN, a parameter) is judged foreign. Every
scenario the template's Rules admit is checked, so a Rule that refuses "Enforce with a layer"
is exactly what makes such a template pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tools.cfn_lint_rules._scenarios import Evaluator, referenced_parameters, scenarios

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
LAYER_TYPES = ("AWS::Lambda::LayerVersion", "AWS::Serverless::LayerVersion")


def _referenced_resource(value: Any) -> str | None:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return str(value["Ref"])
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            return str(attribute[0])
    return None


class CodeSigningLayers(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "Enforced code signing: every layer signed by a trusted profile"
    description = "With UntrustedArtifactOnDeployment Enforce, Lambda refuses layers no trusted profile signed"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-codesigning.html"
    tags: ClassVar[list[str]] = ["resources", "lambda", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        resources = template.get("Resources") or {}
        own_layers = {name for name, r in resources.items() if r.get("Type") in LAYER_TYPES}
        path = Path(cfn.filename) if cfn.filename else None
        matches: dict[str, RuleMatch] = {}
        for name, function in cfn.get_resources(list(FUNCTION_TYPES)).items():
            properties = function.get("Properties") or {}
            config_name = _referenced_resource(properties.get("CodeSigningConfigArn"))
            config = resources.get(config_name or "", {})
            if config.get("Type") != "AWS::Lambda::CodeSigningConfig" or "Layers" not in properties:
                continue
            policy = ((config.get("Properties") or {}).get("CodeSigningPolicies") or {}).get(
                "UntrustedArtifactOnDeployment", "Warn"
            )
            watched = [policy, properties["Layers"]]
            for values in scenarios(template, referenced_parameters(watched, template), path):
                evaluator = Evaluator(template, values)
                layers = evaluator.value(properties["Layers"])
                if evaluator.value(policy) != "Enforce" or not isinstance(layers, list):
                    continue
                foreign = [layer for layer in layers if _referenced_resource(layer) not in own_layers]
                if foreign:
                    matches[name] = RuleMatch(
                        ["Resources", name, "Properties", "Layers"],
                        f"{name}: code signing is enforced with {values} and the layers {foreign} are not built and "
                        "signed with the function; Lambda refuses them. Refuse that combination in the template's "
                        "Rules.",
                    )
        return list(matches.values())
