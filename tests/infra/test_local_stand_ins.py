"""The local stand-ins are the deployed API and user pool: compared with what SAM makes of the template.

The local gateway reads its routes from the SAM template's ``Api`` events; API Gateway gets the
OpenAPI body the SAM transform writes into ``AWS::ApiGateway::RestApi``. Comparing the two (not
the template with itself) proves the stand-in reads the events as SAM does: same resources,
methods, authorizer and scopes, same gateway responses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mvdb_local.cognito import MACHINE_CLIENT_ID, READONLY_CLIENT_ID, USER_POOL_ID, LocalCognito
from mvdb_local.gateway import LocalGateway, RestApi, Route
from tests.infra.cfn import Template

pytestmark = pytest.mark.infra


def _deployed_operations(template: Template) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """(method, resource) -> the Cognito authorizer's scopes, or None without an authorizer."""
    _, api = template.only("AWS::ApiGateway::RestApi")
    operations: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for path, item in api["Properties"]["Body"]["paths"].items():
        for method, operation in item.items():
            (security,) = operation["security"]
            ((authorizer, scopes),) = security.items()
            operations[(method.upper(), path)] = None if authorizer == "NONE" else tuple(scopes)
    return operations


def test_the_local_gateway_has_exactly_the_deployed_routes_with_their_scopes(
    template: Template, template_path: Path
) -> None:
    local = {(route.method, route.resource): route.scopes for route in RestApi.from_template(template_path).routes}

    assert local == _deployed_operations(template)


def test_a_stand_in_route_with_other_scopes_or_a_missing_route_is_told_apart(
    template: Template, template_path: Path
) -> None:
    routes = list(RestApi.from_template(template_path).routes)
    widened = [Route(r.method, r.resource, (*r.scopes, "movies/admin")) if r.scopes else r for r in routes]

    assert {(r.method, r.resource): r.scopes for r in widened} != _deployed_operations(template)
    assert {(r.method, r.resource): r.scopes for r in routes[1:]} != _deployed_operations(template)


@pytest.mark.parametrize("kind", ["UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN"])
def test_the_local_gateway_answers_with_the_deployed_gateway_responses(
    template: Template, template_path: Path, kind: str
) -> None:
    _, api = template.only("AWS::ApiGateway::RestApi")
    deployed = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"][kind]
    local = LocalGateway.from_template(None, template_path).response(kind)

    assert local.status == int(deployed["statusCode"])
    for parameter, value in deployed["responseParameters"].items():
        assert local.headers[parameter.removeprefix("gatewayresponse.header.")] == value.strip("'")
    body = json.loads(local.body)
    assert body["code"] == json.loads(deployed["responseTemplates"]["application/json"])["code"]


def _oauth_scopes(template: Template, client: str) -> tuple[str, ...]:
    properties: dict[str, Any] = template.properties(client)
    return tuple(properties["AllowedOAuthScopes"])


def test_the_local_app_clients_have_the_deployed_clients_scopes(template: Template, tmp_path: Path) -> None:
    cognito = LocalCognito.from_state(tmp_path, f"http://127.0.0.1:8000/{USER_POOL_ID}")
    local = {client.client_id: client.scopes for client in cognito.clients}

    assert local == {
        MACHINE_CLIENT_ID: _oauth_scopes(template, "MachineClient"),
        READONLY_CLIENT_ID: _oauth_scopes(template, "ReadOnlyClient"),
    }


def test_local_tokens_live_as_long_as_the_deployed_clients_tokens(template: Template, tmp_path: Path) -> None:
    cognito = LocalCognito.from_state(tmp_path, f"http://127.0.0.1:8000/{USER_POOL_ID}")
    for client in ("MachineClient", "ReadOnlyClient"):
        properties = template.properties(client)
        assert properties["TokenValidityUnits"]["AccessToken"] == "minutes"
        assert cognito.token_lifetime_s == properties["AccessTokenValidity"] * 60
