"""E9102: active tracing only on Node.js canary runtimes; E9103: no deprecated canary runtime.

Synthetics API reference, CanaryRunConfigInput.ActiveTracing: "You can enable active tracing only
for canaries that use version syn-nodejs-2.0 or later for their canary runtime." (and, in the
Synthetics guide, "X-Ray tracing is not supported with Firefox browser canaries").
Runtime versions support policy: "You can't create canaries using deprecated runtime versions."
The runtime is judged for every value the template can give it, parameter defaults included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tools.cfn_lint_rules._scenarios import Evaluator, referenced_parameters, scenarios

# The oldest version of each runtime family that the Synthetics runtime support policy does not list
# as deprecated (its table of deprecation dates, read 2026-11-28: syn-python-selenium-5.1 and older,
# syn-nodejs-puppeteer-7.0 and older are deprecated).
OLDEST_SUPPORTED = {"syn-python-selenium": (6, 0), "syn-nodejs-puppeteer": (8, 0)}
_RUNTIME = re.compile(r"^(?P<family>syn-[a-z-]+?)-(?P<major>\d+)\.(?P<minor>\d+)$")


def _deprecated(runtime: str) -> bool:
    parsed = _RUNTIME.match(runtime)
    if not parsed or parsed["family"] not in OLDEST_SUPPORTED:
        return False
    return (int(parsed["major"]), int(parsed["minor"])) < OLDEST_SUPPORTED[parsed["family"]]


def _traceable(runtime: str, browsers: Any) -> bool:
    parsed = _RUNTIME.match(runtime)
    if not parsed or not parsed["family"].startswith("syn-nodejs"):
        return False
    firefox = isinstance(browsers, list) and any(
        isinstance(b, dict) and b.get("BrowserType") == "FIREFOX" for b in browsers
    )
    return not firefox and int(parsed["major"]) >= 2


def _canary_scenarios(cfn: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], str, Any]]:
    """(canary, its properties, parameter values, runtime, active tracing) for every scenario."""
    template, path = cfn.template, Path(cfn.filename) if cfn.filename else None
    for name, resource in cfn.get_resources(["AWS::Synthetics::Canary"]).items():
        properties = resource.get("Properties") or {}
        run_config = properties.get("RunConfig") or {}
        watched = [properties.get("RuntimeVersion"), run_config.get("ActiveTracing")]
        for values in scenarios(template, referenced_parameters(watched, template), path):
            evaluator = Evaluator(template, values)
            runtime = evaluator.value(properties.get("RuntimeVersion"))
            if isinstance(runtime, str):
                tracing = evaluator.value((properties.get("RunConfig") or {}).get("ActiveTracing"))
                yield name, properties, values, runtime, tracing


def _unique(matches: list[RuleMatch]) -> list[RuleMatch]:
    seen, unique = set(), []
    for match in matches:
        if (tuple(match.path), match.message) not in seen:
            seen.add((tuple(match.path), match.message))
            unique.append(match)
    return unique


class SyntheticsActiveTracing(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "Synthetics canaries trace actively only on Node.js runtimes"
    description = "ActiveTracing needs a syn-nodejs-2.0 or later runtime (and no Firefox browser)"
    source_url = (
        "https://docs.aws.amazon.com/AmazonCloudWatchSynthetics/latest/APIReference/API_CanaryRunConfigInput.html"
    )
    tags: ClassVar[list[str]] = ["resources", "synthetics", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        return _unique(
            [
                RuleMatch(
                    ["Resources", name, "Properties", "RunConfig", "ActiveTracing"],
                    f"{name}: active tracing needs a syn-nodejs-2.0 or later runtime, not {runtime!r}"
                    f" (parameters {values or 'as defaulted'})",
                )
                for name, properties, values, runtime, tracing in _canary_scenarios(cfn)
                if tracing in (True, "true") and not _traceable(runtime, properties.get("BrowserConfigs"))
            ]
        )


class SyntheticsDeprecatedRuntime(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Synthetics canaries use a runtime that is not deprecated"
    description = "You can't create canaries using deprecated runtime versions"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Runtime_Support_Policy.html"
    tags: ClassVar[list[str]] = ["resources", "synthetics", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = [
            RuleMatch(
                ["Resources", name, "Properties", "RuntimeVersion"],
                f"{name}: {runtime!r} is a deprecated Synthetics runtime; no canary can be created with it",
            )
            for name, _, _, runtime, _ in _canary_scenarios(cfn)
            if _deprecated(runtime)
        ]
        # A runtime offered by a parameter (a nested stack's canary reads it from its parent).
        for name, spec in (cfn.template.get("Parameters") or {}).items():
            for key in ("Default", "AllowedValues"):
                offered = spec.get(key)
                for value in offered if isinstance(offered, list) else [offered]:
                    if isinstance(value, str) and _deprecated(value):
                        matches.append(
                            RuleMatch(
                                ["Parameters", name, key],
                                f"parameter {name} offers {value!r}, a deprecated Synthetics runtime",
                            )
                        )
        return _unique(matches)
