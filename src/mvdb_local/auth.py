"""Local stand-in for Amazon Cognito's token endpoint and the API's gateway with its Cognito authorizer.

What AWS does outside the function, reproduced closely enough that the auth tests exercise
the same paths locally as against a deployed stack:

* ``LocalCognito`` is the user pool. Its ``token_endpoint`` answers ``POST /oauth2/token`` like
  a Cognito domain does for the client-credentials grant: client id and secret by HTTP Basic
  or as form fields, an optional ``scope`` narrowing what the client may have, and Cognito's
  answer ``{"access_token", "expires_in", "token_type": "Bearer"}`` or its OAuth errors
  (``invalid_client`` 401, ``invalid_request`` / ``unsupported_grant_type`` / ``invalid_scope`` 400).
  Tokens are JWTs with a Cognito access token's claims (``iss``, ``sub`` = ``client_id``,
  ``client_id``, ``token_use=access``, ``scope``, ``exp``, ``iat``, ``auth_time``, ``jti``,
  ``version``), signed HS256 with a key made at start-up. Cognito signs RS256 with a published
  key set; HS256 is used because ``cryptography`` (which PyJWT needs for RS256) is not in the
  project's locked dependencies, and a verifier sharing the process's key is all a stand-in needs.
* ``LocalGateway`` is the REST API in front of the function, read from the SAM template: the
  routes its ``Api`` events declare, each open (``Auth: {Authorizer: NONE}``) or behind the
  Cognito authorizer with its ``AuthorizationScopes``, and the API's ``GatewayResponses``. A
  route the template does not declare gets MISSING_AUTHENTICATION_TOKEN; a missing, malformed,
  expired, badly signed or non-access token UNAUTHORIZED (401); a valid token without the
  route's scope ACCESS_DENIED (403); otherwise the claims go on to the function as
  ``requestContext.authorizer.claims`` (every value a string, as the REST API passes them),
  where the service's own scope check runs as the second line.

Two app clients exist, as in the template: ``mvdb-local-machine`` (movies/read, movies/write)
and ``mvdb-local-readonly`` (movies/read), with secrets generated at every start.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt

from mvdb_local.server import GatewayResponse
from mvdb_local.table import TEMPLATE_PATH

__all__ = [
    "MACHINE_CLIENT_ID",
    "READONLY_CLIENT_ID",
    "READ_SCOPE",
    "SIGNING_KEY_ENV",
    "TOKEN_PATH",
    "WRITE_SCOPE",
    "AppClient",
    "GatewayRoute",
    "LocalCognito",
    "LocalGateway",
    "signing_key_from_env",
    "template_resource",
]

# The template's resource server ``movies`` and its scopes.
READ_SCOPE = "movies/read"
WRITE_SCOPE = "movies/write"
MACHINE_CLIENT_ID = "mvdb-local-machine"
READONLY_CLIENT_ID = "mvdb-local-readonly"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
# The template's REST API, whose events, authorizers and gateway responses the gateway copies.
API_RESOURCE = "MoviesApi"

# Tests start the server with a key they know, so they can mint expired tokens it trusts.
SIGNING_KEY_ENV = "MVDB_LOCAL_SIGNING_KEY"
_MIN_KEY_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash
_ALGORITHM = "HS256"
_TOKEN_LIFETIME_S = 3600  # Cognito's default access-token validity
_FORM_TYPE = "application/x-www-form-urlencoded"
# The REST API's Cognito authorizer passes exp and iat as dates in this form, not numbers.
_CLAIM_DATE_FORMAT = "%a %b %d %H:%M:%S UTC %Y"

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# API Gateway's own status and message for the gateway responses the stand-in can give.
_GATEWAY_DEFAULTS = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
}


@dataclass(frozen=True)
class AppClient:
    """A user pool app client allowed the client-credentials grant for ``scopes``."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]


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
    """One user pool: its app clients, its token endpoint, and the verification of its tokens."""

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


@dataclass(frozen=True)
class GatewayRoute:
    """One method on one resource of the REST API: open (``scopes`` None) or behind the authorizer."""

    method: str
    path: str  # as the template writes it, e.g. /movies/{year}/{title+}
    scopes: tuple[str, ...] | None

    def matches(self, method: str, path: str) -> bool:
        return self.method in {method.upper(), "ANY"} and _path_pattern(self.path).fullmatch(path) is not None


class LocalGateway:
    """The template's REST API in front of the function: its routes, authorizer scopes and gateway responses."""

    def __init__(
        self, cognito: LocalCognito, routes: Iterable[GatewayRoute], responses: Mapping[str, Mapping[str, Any]]
    ) -> None:
        self.cognito = cognito
        self.routes = tuple(routes)
        self._responses = {kind: _gateway_response(kind, responses) for kind in _GATEWAY_DEFAULTS}

    @classmethod
    def from_template(cls, cognito: LocalCognito, template_path: Path = TEMPLATE_PATH) -> LocalGateway:
        from samtranslator.yaml_helper import yaml_parse  # understands !Ref, !GetAtt and friends

        resources = yaml_parse(template_path.read_text())["Resources"]
        api = resources.get(API_RESOURCE)
        if api is None or api.get("Type") != "AWS::Serverless::Api":
            raise ValueError(f"{template_path} has no AWS::Serverless::Api named {API_RESOURCE}")
        auth = api["Properties"].get("Auth", {})
        routes = [
            _route(event["Properties"], auth)
            for resource in resources.values()
            if resource.get("Type") == "AWS::Serverless::Function"
            for event in resource["Properties"].get("Events", {}).values()
            if event.get("Type") == "Api" and event["Properties"].get("RestApiId") == {"Ref": API_RESOURCE}
        ]
        return cls(cognito, routes, api["Properties"].get("GatewayResponses", {}))

    def route(self, method: str, path: str) -> GatewayRoute | None:
        return next((route for route in self.routes if route.matches(method, path)), None)

    def authorizer(self, method: str, path: str, headers: Mapping[str, str]) -> GatewayResponse | dict[str, Any] | None:
        """Decides as API Gateway would before invoking the function (the ``server.Authorizer`` hook)."""
        route = self.route(method, path)
        if route is None:
            return self._responses["MISSING_AUTHENTICATION_TOKEN"]
        if route.scopes is None:
            return None
        token = _bearer_token(headers.get("authorization"))
        if token is None:
            return self._responses["UNAUTHORIZED"]
        try:
            claims = self.cognito.verify(token)
        except jwt.InvalidTokenError:
            return self._responses["UNAUTHORIZED"]
        # Any one of the route's scopes admits the token, as with AuthorizationScopes on AWS.
        if route.scopes and not set(route.scopes) & set(str(claims["scope"]).split()):
            return self._responses["ACCESS_DENIED"]
        return {"claims": _as_gateway_claims(claims)}


def _route(event: Mapping[str, Any], api_auth: Mapping[str, Any]) -> GatewayRoute:
    auth = event.get("Auth", {})
    authorizer = auth.get("Authorizer", api_auth.get("DefaultAuthorizer", "NONE"))
    method, path = str(event["Method"]).upper(), str(event["Path"])
    if authorizer == "NONE":
        return GatewayRoute(method, path, None)
    definition = api_auth.get("Authorizers", {}).get(authorizer)
    if definition is None or "UserPoolArn" not in definition:
        raise ValueError(f"{method} {path}: the local gateway knows only Cognito authorizers, not {authorizer!r}")
    scopes = auth.get("AuthorizationScopes", definition.get("AuthorizationScopes", []))
    return GatewayRoute(method, path, tuple(scopes))


@lru_cache(maxsize=1)
def _template_resource_patterns(template_path: Path = TEMPLATE_PATH) -> tuple[tuple[str, re.Pattern[str]], ...]:
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(template_path.read_text())["Resources"]
    paths = {
        str(event["Properties"]["Path"])
        for resource in resources.values()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event.get("Type") == "Api" and event["Properties"].get("RestApiId") == {"Ref": API_RESOURCE}
    }
    # API Gateway prefers a literal segment to a {variable}, and a {variable} to a greedy {variable+}.
    ordered = sorted(paths, key=lambda p: ["{" in s for s in p.split("/")] + [p.endswith("+}")])
    return tuple((path, _path_pattern(path)) for path in ordered)


def template_resource(path: str) -> str:
    """The template's resource ``path`` matches (API Gateway's ``resource``), or ``/{proxy+}``."""
    return next((r for r, pattern in _template_resource_patterns() if pattern.fullmatch(path)), "/{proxy+}")


def _path_pattern(template_path: str) -> re.Pattern[str]:
    # {name} is one path segment, {name+} the rest of the path (API Gateway's greedy variable).
    parts = []
    for segment in template_path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(".+")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))


def _gateway_response(kind: str, configured: Mapping[str, Mapping[str, Any]]) -> GatewayResponse:
    """The response of this kind as configured (a type's own settings over DEFAULT_4XX's), else AWS's default."""
    default_status, message = _GATEWAY_DEFAULTS[kind]
    own, fallback = configured.get(kind, {}), configured.get("DEFAULT_4XX", {})
    headers = {
        name: str(value).strip("'")  # header values are quoted literals in ResponseParameters
        for spec in (fallback, own)
        for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items()
    }
    template = own.get("ResponseTemplates", fallback.get("ResponseTemplates", {})).get("application/json")
    if template is None:
        body = json.dumps({"message": message}).encode()
    else:
        body = (
            str(template)
            .replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.responseType", kind)
            .encode()
        )
    return GatewayResponse(
        int(own.get("StatusCode", default_status)), body, {"Content-Type": "application/json", **headers}
    )


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
