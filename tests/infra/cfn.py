"""Reading a CloudFormation template in tests: resources by type, conditions, policy statements.

``resolve`` evaluates what CloudFormation decides at deploy time from parameters alone
(``Ref`` to a parameter, ``Fn::If``, conditions), so a test can state a property per
environment ("deletion protection outside dev"). The pseudo parameters ``AWS::Region`` and
``AWS::Partition`` count as parameters (the offline region's by default), so a condition on the
region can be evaluated too. Anything that needs a deployed account (``Fn::GetAtt``, ``Fn::Sub``
of resource names) is left as it is, to be asserted structurally.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "NO_VALUE",
    "Template",
    "as_list",
    "get_att",
    "ref",
]


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()  # what Ref AWS::NoValue resolves to: the property is absent
PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::Partition": "aws"}  # the offline translation's


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json_document(document: Any) -> Any:
    """A policy given as JSON text (AWS::Logs::ResourcePolicy), parsed; ``${...}`` of an Fn::Sub stay
    as written inside the strings they stand in."""
    import json

    text = document.get("Fn::Sub") if isinstance(document, dict) else document
    return json.loads(text) if isinstance(text, str) else document


class Template:
    """A parsed template (SAM or translated CloudFormation) and the parameter values of one deploy."""

    def __init__(self, document: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        self.document = document
        defaults = {name: spec.get("Default") for name, spec in document.get("Parameters", {}).items()}
        self.parameters = {**PSEUDO_PARAMETERS, **defaults, **(parameters or {})}

    def with_parameters(self, **parameters: Any) -> Template:
        """The same template deployed with other values (``**{"AWS::Region": ...}`` for a pseudo parameter)."""
        return Template(self.document, {**self.parameters, **parameters})

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.document["Resources"]
        return resources

    def resource(self, logical_id: str) -> dict[str, Any]:
        assert logical_id in self.resources, f"the template has no resource {logical_id}"
        resource: dict[str, Any] = self.resources[logical_id]
        return resource

    def properties(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resource(logical_id).get("Properties", {})
        return properties

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def exists(self, logical_id: str) -> bool:
        """Whether the resource is created with these parameters (its Condition, if any, holds)."""
        condition = self.resource(logical_id).get("Condition")
        return condition is None or self.condition(condition)

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        matches = self.of_type(resource_type)
        assert len(matches) == 1, f"expected one {resource_type}, found {sorted(matches)}"
        return next(iter(matches.items()))

    # -- deploy-time evaluation -------------------------------------------------------------

    def condition(self, name: str) -> bool:
        return bool(self._evaluate_condition(self.document["Conditions"][name]))

    def _evaluate_condition(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            (function, argument), *_ = expression.items()
            if function == "Fn::Equals":
                left, right = (self.resolve(value) for value in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not self._evaluate_condition(argument[0])
            if function == "Fn::And":
                return all(self._evaluate_condition(value) for value in argument)
            if function == "Fn::Or":
                return any(self._evaluate_condition(value) for value in argument)
            if function == "Condition":
                return self.condition(argument)
        return self.resolve(expression)

    def resolve(self, value: Any) -> Any:
        """``value`` with parameter references and Fn::If decided; other intrinsics kept."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), *_ = value.items()
            if function == "Ref" and argument == "AWS::NoValue":
                return NO_VALUE
            if function == "Ref" and argument in self.parameters:
                return self.parameters[argument]
            if function == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    # -- policies ----------------------------------------------------------------------------

    def policy_statements(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every statement of every policy document in the template: (resource, kind, statement)."""
        for name, resource in self.resources.items():
            properties = resource.get("Properties", {})
            documents: list[tuple[str, Any]] = []
            owner = name
            if resource["Type"] == "AWS::IAM::RolePolicy":
                # A role's inline policy declared apart from it: its statements are the role's.
                role = self.resolve(properties["RoleName"])
                owner = role["Ref"] if isinstance(role, dict) and "Ref" in role else name
                documents.append(("inline policy", properties["PolicyDocument"]))
            elif resource["Type"] == "AWS::IAM::Role":
                documents += [("inline policy", p["PolicyDocument"]) for p in properties.get("Policies", [])]
            elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
                documents.append(("policy", properties["PolicyDocument"]))
            elif resource["Type"] == "AWS::KMS::Key":
                documents.append(("key policy", properties["KeyPolicy"]))
            elif resource["Type"] in {"AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"}:
                documents.append(("resource policy", properties["PolicyDocument"]))
            elif resource["Type"] == "AWS::Logs::ResourcePolicy":
                documents.append(("resource policy", _json_document(properties["PolicyDocument"])))
            for kind, document in documents:
                for statement in as_list(self.resolve(document)["Statement"]):
                    yield owner, kind, statement
