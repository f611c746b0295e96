"""A local stand-in for the template's Amazon Cognito user pool: its app clients, tokens and key set.

What the service's callers and the gateway see of Cognito, reproduced so that local tests take
the paths they take against AWS:

* **Token endpoint** (``POST /oauth2/token``, as on a user pool domain), client-credentials
  grant only: client id and secret by HTTP Basic or as form fields, an optional ``scope``
  narrowing what the client may have, and Cognito's answer ``{"access_token", "expires_in",
  "token_type": "Bearer"}`` or its OAuth errors (``invalid_client`` 401, ``invalid_request`` /
  ``unsupported_grant_type`` / ``invalid_scope`` 400). Browsers on any origin may call it, as
  Cognito's: every answer carries ``Access-Control-Allow-Origin: *``, and a CORS preflight for
  ``POST`` is answered (``OPTIONS``, 204), so Swagger UI's Authorize works from a page opened as
  ``http://localhost:<port>`` as from ``http://127.0.0.1:<port>``.
* **Access tokens**: JWTs signed RS256 with the pool's RSA key (header ``kid``), carrying a
  Cognito access token's claims: ``iss``, ``sub`` = ``client_id``, ``client_id``,
  ``token_use=access``, ``scope``, ``exp``, ``iat``, ``auth_time``, ``jti``, ``version``.
* **Key set** (JWKS, RFC 7517) at ``<issuer>/.well-known/jwks.json``, where Cognito publishes
  a pool's public keys; the local gateway verifies tokens against it, as API Gateway does.

The issuer is ``http://127.0.0.1:<port>/<USER_POOL_ID>``, shaped like Cognito's
``https://cognito-idp.<region>.amazonaws.com/<user pool id>``. Three app clients exist, as in the
template: ``mvdb-local-machine`` (read and write), ``mvdb-local-readonly`` (read) and the auditors' (audit). Their
secrets and the signing key live in the state directory (``.local/``, files of mode 0600) and
stay the same across restarts until rotated (``python -m mvdb_local --rotate-secrets``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mvdb.api.scopes import AUDIT_SCOPE, READ_SCOPE, WRITE_SCOPE
from mvdb_local.gateway import JWKS_PATH
from mvdb_local.private_files import read_private_file, write_private_file
from mvdb_local.server import HttpRequest, HttpResponse

__all__ = [
    "AUDITOR_CLIENT_ID",
    "CLIENTS_FILE",
    "MACHINE_CLIENT_ID",
    "READONLY_CLIENT_ID",
    "SIGNING_KEY_FILE",
    "TOKEN_PATH",
    "USER_POOL_ID",
    "AppClient",
    "LocalCognito",
]

USER_POOL_ID = "local_mvdb"
MACHINE_CLIENT_ID = "mvdb-local-machine"
READONLY_CLIENT_ID = "mvdb-local-readonly"
AUDITOR_CLIENT_ID = "mvdb-local-auditor"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
CLIENTS_FILE = "clients.json"  # in the state directory: the app clients, their secrets, the URLs
SIGNING_KEY_FILE = "cognito-signing-key.pem"  # in the state directory: the pool's RSA private key
# The template's app clients (infra/stacks/identity.yaml), each with the scopes it is allowed.
_TEMPLATE_CLIENTS = {
    MACHINE_CLIENT_ID: (READ_SCOPE, WRITE_SCOPE),
    READONLY_CLIENT_ID: (READ_SCOPE,),
    AUDITOR_CLIENT_ID: (AUDIT_SCOPE,),
}
_ALGORITHM = "RS256"
_KEY_BITS = 2048  # as Cognito's user pool signing keys
_TOKEN_LIFETIME_S = 3600  # the template's AccessTokenValidity: 60 minutes
_FORM_TYPE = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# "The token endpoint returns an Access-Control-Allow-Origin: * response header. You can call the
# token endpoint cross-origin from a browser-based application. [...] Amazon Cognito does not support
# custom cross-origin resource sharing (CORS) origin policies on this endpoint." (Amazon Cognito
# Developer Guide, "The token issuer endpoint"). No credentials mode: no cookies, no
# Access-Control-Allow-Credentials.
_ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}
# What a preflight allows, which AWS does not document, kept to what a browser's token request needs:
# the one method the endpoint serves, and of the headers Swagger UI's request sets, those that are not
# CORS-safelisted (its Accept and its form Content-Type are): Authorization (client_secret_basic) and
# X-Requested-With. No Access-Control-Max-Age: nothing cached beyond the browser's default.
_PREFLIGHT = {
    **_ANY_ORIGIN,
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Authorization, X-Requested-With",
}


@dataclass(frozen=True)
class AppClient:
    """A user pool app client allowed the client-credentials grant for ``scopes``."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error)
        self.response = HttpResponse.json(status, {"error": error}, {**_NO_STORE, **_ANY_ORIGIN, **(headers or {})})


class LocalCognito:
    """One user pool: its app clients, its RSA signing key, its token endpoint and key set."""

    def __init__(
        self,
        issuer: str,
        clients: Iterable[AppClient],
        signing_key: rsa.RSAPrivateKey,
        *,
        token_lifetime_s: int = _TOKEN_LIFETIME_S,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.token_lifetime_s = token_lifetime_s
        self._clients = {client.client_id: client for client in clients}
        self._key = signing_key
        self._public_jwk = _public_jwk(signing_key)

    @classmethod
    def from_state(cls, state_dir: Path, issuer: str, *, rotate: bool = False) -> LocalCognito:
        """The pool whose secrets and key ``state_dir`` keeps; new ones where missing, or all new with ``rotate``.

        Raises UnsafeFileError when a state file is a symlink or another user's file.
        """
        kept_key = None if rotate else read_private_file(state_dir / SIGNING_KEY_FILE)
        key = _load_private_key(kept_key) if kept_key else rsa.generate_private_key(65537, _KEY_BITS)
        kept_clients = None if rotate else read_private_file(state_dir / CLIENTS_FILE)
        kept_secrets = _secrets_of(kept_clients)
        clients = [
            AppClient(client_id, kept_secrets.get(client_id) or secrets.token_urlsafe(32), scopes)
            for client_id, scopes in _TEMPLATE_CLIENTS.items()
        ]
        return cls(issuer, clients, key)

    def save(self, state_dir: Path, *, api_url: str, token_url: str) -> None:
        """Keep the signing key and the clients (with their secrets and the URLs to use) in ``state_dir``."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private_file(state_dir / SIGNING_KEY_FILE, pem)
        document = {
            "api_url": api_url,
            "token_url": token_url,
            "issuer": self.issuer,
            "jwks_url": self.jwks_url,
            "clients": [
                {"client_id": c.client_id, "client_secret": c.client_secret, "scopes": list(c.scopes)}
                for c in self.clients
            ],
        }
        write_private_file(state_dir / CLIENTS_FILE, (json.dumps(document, indent=2) + "\n").encode())

    @property
    def clients(self) -> tuple[AppClient, ...]:
        return tuple(self._clients.values())

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    @property
    def jwks_path(self) -> str:
        """The path the key set is served at, on the issuer's host."""
        return urlsplit(self.jwks_url).path

    def jwks(self) -> dict[str, Any]:
        """The pool's public keys as a JWK set (RFC 7517), as Cognito publishes them."""
        return {"keys": [dict(self._public_jwk)]}

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
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM, headers={"kid": self._public_jwk["kid"]})

    # -- endpoints ----------------------------------------------------------------------------

    def token_endpoint(self, request: HttpRequest) -> HttpResponse:
        """``POST /oauth2/token`` for the client-credentials grant, and the CORS preflight for it.

        A CORS preflight for ``POST`` (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method:
        POST``, as the Fetch standard's CORS protocol defines it) gets 204 with ``_PREFLIGHT``; any
        other method, an ``OPTIONS`` that is no such preflight included, gets 405 ``invalid_request``
        with ``Allow: POST``. Every answer carries ``Access-Control-Allow-Origin: *``, as Cognito's.
        """
        if _is_preflight_for_post(request):
            return HttpResponse(204, b"", _PREFLIGHT)
        if request.method.upper() != "POST":
            return HttpResponse.json(405, {"error": "invalid_request"}, {**_NO_STORE, **_ANY_ORIGIN, "Allow": "POST"})
        try:
            form = _parse_form(request.header("content-type"), request.body or b"")
            if "grant_type" not in form:
                raise _OAuthError(400, "invalid_request")
            client = self._authenticate(request.header("authorization"), form)
            if form["grant_type"] != "client_credentials":
                raise _OAuthError(400, "unsupported_grant_type")
            scopes = self._granted_scopes(client, form.get("scope"))
        except _OAuthError as error:
            return error.response
        token = self.issue_token(client.client_id, scopes)
        answer = {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        return HttpResponse.json(200, answer, {**_NO_STORE, **_ANY_ORIGIN})

    def jwks_endpoint(self, request: HttpRequest) -> HttpResponse:
        """``GET <issuer>/.well-known/jwks.json``: the pool's public keys."""
        if request.method.upper() not in {"GET", "HEAD"}:
            return HttpResponse.json(405, {"message": "Method Not Allowed"}, {"Allow": "GET, HEAD"})
        return HttpResponse.json(200, self.jwks(), {"Cache-Control": "max-age=300"})

    def _authenticate(self, authorization: str | None, form: Mapping[str, str]) -> AppClient:
        basic = _basic_credentials(authorization)
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


def _is_preflight_for_post(request: HttpRequest) -> bool:
    # Browsers send the method normalized (upper case); method names are case-sensitive (RFC 9110 §9.1).
    return (
        request.method.upper() == "OPTIONS"
        and request.header("origin") is not None
        and (request.header("access-control-request-method") or "").strip() == "POST"
    )


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    jwk: dict[str, str] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    # The key id is the key's RFC 7638 thumbprint: a new key gets a new kid, as with Cognito.
    members = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()
    return {"alg": _ALGORITHM, "e": jwk["e"], "kid": thumbprint, "kty": "RSA", "n": jwk["n"], "use": "sig"}


def _load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{SIGNING_KEY_FILE} does not hold an RSA private key: delete it to get a new one")
    return key


def _secrets_of(clients_file: bytes | None) -> dict[str, str]:
    if not clients_file:
        return {}
    try:
        document = json.loads(clients_file)
        return {str(c["client_id"]): str(c["client_secret"]) for c in document["clients"]}
    except (ValueError, KeyError, TypeError):
        return {}  # unreadable: the clients get new secrets


def _parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";")[0].strip().lower()
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
