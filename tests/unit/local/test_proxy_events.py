"""The events our stand-ins hand the function have the shape API Gateway's have.

``tests/events/aws/rest_api_proxy_event.json`` is AWS's own example of a REST API proxy event
("Input format of a Lambda function for proxy integration", its URL in the file). Every event
built by ``apigateway_events.rest_api`` (the local gateway, the in-process test client, the
pre-traffic hook) and the recorded events of ``tests/events`` must have its members, each of the
same JSON type where the example gives a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apigateway_events.rest_api import PROXY_EVENT_DOCUMENTATION
from functions.pre_traffic_hook import handler as hook
from mvdb.api.scopes import READ_SCOPE
from mvdb_local.cognito import READONLY_CLIENT_ID, LocalCognito
from mvdb_local.gateway import PROXY_RESOURCE, LocalGateway, request_event
from mvdb_local.server import HttpRequest

EVENTS = Path(__file__).resolve().parents[2] / "events"
AWS_EXAMPLE = json.loads((EVENTS / "aws" / "rest_api_proxy_event.json").read_text())
# Members the example has that an event of ours may lack, each with the reason.
ABSENT_BY_DESIGN = {
    # Only with mutual TLS on a custom domain, which the template does not configure.
    ("requestContext", "identity", "clientCert"),
}
# Members whose content depends on the method's authorizer: compared as "an object" only.
AUTHORIZER_DEPENDENT = {("requestContext", "authorizer")}
# Maps whose names are the request's own (headers, query parameters): compared as "an object" only.
REQUEST_OWN = {("headers",), ("multiValueHeaders",), ("queryStringParameters",), ("multiValueQueryStringParameters",)}
# Members that are null when the request has none: no body, no query, no path variables...
NULL_WHEN_ABSENT = {
    ("body",),
    ("headers",),
    ("multiValueHeaders",),
    ("queryStringParameters",),
    ("multiValueQueryStringParameters",),
    ("pathParameters",),
    ("stageVariables",),
    ("requestContext", "identity", "userAgent"),
}


def shape_differences(example: Any, event: Any, at: tuple[str, ...] = ()) -> list[str]:
    """Where ``event`` lacks a member of ``example``, has one it lacks, or has another JSON type."""
    if example is None or (event is None and at in NULL_WHEN_ABSENT):
        return []  # the example gives no value, or the request had nothing to put there
    if not isinstance(event, type(example)) or isinstance(event, bool) is not isinstance(example, bool):
        return [f"{'.'.join(at) or 'event'}: {type(event).__name__}, AWS's example has {type(example).__name__}"]
    if not isinstance(example, dict) or at in AUTHORIZER_DEPENDENT or at in REQUEST_OWN:
        return []
    differences = []
    for name in example.keys() | event.keys():
        where = (*at, name)
        if name not in event and where not in ABSENT_BY_DESIGN:
            differences.append(f"{'.'.join(where)}: missing")
        elif name not in example:
            differences.append(f"{'.'.join(where)}: not in AWS's example")
        elif name in event:
            differences += shape_differences(example[name], event[name], where)
    return differences


def test_the_example_is_aws_documented_rest_api_proxy_event() -> None:
    assert AWS_EXAMPLE["source"] == PROXY_EVENT_DOCUMENTATION
    assert AWS_EXAMPLE["event"]["resource"] == "/my/path"


def test_the_shape_check_catches_a_missing_member_and_a_wrong_type() -> None:
    event = request_event("GET", "/health")
    del event["requestContext"]["resourcePath"]
    event["isBase64Encoded"] = "false"

    assert sorted(shape_differences(AWS_EXAMPLE["event"], event)) == [
        "isBase64Encoded: str, AWS's example has bool",
        "requestContext.resourcePath: missing",
    ]


def _gateway_events(cognito: LocalCognito, gateway: LocalGateway) -> dict[str, Any]:
    token = cognito.issue_token(READONLY_CLIENT_ID)
    headers = (("Host", "127.0.0.1:8000"), ("Authorization", f"Bearer {token}"), ("User-Agent", "curl/8.5.0"))
    return {
        "gateway: authorized read": gateway.event(HttpRequest("GET", "/movies/2013/V%2FH%2FS?x=1&x=2", headers)),
        "gateway: open route": gateway.event(HttpRequest("GET", "/health", headers[:1])),
        "gateway: body": gateway.event(HttpRequest("OPTIONS", "/movies", headers, b'{"a": 1}')),
    }


def _other_events() -> dict[str, Any]:
    events = {
        "in-process: write with a body": request_event("POST", "/movies", {"Content-Type": "application/json"}, b"{}"),
        "in-process: not UTF-8": request_event("PUT", "/movies/2013/Rush", None, b"\xff\xfe"),
        "in-process: undeclared path": request_event("GET", "/nowhere/at/all"),
    }
    events |= {f"pre-traffic hook: {r.name}": hook.smoke_event(r) for r in hook.SMOKE_REQUESTS}
    events |= {f"recorded: {p.name}": json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))}
    return events


def test_every_event_has_the_shape_of_aws_example(cognito: LocalCognito, gateway: LocalGateway) -> None:
    events = _gateway_events(cognito, gateway) | _other_events()

    differences = {name: shape_differences(AWS_EXAMPLE["event"], event) for name, event in events.items()}

    assert {name: found for name, found in differences.items() if found} == {}


def test_a_gateway_event_names_the_matched_resource_and_its_decoded_path_parameters(
    cognito: LocalCognito, gateway: LocalGateway
) -> None:
    event = _gateway_events(cognito, gateway)["gateway: authorized read"]

    assert event["resource"] == event["requestContext"]["resourcePath"] == "/movies/{year}/{title+}"
    assert event["pathParameters"] == {"year": "2013", "title": "V/H/S"}
    assert event["path"] == "/movies/2013/V%2FH%2FS"  # as the client sent it: the service decodes once
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["requestContext"]["authorizer"]["claims"]["scope"] == READ_SCOPE
    assert event["requestContext"]["identity"]["userAgent"] == "curl/8.5.0"


def test_a_route_without_path_variables_has_null_path_parameters(cognito: LocalCognito, gateway: LocalGateway) -> None:
    event = _gateway_events(cognito, gateway)["gateway: open route"]

    assert (event["resource"], event["pathParameters"]) == ("/health", None)


def test_the_in_process_event_of_an_undeclared_path_comes_through_the_catch_all_resource() -> None:
    event = request_event("GET", "/nowhere/at%20all")

    assert (event["resource"], event["pathParameters"]) == (PROXY_RESOURCE, {"proxy": "nowhere/at all"})


@pytest.mark.parametrize("request_", hook.SMOKE_REQUESTS, ids=lambda r: r.name)
def test_the_hook_names_the_resource_the_gateway_would_match(request_: hook.SmokeRequest) -> None:
    event = hook.smoke_event(request_)
    routed = request_event(request_.method, request_.path)

    assert (event["resource"], event["pathParameters"]) == (routed["resource"], routed["pathParameters"])
