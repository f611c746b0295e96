"""Admission: which requests the service takes at all (404/405, scope, body size, media type, UTF-8)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mvdb.api.admission import Admission, read_json
from mvdb.api.operations import Operation, Operations
from mvdb.api.problems import ProblemError

OPERATIONS = Operations(
    [
        Operation("GET", "/movies", "movies/read"),
        Operation("HEAD", "/movies", "movies/read"),
        Operation("POST", "/movies", "movies/write", ("application/json",)),
        Operation("OPTIONS", "/movies", None),
        Operation("GET", "/movies/{year}/{title}", "movies/read"),
        Operation("PUT", "/movies/{year}/{title}", "movies/write", ("application/json",)),
        Operation(
            "PATCH", "/movies/{year}/{title}", "movies/write", ("application/merge-patch+json", "application/json")
        ),
        Operation("GET", "/health", None),
    ]
)
FULL_ACCESS = {"claims": {"scope": "movies/read movies/write"}}


def admit(
    method: str,
    resource: str = "/movies",
    body: str | None = None,
    content_type: str | None = "application/json",
    *,
    authorizer: dict[str, Any] | None = None,
    max_body_bytes: int = 100,
    require_auth: bool = True,
    base64_body: bool = False,
) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else None
    event = {
        "httpMethod": method,
        "resource": resource,
        "path": "/movies/2013/Rush" if "{" in resource else resource,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "body": base64.b64encode(body.encode("latin-1")).decode() if base64_body and body else body,
        "isBase64Encoded": base64_body,
        "requestContext": {"authorizer": FULL_ACCESS if authorizer is None else authorizer},
    }
    return Admission(OPERATIONS, require_auth=require_auth, max_body_bytes=max_body_bytes).admit(event)


def refusal(**kwargs: Any) -> ProblemError:
    with pytest.raises(ProblemError) as error:
        admit(**kwargs)
    return error.value


# -- which operation ----------------------------------------------------------------------------


def test_unknown_resource_is_route_not_found() -> None:
    error = refusal(method="GET", resource="/{proxy+}")
    assert (error.status, error.code) == (404, "route-not-found")


def test_unsupported_method_on_a_known_resource_is_405_listing_what_is_allowed() -> None:
    error = refusal(method="DELETE", resource="/movies")
    assert (error.status, error.code) == (405, "method-not-allowed")
    assert error.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_the_gateways_greedy_resource_names_the_operation() -> None:
    admit("GET", "/movies/{year}/{title+}")


def test_405_needs_no_token() -> None:
    assert refusal(method="DELETE", resource="/movies", authorizer={}).status == 405


# -- scope ----------------------------------------------------------------------------------------


def test_a_pre_flight_needs_no_token() -> None:
    admit("OPTIONS", "/movies", authorizer={})


def test_an_open_operation_needs_no_token() -> None:
    admit("GET", "/health", authorizer={})


def test_missing_token_outranks_a_bad_body() -> None:
    error = refusal(method="POST", body="x" * 1000, content_type="text/plain", authorizer={})
    assert error.status == 401


def test_no_scope_check_when_auth_is_off() -> None:
    admit("POST", body="{}", authorizer={}, require_auth=False)


# -- the body -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "Application/Json ; Charset=UTF-8"],
)
def test_json_body_is_admitted_whatever_the_case_and_parameters(content_type: str) -> None:
    admit("POST", body="{}", content_type=content_type)


@pytest.mark.parametrize(
    "content_type", ["application/merge-patch+json", "APPLICATION/MERGE-PATCH+JSON", "application/json"]
)
def test_patch_reads_merge_patches_and_json(content_type: str) -> None:
    admit("PATCH", "/movies/{year}/{title+}", body="{}", content_type=content_type)


@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON", "application/merge-patch+json; charset=utf-8", "application/json;charset=UTF-8"],
)
def test_the_resolver_is_handed_the_normalised_media_type(content_type: str) -> None:
    # The resolver chooses its JSON parser by an exact "application/json": it must never refuse
    # what admission accepted.
    event = admit("PATCH", "/movies/{year}/{title+}", body="{}", content_type=content_type)
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert [k for k in event["headers"] if k.lower() == "content-type"] == ["Content-Type"]


@pytest.mark.parametrize(
    ("method", "resource", "content_type"),
    [
        ("POST", "/movies", "text/plain"),
        ("POST", "/movies", "application/x-www-form-urlencoded"),
        ("POST", "/movies", None),
        ("POST", "/movies", ";;;"),
        ("POST", "/movies", "application/jsonx"),
        ("POST", "/movies", "application/merge-patch+json"),  # merge patches are for PATCH only
        ("PUT", "/movies/{year}/{title+}", "application/merge-patch+json"),
        ("PATCH", "/movies/{year}/{title+}", "application/xml"),
    ],
)
def test_a_media_type_the_operation_does_not_read_is_415(method: str, resource: str, content_type: str | None) -> None:
    error = refusal(method=method, resource=resource, body="{}", content_type=content_type)
    assert (error.status, error.code) == (415, "unsupported-media-type")


def test_415_of_a_patch_names_the_accepted_patch_formats() -> None:
    error = refusal(method="PATCH", resource="/movies/{year}/{title+}", body="{}", content_type="text/plain")
    assert error.headers["Accept-Patch"] == "application/merge-patch+json, application/json"


def test_body_larger_than_the_limit_is_payload_too_large() -> None:
    error = refusal(method="POST", body="x" * 101)
    assert (error.status, error.code) == (413, "payload-too-large")


def test_body_size_is_counted_in_bytes_not_characters() -> None:
    assert refusal(method="POST", body="é" * 60).status == 413  # 120 bytes in UTF-8


def test_base64_body_size_is_counted_after_decoding() -> None:
    admit("POST", body='"' + "x" * 88 + '"', base64_body=True)  # 120 characters of base64, 90 bytes


def test_body_that_is_not_utf8_is_malformed_json() -> None:
    error = refusal(method="POST", body='{"plot": "Caf\xe9"}', base64_body=True)
    assert (error.status, error.code) == (400, "malformed-json")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "APPLICATION/JSON",
        "application/merge-patch+json",
        "text/plain",
        # Powertools reads an empty form body as {}: a PUT of it used to erase the movie's info.
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
@pytest.mark.parametrize(
    ("method", "resource"),
    [("POST", "/movies"), ("PUT", "/movies/{year}/{title+}"), ("PATCH", "/movies/{year}/{title+}")],
)
def test_an_empty_body_is_refused_whatever_its_content_type(
    method: str, resource: str, content_type: str | None
) -> None:
    error = refusal(method=method, resource=resource, body="", content_type=content_type)
    assert (error.status, error.code) == (400, "body-required")


def test_a_body_on_an_operation_that_reads_none_is_not_read() -> None:
    admit("GET", body="x" * 1000, content_type="text/plain")


# -- the one JSON parse ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "{'single': 'quotes'}",
        '{"year": ' + "9" * 5000 + "}",  # past Python's integer digit limit: a ValueError, not a JSONDecodeError
        '{"a":' * 100_000 + "1" + "}" * 100_000,  # past the parser's recursion limit: a RecursionError
    ],
    ids=["truncated", "single-quotes", "5000-digit-integer", "nested-100000-deep"],
)
def test_a_body_that_is_not_json_is_malformed_json(body: str) -> None:
    with pytest.raises(ProblemError) as error:
        read_json(body)
    assert (error.value.status, error.value.code) == (400, "malformed-json")


def test_a_member_named_twice_is_malformed_json() -> None:
    with pytest.raises(ProblemError) as error:
        read_json('{"year": 2099, "title": "x", "year": 1999}')
    assert (error.value.status, error.value.code) == (400, "malformed-json")
    assert '"year" appears more than once' in error.value.detail


def test_a_body_nested_as_deep_as_dynamodb_stores_is_read() -> None:
    body = '{"info": ' + "[" * 32 + "1" + "]" * 32 + "}"  # 32 levels of arrays below the document
    assert read_json(body)["info"] is not None


def test_a_body_nested_deeper_than_dynamodb_stores_is_malformed_json() -> None:
    # 500 levels parse, but broke the idempotency utility's deep copy (a 500) before this limit.
    for levels in (33, 500):
        with pytest.raises(ProblemError) as error:
            read_json('{"modified_by": ' + "[" * levels + "]" * levels + "}")
        assert (error.value.status, error.value.code) == (400, "malformed-json")
        assert "32 levels" in error.value.detail


def test_a_method_in_lower_case_is_not_the_method() -> None:
    error = refusal(method="delete", resource="/movies/{year}/{title+}", authorizer={})
    assert (error.status, error.code) == (405, "method-not-allowed")
