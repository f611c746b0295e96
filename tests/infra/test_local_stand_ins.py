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

from mvdb_local.cognito import (
    AUDITOR_CLIENT_ID,
    MACHINE_CLIENT_ID,
    READONLY_CLIENT_ID,
    USER_POOL_ID,
    LocalCognito,
)
from mvdb_local.gateway import LocalGateway, RestApi, Route
from mvdb_local.gateway_responses import DEFAULT_RESPONSES, evaluate
from mvdb_local.server import HttpRequest
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
            name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            operations[(name, path)] = None if authorizer == "NONE" else tuple(scopes)
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


@pytest.mark.parametrize("origins", ["", "https://app.example.com,https://admin.example.com"], ids=["no-cors", "cors"])
@pytest.mark.parametrize("kind", sorted(DEFAULT_RESPONSES))
def test_the_local_gateway_answers_with_the_deployed_gateway_responses(
    translated_document: dict[str, Any], template_path: Path, kind: str, origins: str
) -> None:
    parameters = {"CorsAllowOrigins": origins}
    (api,) = (r for r in translated_document["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi")
    configured = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    fallback = "DEFAULT_5XX" if DEFAULT_RESPONSES[kind][0] >= 500 else "DEFAULT_4XX"
    deployed = evaluate(configured.get(kind, configured[fallback]), translated_document, parameters)
    refused = HttpRequest("GET", "/movies", (("Origin", "https://app.example.com"),))

    local = LocalGateway.from_template(None, template_path, parameters=parameters).response(kind, refused, "req-1")

    assert local.status == int(deployed.get("statusCode", DEFAULT_RESPONSES[kind][0]))
    expected = {
        name.removeprefix("gatewayresponse.header."): "req-1" if value == "context.requestId" else value.strip("'")
        for name, value in deployed["responseParameters"].items()
    }
    assert local.headers == expected
    body = deployed["responseTemplates"]["application/json"]
    message = json.dumps(DEFAULT_RESPONSES[kind][1])
    assert json.loads(local.body) == json.loads(
        body.replace("$context.error.messageString", message).replace("$context.error.responseType", kind)
    )


def _oauth_scopes(template: Template, client: str) -> tuple[str, ...]:
    properties: dict[str, Any] = template.properties(client)
    return tuple(properties["AllowedOAuthScopes"])


def test_the_local_app_clients_have_the_deployed_clients_scopes(template: Template, tmp_path: Path) -> None:
    cognito = LocalCognito.from_state(tmp_path, f"http://127.0.0.1:8000/{USER_POOL_ID}")
    local = {client.client_id: client.scopes for client in cognito.clients}

    assert local == {
        MACHINE_CLIENT_ID: _oauth_scopes(template, "MachineClient"),
        READONLY_CLIENT_ID: _oauth_scopes(template, "ReadOnlyClient"),
        AUDITOR_CLIENT_ID: _oauth_scopes(template, "AuditorClient"),
    }


def test_local_tokens_live_as_long_as_the_deployed_clients_tokens(template: Template, tmp_path: Path) -> None:
    cognito = LocalCognito.from_state(tmp_path, f"http://127.0.0.1:8000/{USER_POOL_ID}")
    for client in ("MachineClient", "ReadOnlyClient", "AuditorClient"):
        properties = template.properties(client)
        assert properties["TokenValidityUnits"]["AccessToken"] == "minutes"
        assert cognito.token_lifetime_s == properties["AccessTokenValidity"] * 60
