"""Local stand-in for Amazon Cognito's token endpoint and API Gateway's Cognito authorizer.

What AWS does outside the function, reproduced closely enough that the auth tests exercise
the same paths locally as against a deployed stack:

* ``LocalCognito.token_endpoint`` answers ``POST /oauth2/token`` like a Cognito user pool
  domain does for the client-credentials grant: client id and secret by HTTP Basic or as form
  fields, an optional ``scope`` narrowing what the client may have, and Cognito's answer
  ``{"access_token", "expires_in", "token_type": "Bearer"}`` or its OAuth errors
  (``invalid_client`` 401, ``invalid_request`` / ``unsupported_grant_type`` / ``invalid_scope`` 400).
* Tokens are JWTs with a Cognito access token's claims (``iss``, ``sub`` = ``client_id``,
  ``client_id``, ``token_use=access``, ``scope``, ``exp``, ``iat``, ``auth_time``, ``jti``,
  ``version``), signed HS256 with a random key made at start-up. Cognito signs RS256 with a
  published key set; HS256 is used here because ``cryptography`` (which PyJWT needs for RS256)
  is not in the project's locked dependencies, and a verifier that shares the process's key is
  all a local stand-in needs.
* ``LocalCognito.authorizer`` is the gateway: the open routes pass without a token; a missing,
  malformed, expired, badly signed or non-access token is refused with 401
  ``{"message":"Unauthorized"}``; a valid token without the method's scope with 403
  ``{"message":"Forbidden"}``; otherwise the claims go on to the function as
  ``requestContext.authorizer.claims`` (every value a string, as the REST API passes them), where
  the service's own scope check runs as the second line.

Two app clients exist, as in the template: ``mvdb-local-machine`` (movies/read, movies/write)
and ``mvdb-local-readonly`` (movies/read), with secrets generated at every start.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt

from mvdb_local.server import GatewayResponse

__all__ = [
    "MACHINE_CLIENT_ID",
    "OPEN_PATHS",
    "READONLY_CLIENT_ID",
    "READ_SCOPE",
    "SIGNING_KEY_ENV",
    "TOKEN_PATH",
    "WRITE_SCOPE",
    "AppClient",
    "LocalCognito",
    "gateway_required_scope",
    "signing_key_from_env",
]

# The template's resource server ``movies`` and its scopes.
READ_SCOPE = "movies/read"
WRITE_SCOPE = "movies/write"
MACHINE_CLIENT_ID = "mvdb-local-machine"
READONLY_CLIENT_ID = "mvdb-local-readonly"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
# The routes the template declares without an authorizer; every other route needs a token.
OPEN_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json"})
# The template's AuthorizationScopes: movies/read on GETs, movies/write on the writes.
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Tests start the server with a key they know, so they can mint expired tokens it trusts.
SIGNING_KEY_ENV = "MVDB_LOCAL_SIGNING_KEY"
_MIN_KEY_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash
_ALGORITHM = "HS256"
_TOKEN_LIFETIME_S = 3600  # Cognito's default access-token validity
_FORM_TYPE = "application/x-www-form-urlencoded"
# The REST API's Cognito authorizer passes exp and iat as dates in this form, not numbers.
_CLAIM_DATE_FORMAT = "%a %b %d %H:%M:%S UTC %Y"

_UNAUTHORIZED = GatewayResponse.json(401, {"message": "Unauthorized"}, {"x-amzn-ErrorType": "UnauthorizedException"})
_FORBIDDEN = GatewayResponse.json(403, {"message": "Forbidden"}, {"x-amzn-ErrorType": "AccessDeniedException"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class AppClient:
    """A user pool app client allowed the client-credentials grant for ``scopes``."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]


def gateway_required_scope(method: str, path: str) -> str | None:
    """The scope the gateway demands for a request, or None on a route without an authorizer."""
    if path in OPEN_PATHS:
        return None
    return READ_SCOPE if method.upper() in _READ_METHODS else WRITE_SCOPE


def signing_key_from_env(env: Mapping[str, str] | None = None) -> bytes | None:
    """The key in ``MVDB_LOCAL_SIGNING_KEY`` (hex), or None when unset. Raises ValueError when unusable."""
    raw = (os.environ if env is None else env).get(SIGNING_KEY_ENV, "").strip()
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ValueError(f"{SIGNING_KEY_ENV} must be hex-encoded") from None
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"{SIGNING_KEY_ENV} must hold at least {_MIN_KEY_BYTES} bytes")
    return key


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error)
        self.response = GatewayResponse.json(status, {"error": error}, {**_NO_STORE, **(headers or {})})


class LocalCognito:
    """One user pool: its app clients, its token endpoint, and the gateway's authorizer over it."""

    def __init__(
        self,
        issuer: str,
        clients: Iterable[AppClient],
        signing_key: bytes,
        *,
        token_lifetime_s: int = _TOKEN_LIFETIME_S,
    ) -> None:
        if len(signing_key) < _MIN_KEY_BYTES:
            raise ValueError(f"the signing key must hold at least {_MIN_KEY_BYTES} bytes")
        self.issuer = issuer
        self.token_lifetime_s = token_lifetime_s
        self._clients = {client.client_id: client for client in clients}
        self._key = signing_key

    @classmethod
    def with_new_clients(cls, issuer: str, signing_key: bytes | None = None) -> LocalCognito:
        """The template's two app clients, with fresh secrets (and a fresh key unless one is given)."""
        clients = [
            AppClient(MACHINE_CLIENT_ID, secrets.token_urlsafe(32), (READ_SCOPE, WRITE_SCOPE)),
            AppClient(READONLY_CLIENT_ID, secrets.token_urlsafe(32), (READ_SCOPE,)),
        ]
        return cls(issuer, clients, signing_key or secrets.token_bytes(_MIN_KEY_BYTES))

    @property
    def clients(self) -> tuple[AppClient, ...]:
        return tuple(self._clients.values())

    # -- tokens -------------------------------------------------------------------------------

    def issue_token(
        self,
        client_id: str,
        scopes: Sequence[str] | None = None,
        *,
        issued_at: float | None = None,
        lifetime_s: int | None = None,
        token_use: str = "access",  # noqa: S107 - Cognito's claim value, not a secret
    ) -> str:
        """An access token for ``client_id``, as Cognito would issue it (tests may backdate it)."""
        client = self._clients[client_id]
        now = int(time.time() if issued_at is None else issued_at)
        claims = {
            "sub": client.client_id,
            "token_use": token_use,
            "scope": " ".join(client.scopes if scopes is None else scopes),
            "auth_time": now,
            "iss": self.issuer,
            "exp": now + (self.token_lifetime_s if lifetime_s is None else lifetime_s),
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client.client_id,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token of this pool. Raises jwt.InvalidTokenError otherwise."""
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key,
            algorithms=[_ALGORITHM],  # never what the token's header asks for (e.g. "none")
            issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "client_id", "token_use", "scope"]},
        )
        if claims["token_use"] != "access":  # noqa: S105 - Cognito's claim value, not a secret
            raise jwt.InvalidTokenError("not an access token")
        if claims["client_id"] not in self._clients:
            raise jwt.InvalidTokenError("not a client of this user pool")
        return claims

    # -- the token endpoint -------------------------------------------------------------------

    def token_endpoint(self, method: str, headers: Mapping[str, str], body: bytes) -> GatewayResponse:
        """``POST /oauth2/token`` for the client-credentials grant."""
        if method.upper() != "POST":
            return GatewayResponse.json(405, {"error": "invalid_request"}, {**_NO_STORE, "Allow": "POST"})
        try:
            form = _parse_form(headers, body)
            if "grant_type" not in form:
                raise _OAuthError(400, "invalid_request")
            client = self._authenticate(headers, form)
            if form["grant_type"] != "client_credentials":
                raise _OAuthError(400, "unsupported_grant_type")
            scopes = self._granted_scopes(client, form.get("scope"))
        except _OAuthError as error:
            return error.response
        token = self.issue_token(client.client_id, scopes)
        answer = {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        return GatewayResponse.json(200, answer, _NO_STORE)

    def _authenticate(self, headers: Mapping[str, str], form: Mapping[str, str]) -> AppClient:
        basic = _basic_credentials(headers.get("authorization"))
        if basic is not None and "client_secret" in form:
            raise _OAuthError(400, "invalid_request")  # one way of authenticating per request
        client_id, secret = basic if basic is not None else (form.get("client_id"), form.get("client_secret"))
        client = self._clients.get(client_id or "")
        # Compared in constant time, and against a dummy when the client is unknown, so the
        # answer's timing does not tell which client ids exist.
        expected = client.client_secret if client is not None else secrets.token_urlsafe(32)
        if client is None or secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            raise _OAuthError(401, "invalid_client", {"WWW-Authenticate": 'Basic realm="mvdb-local"'})
        return client

    @staticmethod
    def _granted_scopes(client: AppClient, requested: str | None) -> tuple[str, ...]:
        if requested is None or not requested.strip():
            return client.scopes
        wanted = requested.split()
        if not set(wanted) <= set(client.scopes):
            raise _OAuthError(400, "invalid_scope")
        return tuple(scope for scope in client.scopes if scope in wanted)

    # -- the gateway's authorizer -------------------------------------------------------------

    def authorizer(self, method: str, path: str, headers: Mapping[str, str]) -> GatewayResponse | dict[str, Any] | None:
        """API Gateway's Cognito authorizer with per-method scopes (the ``server.Authorizer`` hook)."""
        needed = gateway_required_scope(method, path)
        if needed is None:
            return None
        token = _bearer_token(headers.get("authorization"))
        if token is None:
            return _UNAUTHORIZED
        try:
            claims = self.verify(token)
        except jwt.InvalidTokenError:
            return _UNAUTHORIZED
        if needed not in str(claims["scope"]).split():
            return _FORBIDDEN
        return {"claims": _as_gateway_claims(claims)}

    # -- for developers -----------------------------------------------------------------------

    def write_clients_file(self, path: Path, *, api_url: str, token_url: str) -> None:
        """The app clients and their secrets, readable by this user only, for curl and the tests."""
        document = {
            "api_url": api_url,
            "token_url": token_url,
            "issuer": self.issuer,
            "clients": [
                {"client_id": c.client_id, "client_secret": c.client_secret, "scopes": list(c.scopes)}
                for c in self.clients
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")


def _parse_form(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise _OAuthError(400, "invalid_request")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise _OAuthError(400, "invalid_request") from None
    if any(len(values) > 1 for values in fields.values()):
        raise _OAuthError(400, "invalid_request")  # RFC 6749 §3.2: parameters must not repeat
    return {name: values[0] for name, values in fields.items()}


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _OAuthError(401, "invalid_client", {"WWW-Authenticate": 'Basic realm="mvdb-local"'})
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise _OAuthError(401, "invalid_client", {"WWW-Authenticate": 'Basic realm="mvdb-local"'})
    return client_id, secret


def _bearer_token(authorization: str | None) -> str | None:
    # The REST API's Cognito authorizer takes the raw token or "Bearer <token>".
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    return token or None


def _as_gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    gateway_claims = {name: str(value) for name, value in claims.items()}
    for name in ("exp", "iat"):
        gateway_claims[name] = time.strftime(_CLAIM_DATE_FORMAT, time.gmtime(int(claims[name])))
    return gateway_claims
