"""E9104: the functions' reserved concurrency leaves Lambda its 100 unreserved executions, and is never 0.

Lambda API reference, PutFunctionConcurrency: "Use GetAccountSettings to see your Regional
concurrency limit. You can reserve concurrency for as many functions as you like, as long as you
leave at least 100 simultaneous executions unreserved for functions that aren't configured with a
per-function limit." So a stack reserving N across its functions needs an account quota of at
least N + 100 (in addition to what other stacks reserve). Judged against the default quota (1,000;
``-x E9104:quota=<n>`` for another) for every scenario: the parameters' defaults and each
environment of the samconfig.toml beside the template. A reservation of 0 stops every invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tools.cfn_lint_rules._scenarios import Evaluator, referenced_parameters, scenarios

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
UNRESERVED_MINIMUM = 100
DEFAULT_ACCOUNT_QUOTA = 1000


def reservations(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, int | None]:
    """Function -> reserved concurrency with these parameter values (None: not reserved, or unknowable)."""
    evaluator = Evaluator(template, values)
    reserved: dict[str, int | None] = {}
    for name, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        expression = (resource.get("Properties") or {}).get("ReservedConcurrentExecutions")
        value = evaluator.value(expression) if expression is not None else None
        reserved[name] = int(value) if isinstance(value, int | str) and str(value).isdigit() else None
    return reserved


def required_quota(template: Mapping[str, Any], values: Mapping[str, Any]) -> int:
    """The smallest account concurrency quota in which these reservations can be made."""
    return sum(v for v in reservations(template, values).values() if v) + UNRESERVED_MINIMUM


class ReservedConcurrency(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "Reserved concurrency leaves 100 unreserved executions and is never 0"
    description = "Lambda keeps at least 100 executions unreserved; a reservation of 0 throttles every call"
    source_url = "https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html"
    tags: ClassVar[list[str]] = ["resources", "lambda", "project"]

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {"quota": {"default": DEFAULT_ACCOUNT_QUOTA, "type": "integer"}}
        self.configure()

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        functions = {
            name: (resource.get("Properties") or {}).get("ReservedConcurrentExecutions")
            for name, resource in cfn.get_resources(list(FUNCTION_TYPES)).items()
        }
        if not any(expression is not None for expression in functions.values()):
            return []
        path = Path(cfn.filename) if cfn.filename else None
        quota = int(self.config["quota"])
        matches: dict[tuple[Any, ...], RuleMatch] = {}
        for values in scenarios(template, referenced_parameters(list(functions.values()), template), path):
            reserved = reservations(template, values)
            for name, amount in reserved.items():
                if amount == 0:
                    where = ("Resources", name, "Properties", "ReservedConcurrentExecutions")
                    matches[where] = RuleMatch(
                        list(where),
                        f"{name} reserves 0 concurrent executions ({values}): every invocation is throttled",
                    )
            needed = sum(v for v in reserved.values() if v) + UNRESERVED_MINIMUM
            if needed > quota:
                first = next(n for n, v in reserved.items() if v)
                where = ("Resources", first, "Properties", "ReservedConcurrentExecutions")
                matches[where] = RuleMatch(
                    list(where),
                    f"the functions reserve {needed - UNRESERVED_MINIMUM} concurrent executions with {values}: Lambda "
                    f"keeps {UNRESERVED_MINIMUM} unreserved, so the account quota must be at least {needed} "
                    f"(checked against {quota})",
                )
        return list(matches.values())
