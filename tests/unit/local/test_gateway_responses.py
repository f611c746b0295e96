"""The local gateway renders gateway responses as API Gateway does: fallbacks, header mappings, parameters.

API Gateway developer guide: "Gateway response types for API Gateway" (a type not configured
defaults to DEFAULT_4XX/DEFAULT_5XX), "Parameter mapping for REST APIs" (static values, request
parameters, context variables).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mvdb_local.gateway import CognitoAuthorizer, LocalGateway
from mvdb_local.gateway_responses import evaluate, gateway_responses
from mvdb_local.server import HttpRequest, HttpResponse

ORIGIN = "https://app.example.com"
CORS_PARAMETERS = {"CorsAllowOrigins": f"{ORIGIN},https://admin.example.com"}


def api_template(responses: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Parameters": parameters or {},
        "Conditions": {"HasOrigins": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Origins"}, ""]}]}},
        "Resources": {"Api": {"Type": "AWS::Serverless::Api", "Properties": {"GatewayResponses": responses}}},
    }


def request(*headers: tuple[str, str]) -> HttpRequest:
    return HttpRequest("GET", "/movies", headers)


def test_a_configured_type_uses_its_own_headers_only() -> None:
    template = api_template(
        {
            "UNAUTHORIZED": {"StatusCode": "401", "ResponseParameters": {"Headers": {"WWW-Authenticate": "'Bearer'"}}},
            "DEFAULT_4XX": {"ResponseParameters": {"Headers": {"X-Default": "'yes'"}}},
        }
    )

    response = gateway_responses(template, "Api", {})["UNAUTHORIZED"].render(request(), "id-1")

    assert response.headers == {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"}


def test_a_type_not_configured_falls_back_to_default_4xx_with_its_own_status() -> None:
    template = api_template({"DEFAULT_4XX": {"ResponseParameters": {"Headers": {"X-Default": "'yes'"}}}})

    response = gateway_responses(template, "Api", {})["MISSING_AUTHENTICATION_TOKEN"].render(request(), "id-1")

    assert (response.status, response.headers["X-Default"]) == (403, "yes")
    assert json.loads(response.body) == {"message": "Missing Authentication Token"}


def test_header_mappings_take_the_request_id_and_request_headers() -> None:
    headers = {"X-Request-Id": "context.requestId", "X-Origin": "method.request.header.Origin"}
    template = api_template({"DEFAULT_4XX": {"ResponseParameters": {"Headers": headers}}})
    unauthorized = gateway_responses(template, "Api", {})["UNAUTHORIZED"]

    with_origin = unauthorized.render(request(("origin", ORIGIN)), "id-1")
    without = unauthorized.render(request(), "id-2")

    assert (with_origin.headers["X-Request-Id"], with_origin.headers["X-Origin"]) == ("id-1", ORIGIN)
    assert without.headers["X-Request-Id"] == "id-2"
    assert "X-Origin" not in without.headers  # a mapped header the request lacks is left out


@pytest.mark.parametrize(
    "mapping", ["context.identity.sourceIp", "stageVariables.origin", "Bearer", "'unclosed", "'o'clock'"]
)
def test_a_mapping_the_stand_in_does_not_follow_fails_when_it_starts(mapping: str) -> None:
    template = api_template({"DEFAULT_4XX": {"ResponseParameters": {"Headers": {"X-Other": mapping}}}})

    with pytest.raises(ValueError, match="cannot map"):
        gateway_responses(template, "Api", {})


def test_parameters_and_conditions_decide_a_header() -> None:
    origin = {
        "Fn::If": ["HasOrigins", {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "Origins"}]}]}, {"Ref": "AWS::NoValue"}]
    }
    template = api_template({"X": origin}, parameters={"Origins": {"Type": "String", "Default": ""}})

    assert evaluate({"X": origin}, template, {"Origins": "a,b"}) == {"X": "a"}
    assert evaluate({"X": origin}, template, {}) == {}  # AWS::NoValue leaves the member out


@pytest.mark.parametrize("function", [{"Fn::GetAtt": ["Api", "RootResourceId"]}, {"Ref": "Api"}, {"Fn::Sub": "x"}])
def test_an_intrinsic_function_the_stand_in_does_not_evaluate_fails(function: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cannot evaluate"):
        evaluate({"X": function}, api_template({}), {})


# -- the template's responses ------------------------------------------------------------------------


NO_KEYS_NEEDED = CognitoAuthorizer("http://127.0.0.1:9/pool")  # a request without a token never reaches the keys


def refusal(gateway: LocalGateway, *headers: tuple[str, str]) -> HttpResponse:
    refused = gateway.event(HttpRequest("GET", "/movies?year=2013", headers))  # no token: UNAUTHORIZED
    assert isinstance(refused, HttpResponse)
    return refused


def test_each_refusal_carries_its_own_request_id() -> None:
    gateway = LocalGateway.from_template(NO_KEYS_NEEDED)

    ids = {refusal(gateway).headers["X-Request-Id"] for _ in range(3)} | {
        gateway.response("REQUEST_TOO_LARGE").headers["X-Request-Id"]
    }

    assert len(ids) == 4


def test_with_allowed_origins_a_refusal_is_readable_by_the_first_one() -> None:
    gateway = LocalGateway.from_template(NO_KEYS_NEEDED, parameters=CORS_PARAMETERS)

    refused = refusal(gateway, ("Origin", "https://evil.example"))

    assert refused.status == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN  # never the caller's Origin
    assert refused.headers["Vary"] == "Origin"
    assert "X-Request-Id" in refused.headers["Access-Control-Expose-Headers"]


def test_without_allowed_origins_a_refusal_carries_no_allow_origin() -> None:
    gateway = LocalGateway.from_template(NO_KEYS_NEEDED)

    assert "Access-Control-Allow-Origin" not in refusal(gateway, ("Origin", ORIGIN)).headers
