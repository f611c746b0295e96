"""The local gateway's Cognito authorizer refuses every token API Gateway's would refuse, and admits the rest.

API Gateway's COGNITO_USER_POOLS authorizer checks the signature against the pool's JWKS, the
issuer, the expiry, that it is an access token, and that it holds one of the method's scopes;
any failure, a missing scope included, is 401 Unauthorized (API Gateway developer guide,
"Integrate a REST API with an Amazon Cognito user pool").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mvdb.api.scopes import READ_SCOPE, WRITE_SCOPE
from mvdb_local.cognito import MACHINE_CLIENT_ID, READONLY_CLIENT_ID, LocalCognito
from mvdb_local.gateway import CognitoAuthorizer, LocalGateway, Unauthorized
from mvdb_local.server import HttpRequest, HttpResponse
from tests.unit.local.conftest import InMemoryJwksClient


def _claims(cognito: LocalCognito, **overrides: Any) -> dict[str, Any]:
    """The claims of a valid access token of the pool, with ``overrides``."""
    now = int(time.time())
    claims = {
        "sub": MACHINE_CLIENT_ID,
        "client_id": MACHINE_CLIENT_ID,
        "token_use": "access",
        "scope": f"{READ_SCOPE} {WRITE_SCOPE}",
        "iss": cognito.issuer,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "jti": "0b1c2d3e",
        "version": 2,
    }
    claims.update(overrides)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pool_kid(cognito: LocalCognito) -> str:
    return str(cognito.jwks()["keys"][0]["kid"])


def request(method: str, target: str, token: str | None = None) -> HttpRequest:
    headers = (("Host", "127.0.0.1:8000"),) + ((("Authorization", f"Bearer {token}"),) if token else ())
    return HttpRequest(method, target, headers)


# -- tokens the pool issued ----------------------------------------------------------------------


def test_an_access_token_of_the_pool_with_the_scope_is_admitted(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    claims = authorizer.claims(f"Bearer {cognito.issue_token(READONLY_CLIENT_ID)}", (READ_SCOPE,))
    assert (claims["client_id"], claims["scope"]) == (READONLY_CLIENT_ID, READ_SCOPE)


def test_the_raw_token_without_bearer_is_admitted_as_api_gateway_does(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    assert authorizer.claims(cognito.issue_token(MACHINE_CLIENT_ID), (READ_SCOPE,))["client_id"] == MACHINE_CLIENT_ID


def test_any_one_of_the_methods_scopes_admits_the_token(cognito: LocalCognito, authorizer: CognitoAuthorizer) -> None:
    token = cognito.issue_token(MACHINE_CLIENT_ID, [WRITE_SCOPE])
    assert authorizer.claims(token, (READ_SCOPE, WRITE_SCOPE))["scope"] == WRITE_SCOPE


def test_a_token_without_the_methods_scope_is_refused(cognito: LocalCognito, authorizer: CognitoAuthorizer) -> None:
    with pytest.raises(Unauthorized):
        authorizer.claims(cognito.issue_token(READONLY_CLIENT_ID), (WRITE_SCOPE,))


def test_an_expired_token_is_refused(cognito: LocalCognito, authorizer: CognitoAuthorizer) -> None:
    expired = cognito.issue_token(MACHINE_CLIENT_ID, issued_at=time.time() - 7200)
    with pytest.raises(Unauthorized):
        authorizer.claims(expired, (READ_SCOPE,))


def test_an_id_token_is_refused_where_the_method_has_scopes(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    with pytest.raises(Unauthorized):
        authorizer.claims(cognito.issue_token(MACHINE_CLIENT_ID, token_use="id"), (READ_SCOPE,))


# -- tokens the pool did not issue ----------------------------------------------------------------


def test_a_token_signed_by_another_key_with_the_pools_key_id_is_refused(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(cognito), other_key, algorithm="RS256", headers={"kid": _pool_kid(cognito)})
    with pytest.raises(Unauthorized):
        authorizer.claims(forged, (READ_SCOPE,))


def test_a_token_with_a_key_id_the_pool_does_not_publish_is_refused(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(cognito), other_key, algorithm="RS256", headers={"kid": "someone-elses-key"})
    with pytest.raises(Unauthorized):
        authorizer.claims(forged, (READ_SCOPE,))


def test_an_unsigned_token_alg_none_is_refused(cognito: LocalCognito, authorizer: CognitoAuthorizer) -> None:
    header = {"alg": "none", "kid": _pool_kid(cognito), "typ": "JWT"}
    unsigned = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(cognito)).encode())}."
    with pytest.raises(Unauthorized):
        authorizer.claims(unsigned, (READ_SCOPE,))


def test_an_hs256_token_keyed_with_the_pools_public_key_is_refused(
    cognito: LocalCognito, authorizer: CognitoAuthorizer
) -> None:
    # The algorithm-confusion attack: a verifier that let the token pick its algorithm would use
    # the published RSA public key as an HMAC secret and accept this.
    public_pem = jwt.PyJWK(cognito.jwks()["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": _pool_kid(cognito), "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(cognito)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthorized):
        authorizer.claims(f"{signing_input}.{_b64(signature)}", (READ_SCOPE,))


def test_a_token_of_another_issuer_is_refused_even_when_signed_by_the_pools_key(cognito: LocalCognito) -> None:
    other_pool = CognitoAuthorizer("http://127.0.0.1:8000/another_pool", jwks_client=InMemoryJwksClient(cognito))
    with pytest.raises(Unauthorized):
        other_pool.claims(cognito.issue_token(MACHINE_CLIENT_ID), (READ_SCOPE,))


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "this.is-not.a-jwt", "Basic bWU6c2VjcmV0"])
def test_a_missing_or_malformed_token_is_refused(authorizer: CognitoAuthorizer, authorization: str | None) -> None:
    with pytest.raises(Unauthorized):
        authorizer.claims(authorization, (READ_SCOPE,))


def test_the_key_set_is_fetched_once_and_cached(cognito: LocalCognito) -> None:
    jwks = InMemoryJwksClient(cognito)
    authorizer = CognitoAuthorizer(cognito.issuer, jwks_client=jwks)
    for _ in range(3):
        authorizer.claims(cognito.issue_token(MACHINE_CLIENT_ID), (READ_SCOPE,))
    assert jwks.fetches == 1


# -- the gateway in front of the function ----------------------------------------------------------


def test_the_gateway_refuses_a_token_without_the_scope_with_the_templates_unauthorized_response(
    cognito: LocalCognito, gateway: LocalGateway
) -> None:
    refused = gateway.event(request("DELETE", "/movies/2013/Rush", cognito.issue_token(READONLY_CLIENT_ID)))

    assert isinstance(refused, HttpResponse)
    assert refused.status == 401
    assert json.loads(refused.body)["code"] == "unauthenticated"
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_the_gateway_passes_the_verified_claims_as_strings_with_dates(
    cognito: LocalCognito, gateway: LocalGateway
) -> None:
    event = gateway.event(request("GET", "/movies?year=2013", cognito.issue_token(READONLY_CLIENT_ID)))

    assert isinstance(event, dict)
    claims = event["requestContext"]["authorizer"]["claims"]
    assert all(isinstance(value, str) for value in claims.values())
    assert (claims["client_id"], claims["scope"], claims["token_use"]) == (READONLY_CLIENT_ID, READ_SCOPE, "access")
    assert claims["exp"].endswith(time.strftime("%Y", time.gmtime())) and " UTC " in claims["exp"]


def test_an_open_route_needs_no_token(gateway: LocalGateway) -> None:
    event = gateway.event(request("GET", "/health"))

    assert isinstance(event, dict)
    assert event["requestContext"]["authorizer"] == {"claims": None, "scopes": None}


@pytest.mark.parametrize("target", ["/nowhere", "/movies/", "/movies/2013"])
def test_a_path_the_api_does_not_define_is_missing_authentication_token(gateway: LocalGateway, target: str) -> None:
    refused = gateway.event(request("GET", target))

    assert isinstance(refused, HttpResponse)
    # The template maps MISSING_AUTHENTICATION_TOKEN to 404 route-not-found.
    assert (refused.status, json.loads(refused.body)["code"]) == (404, "route-not-found")


@pytest.mark.parametrize(("method", "target"), [("DELETE", "/movies"), ("POST", "/movies/2013/Rush"), ("PUT", "/")])
def test_a_method_the_resource_does_not_declare_reaches_the_function_through_any_without_claims(
    cognito: LocalCognito, gateway: LocalGateway, method: str, target: str
) -> None:
    event = gateway.event(request(method, target, cognito.issue_token(MACHINE_CLIENT_ID)))

    assert isinstance(event, dict)  # the function answers it 405 with Allow
    assert (event["httpMethod"], event["path"]) == (method, target)
    assert event["requestContext"]["authorizer"]["claims"] is None  # ANY has no authorizer


def test_a_method_the_resource_declares_takes_precedence_over_its_any_method(gateway: LocalGateway) -> None:
    refused = gateway.event(request("GET", "/movies?year=2013"))  # no token: GET's authorizer refuses it

    assert isinstance(refused, HttpResponse)
    assert refused.status == 401


def test_without_an_authorizer_a_scoped_route_reaches_the_function_without_claims() -> None:
    gateway = LocalGateway.from_template(authorizer=None)  # python -m mvdb_local --no-auth

    event = gateway.event(request("GET", "/movies/2013/Rush"))

    assert isinstance(event, dict)
    assert event["requestContext"]["authorizer"]["claims"] is None
