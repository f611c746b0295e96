"""Admission: which request bodies the service reads at all (size, media type, UTF-8, JSON)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mvdb.api.admission import check_envelope
from mvdb.api.problems import ProblemError


def envelope(method: str, body: str | None = None, content_type: str | None = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else None
    return {"httpMethod": method, "headers": headers, "body": body, "isBase64Encoded": False}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"])
def test_json_body_is_admitted(content_type: str) -> None:
    check_envelope(envelope("POST", "{}", content_type), max_body_bytes=100)


def test_merge_patch_body_is_admitted() -> None:
    check_envelope(envelope("PATCH", "{}", "application/merge-patch+json"), max_body_bytes=100)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_that_is_not_json_is_unsupported_media_type(method: str, content_type: str | None) -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope(method, "x", content_type), max_body_bytes=100)
    assert (error.value.status, error.value.code) == (415, "unsupported-media-type")


def test_content_type_header_name_is_case_insensitive() -> None:
    event = {"httpMethod": "POST", "headers": {"content-type": "application/json"}, "body": "{}"}
    check_envelope(event, max_body_bytes=100)


def test_body_larger_than_the_limit_is_payload_too_large() -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", "x" * 101), max_body_bytes=100)
    assert (error.value.status, error.value.code) == (413, "payload-too-large")


def json_of_size(size: int) -> str:
    """A JSON document (one string) of exactly ``size`` bytes."""
    return '"' + "x" * (size - 2) + '"'


def test_body_of_exactly_the_limit_is_admitted() -> None:
    check_envelope(envelope("POST", json_of_size(100)), max_body_bytes=100)


def test_body_size_is_counted_in_bytes_not_characters() -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", "é" * 60), max_body_bytes=100)  # 120 bytes in UTF-8
    assert error.value.status == 413


def test_base64_body_size_is_counted_after_decoding() -> None:
    event = {
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode(json_of_size(90).encode()).decode(),  # 120 characters of base64, 90 bytes
        "isBase64Encoded": True,
    }
    check_envelope(event, max_body_bytes=100)


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD", "OPTIONS"])
def test_methods_without_a_body_skip_the_envelope_checks(method: str) -> None:
    check_envelope(envelope(method, "x" * 1000, "text/plain"), max_body_bytes=100)


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "{'single': 'quotes'}",
        '{"year": ' + "9" * 5000 + "}",  # past Python's integer digit limit: a ValueError, not a JSONDecodeError
        '{"a":' * 10_000 + "1" + "}" * 10_000,  # past the parser's recursion limit: a RecursionError
    ],
    ids=["truncated", "single-quotes", "5000-digit-integer", "nested-10000-deep"],
)
def test_body_that_is_not_json_is_malformed_json(body: str) -> None:
    with pytest.raises(ProblemError) as error:
        check_envelope(envelope("POST", body), max_body_bytes=len(body))
    assert (error.value.status, error.value.code) == (400, "malformed-json")


def test_body_that_is_not_utf8_is_malformed_json() -> None:
    event = {
        "httpMethod": "PUT",
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode('{"plot": "Caf\xe9"}'.encode("latin-1")).decode(),
        "isBase64Encoded": True,
    }
    with pytest.raises(ProblemError) as error:
        check_envelope(event, max_body_bytes=100)
    assert (error.value.status, error.value.code) == (400, "malformed-json")


def test_empty_body_is_left_to_the_route() -> None:
    check_envelope(envelope("POST", "", None), max_body_bytes=100)
