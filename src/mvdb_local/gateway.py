"""A local stand-in for the template's REST API (Amazon API Gateway) in front of the function.

Everything is read from ``infra/template.yaml``, so the local API is the deployed one:

* **Routes**: the ``Api`` events of the template's functions on ``MoviesApi``: method, resource
  path, and either no authorizer (``Auth: {Authorizer: NONE}``) or the Cognito authorizer with
  its ``AuthorizationScopes``. A request is matched to a resource as API Gateway matches it (a
  literal segment before a ``{variable}``, a ``{variable}`` before a greedy ``{variable+}``),
  which gives the event its ``resource`` and ``pathParameters``. A path or method the API does
  not define is refused with MISSING_AUTHENTICATION_TOKEN, as API Gateway refuses it; a method
  the resource declares takes precedence over its ``ANY`` method, which takes every other one.
* **Cognito authorizer**: ``CognitoAuthorizer`` verifies as API Gateway's COGNITO_USER_POOLS
  authorizer does: the token from the ``Authorization`` header (raw, or after ``Bearer``), its
  RS256 signature against the user pool's published key set (PyJWT's ``PyJWKClient`` on
  ``<issuer>/.well-known/jwks.json``), ``iss``, ``exp``, ``token_use=access``, and the method's
  scopes, any one of which admits the token. Every failure, a missing scope included, is
  UNAUTHORIZED (401): "Otherwise, the call fails with a 401 Unauthorized response" (API Gateway
  developer guide, "Integrate a REST API with an Amazon Cognito user pool"). The verified claims
  reach the function as ``requestContext.authorizer.claims``, every value a string.
* **Gateway responses**: the API's ``GatewayResponses`` for the stack's parameters, each rendered
  for the request it refuses (``mvdb_local.gateway_responses``: fallbacks, header mappings such as
  ``context.requestId``, body templates).
* **Lambda's response limit**: a function result over 6 MB as the runtime encodes it is answered
  with the 5XX gateway response, 502, as API Gateway answers a failed invocation
  (``mvdb_local.server``, which holds the function's results).
* **Base path**: the API may be served under a path (``/dev``), as a stage's ``execute-api``
  URL or a custom domain's base path mapping serves it: the event's ``path`` is what follows
  it, ``requestContext.path`` the whole; any other path is refused as API Gateway refuses a
  stage it does not have (403 ``{"message":"Forbidden"}``, no gateway response applies).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt

from apigateway_events.rest_api import Headers, proxy_event
from mvdb_local.gateway_responses import GatewayResponse, gateway_responses
from mvdb_local.server import HttpRequest, HttpResponse
from mvdb_local.table import TEMPLATE_PATH

__all__ = [
    "JWKS_PATH",
    "PROXY_RESOURCE",
    "CognitoAuthorizer",
    "LocalGateway",
    "RestApi",
    "Route",
    "Unauthorized",
    "request_event",
]

API_RESOURCE = "MoviesApi"  # the template's REST API
JWKS_PATH = "/.well-known/jwks.json"  # under the issuer, where Cognito publishes a pool's keys
# The catch-all resource through which alone API Gateway could hand the function a path the API
# does not define; ``request_event`` uses it for such paths (tests of the function's own 404/405).
PROXY_RESOURCE = "/{proxy+}"
# The REST API's Cognito authorizer passes exp and iat as dates in this form, not numbers.
_CLAIM_DATE_FORMAT = "%a %b %d %H:%M:%S UTC %Y"
_ALGORITHMS = ["RS256"]  # Cognito signs with RS256; never what a token's header asks for
# What execute-api answers for a stage (or base path) it does not have: no API, so no gateway response.
_NO_SUCH_STAGE = HttpResponse.json(403, {"message": "Forbidden"})


@dataclass(frozen=True)
class Route:
    """One method on one resource of the REST API: open (``scopes`` None) or behind the Cognito authorizer."""

    method: str
    resource: str  # as the template writes it, e.g. /movies/{year}/{title+}
    scopes: tuple[str, ...] | None


class RestApi:
    """The API's routes, and the resource a request path matches."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._resources = sorted({route.resource for route in self.routes}, key=_specificity, reverse=True)

    @classmethod
    def from_template(cls, template_path: Path = TEMPLATE_PATH) -> RestApi:
        return _template_rest_api(template_path)

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The resource ``path`` (percent-encoded, no query) matches, and its path parameters (decoded)."""
        segments = _segments(path)
        for resource in self._resources:  # the most specific first, as API Gateway chooses
            parameters = _match(_segments(resource), segments)
            if parameters is not None:
                return resource, parameters
        return None

    def route(self, method: str, resource: str) -> Route | None:
        """The resource's own ``method``, else its ``ANY`` method, else None."""
        routes = {r.method: r for r in self.routes if r.resource == resource}
        return routes.get(method.upper(), routes.get("ANY"))


class Unauthorized(Exception):
    """The Cognito authorizer refuses the token (API Gateway's UNAUTHORIZED)."""


class AuthorizerUnavailable(Exception):
    """The user pool's key set cannot be fetched (API Gateway's AUTHORIZER_CONFIGURATION_ERROR)."""


class CognitoAuthorizer:
    """API Gateway's COGNITO_USER_POOLS authorizer for one user pool, identified by its issuer URL."""

    def __init__(self, issuer: str, *, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        # The key set is cached (5 minutes) and fetched again for a key id it does not hold.
        self._jwks = jwks_client or jwt.PyJWKClient(self.issuer + JWKS_PATH, lifespan=300, timeout=5)

    def claims(self, authorization: str | None, scopes: Sequence[str]) -> dict[str, Any]:
        """The claims of a valid access token of the pool holding one of ``scopes``; raises Unauthorized."""
        token = _bearer_token(authorization)
        if token is None:
            raise Unauthorized("no token")
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=_ALGORITHMS,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "token_use"]},  # access tokens carry no aud
            )
        except jwt.PyJWKClientConnectionError as error:
            raise AuthorizerUnavailable(str(error)) from error
        except jwt.PyJWTError as error:
            raise Unauthorized(str(error)) from error
        if claims["token_use"] != "access":  # noqa: S105 - Cognito's claim value, not a secret
            raise Unauthorized("not an access token")  # a method with scopes admits access tokens only
        if scopes and not set(scopes) & set(str(claims.get("scope", "")).split()):
            raise Unauthorized("none of the method's scopes")
        return claims


class LocalGateway:
    """The template's REST API in front of the function: routes, the Cognito authorizer, gateway responses.

    ``authorizer`` None serves every route without one (``python -m mvdb_local --no-auth``).
    ``base_path`` (``/dev``, or empty) is the path the API is served under.
    """

    def __init__(
        self,
        api: RestApi,
        responses: Mapping[str, GatewayResponse],
        authorizer: CognitoAuthorizer | None,
        *,
        stage: str = "local",
        base_path: str = "",
    ) -> None:
        self.api = api
        self.authorizer = authorizer
        self.stage = stage
        self.base_path = base_path.rstrip("/")
        self._responses = dict(responses)

    @classmethod
    def from_template(
        cls,
        authorizer: CognitoAuthorizer | None,
        template_path: Path = TEMPLATE_PATH,
        *,
        base_path: str = "",
        parameters: Mapping[str, str] | None = None,
    ) -> LocalGateway:
        """The template's API as a stack made with ``parameters`` (the others at their defaults) serves it.

        Raises ValueError for a template the stand-in cannot follow (another kind of authorizer, an
        intrinsic function or a header mapping it does not evaluate).
        """
        responses = gateway_responses(_template(template_path), API_RESOURCE, parameters or {})
        return cls(_template_rest_api(template_path), responses, authorizer, base_path=base_path)

    def response(self, kind: str, request: HttpRequest | None = None, request_id: str | None = None) -> HttpResponse:
        """The gateway response of ``kind`` (e.g. ``REQUEST_TOO_LARGE``) to ``request``, as this API answers it."""
        return self._responses[kind].render(request, request_id or str(uuid.uuid4()))

    def event(self, request: HttpRequest) -> HttpResponse | dict[str, Any]:
        """The proxy event for the function, or the response API Gateway gives without invoking it."""
        request_id = str(uuid.uuid4())  # $context.requestId: the event's, or the refusal's
        split = urlsplit(request.target)
        path = self._api_path(split.path)
        if path is None:
            return _NO_SUCH_STAGE
        matched = self.api.match(path)
        route = self.api.route(request.method, matched[0]) if matched else None
        if matched is None or route is None:
            return self.response("MISSING_AUTHENTICATION_TOKEN", request, request_id)
        authorizer_context = None
        if route.scopes is not None and self.authorizer is not None:
            try:
                claims = self.authorizer.claims(request.header("authorization"), route.scopes)
            except Unauthorized:
                return self.response("UNAUTHORIZED", request, request_id)
            except AuthorizerUnavailable:
                return self.response("AUTHORIZER_CONFIGURATION_ERROR", request, request_id)
            authorizer_context = {"claims": _as_gateway_claims(claims)}
        resource, parameters = matched
        return proxy_event(
            request.method,
            path,
            resource=resource,
            path_parameters=parameters,
            query=split.query,
            headers=request.headers,
            body=request.body,
            authorizer=authorizer_context,
            stage=self.stage,
            request_path=split.path,
            request_id=request_id,
            source_ip=request.source_ip,
            domain_name=request.header("host") or "localhost",
        )

    def _api_path(self, path: str) -> str | None:
        """The path within the API (``/dev/movies`` -> ``/movies``; ``/dev`` is the root), or None outside it."""
        if not self.base_path:
            return path
        if path == self.base_path:
            return "/"
        return path[len(self.base_path) :] if path.startswith(self.base_path + "/") else None


def request_event(
    method: str,
    target: str,
    headers: Headers | None = None,
    body: bytes | None = None,
    *,
    authorizer: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    base_path: str = "",
) -> dict[str, Any]:
    """The event API Gateway sends the function for ``method target`` (path and query, percent-encoded).

    ``resource`` and ``pathParameters`` come from the template's routes; a path the API does not
    define gets the catch-all ``/{proxy+}``, the only resource through which API Gateway would
    pass it on. ``authorizer`` is the request context's authorizer (e.g. ``{"claims": {...}}``),
    as a Cognito authorizer would have filled it; nothing is verified here. ``base_path`` is the
    stage or custom-domain base path the client called the API under (``/dev``): the event's
    ``requestContext.path`` starts with it, its ``path`` does not.
    """
    split = urlsplit(target)
    matched = RestApi.from_template().match(split.path)
    resource, parameters = matched or (PROXY_RESOURCE, {"proxy": unquote(split.path.lstrip("/"))})
    return proxy_event(
        method,
        split.path,
        resource=resource,
        path_parameters=parameters,
        query=split.query,
        headers=headers,
        body=body,
        authorizer=authorizer,
        request_id=request_id,
        source_ip=source_ip,
        request_path=base_path + split.path,
    )


# -- the template ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _template(template_path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # understands !Ref, !GetAtt and friends

    template: dict[str, Any] = yaml_parse(template_path.read_text())
    return template


@lru_cache(maxsize=4)
def _template_routes(template_path: Path) -> tuple[Route, ...]:
    resources = _template(template_path)["Resources"]
    api = resources.get(API_RESOURCE)
    if api is None or api.get("Type") != "AWS::Serverless::Api":
        raise ValueError(f"{template_path} has no AWS::Serverless::Api named {API_RESOURCE}")
    auth = api["Properties"].get("Auth", {})
    return tuple(
        _route(event["Properties"], auth)
        for resource in resources.values()
        if resource.get("Type") == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event.get("Type") == "Api" and event["Properties"].get("RestApiId") == {"Ref": API_RESOURCE}
    )


@lru_cache(maxsize=4)
def _template_rest_api(template_path: Path) -> RestApi:
    return RestApi(_template_routes(template_path))


def _route(event: Mapping[str, Any], api_auth: Mapping[str, Any]) -> Route:
    auth = event.get("Auth", {})
    authorizer = auth.get("Authorizer", api_auth.get("DefaultAuthorizer", "NONE"))
    method, path = str(event["Method"]).upper(), str(event["Path"])
    if authorizer == "NONE":
        return Route(method, path, None)
    definition = api_auth.get("Authorizers", {}).get(authorizer)
    if definition is None or "UserPoolArn" not in definition:
        raise ValueError(f"{method} {path}: the local gateway knows only Cognito authorizers, not {authorizer!r}")
    scopes = auth.get("AuthorizationScopes", definition.get("AuthorizationScopes", []))
    return Route(method, path, tuple(scopes))


# -- matching -------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    # "/" has no segments; a trailing slash is an empty last segment, which no resource matches.
    trimmed = path[1:] if path.startswith("/") else path
    return trimmed.split("/") if trimmed else []


def _specificity(resource: str) -> tuple[int, ...]:
    # Per segment: a literal (2) before a {variable} (1) before a greedy {variable+} (0).
    return tuple(0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in _segments(resource))


def _match(resource: list[str], path: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(resource):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = path[index:]
            if not rest or "" in rest:
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(path) or not path[index]:
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = unquote(path[index])
        elif segment != path[index]:
            return None
    return parameters if len(path) == len(resource) else None


# -- tokens and claims -----------------------------------------------------------------------------


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
