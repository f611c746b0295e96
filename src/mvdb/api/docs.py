"""``/docs`` (Swagger UI) and ``/openapi.json``, built on first request only.

Generating the OpenAPI document imports Powertools' OpenAPI models (~50 pydantic models) and
walks every route: a few hundred milliseconds that no API request needs, so none of it runs
at init. Swagger UI's script and style are served from the package (no CDN, nothing fetched
from the internet), and the page's one inline script is allowed by its hash, so the page's
Content-Security-Policy needs no 'unsafe-inline' for scripts.

Every URL the document and the page carry is under the base path the request came in by
(``/dev`` on a stage's execute-api URL, a custom domain's base path, nothing locally), so "Try it
out" calls the API where the reader found it. The document declares the OAuth 2.0
client-credentials scheme with the token URL (the Cognito domain's, or the local stand-in's):
Swagger UI's "Authorize" gets a token there, and the page's CSP lets it connect there.
"""

# No ``from __future__ import annotations`` here: Powertools evaluates the routes' type hints when
# it builds their validation, and these are plain objects.
import base64
import hashlib
import json
import re
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query

from mvdb import __version__
from mvdb.api.operations import OAUTH2_SCHEME, Operations
from mvdb.api.paths import base_path
from mvdb.api.problems import documented_responses, problem
from mvdb.api.scopes import AUDIT_SCOPE, READ_SCOPE, WRITE_SCOPE

__all__ = ["DocumentationConfig", "register_docs"]

TITLE = "mvdb — Movies Database API"
DESCRIPTION = (
    "Movies keyed by year and title. Reads need an access token with the movies/read scope, "
    "changes movies/write, a movie's history movies/audit (OAuth 2.0 client-credentials flow: Authorize "
    "with a client id and secret). "
    "Errors are application/problem+json (RFC 9457)."
)
TAGS = {
    "movies": "Movies: list, search, read, create, replace, patch, delete",
    "audit": "The audit trail: every change of a movie, who made it, before and after",
    "meta": "The API itself",
}
SCOPE_DESCRIPTIONS = {
    READ_SCOPE: "List, search and read movies",
    WRITE_SCOPE: "Create, replace, patch and delete movies",
    AUDIT_SCOPE: "Read the audit trail: a movie's history of changes",
}
_ASSET_TYPES = {"swagger-ui-bundle.min.js": "text/javascript", "swagger-ui.min.css": "text/css"}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_DOCUMENT_CACHE = 8  # documents kept: a deployment's few base paths, however many a client names
_OPENAPI_DOCUMENT: dict[str, Any] = {"application/json": {"schema": {"type": "object", "description": "OpenAPI 3.1"}}}
_SWAGGER_PAGE: dict[str, Any] = {
    "text/html": {"schema": {"type": "string", "maxLength": 1_000_000}}
}  # one document per base path: a stage, a custom domain mapping or two


# OpenAPI's inventory wants each server's environment named in standard words.
_ENVIRONMENT_WORDS = {"dev": "development and test", "prod": "production"}
_INT32 = (-(2**31), 2**31 - 1)
# Powertools documents a 422 of its own validation shape on every operation with parameters; this
# API answers invalid parameters with 400 problem+json (and bodies with 422 problem+json) instead.
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


class DocumentationConfig:
    """What the documents need from the settings: the token URL (absolute, or a path on this host)
    and the environment the API runs as (``dev``, ``staging``, ``prod``, ``local``)."""

    def __init__(self, token_url: str, environment: str) -> None:
        self.token_url = token_url
        self.environment = environment

    @property
    def token_origin(self) -> str | None:
        """The token URL's origin when it is on another host (Cognito's domain), for the page's CSP."""
        parts = urlsplit(self.token_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


# The documents this process generated, by (token URL, environment, base path): what a document says
# besides the routes, and the routes are the code's (every app ``create_app`` builds has the same).
# A second app of the process (the tests build hundreds) serves the first one's document instead of
# generating it again (~0.3 s of CPU each).
_documents: dict[tuple[str, str, str], str] = {}


def register_docs(app: APIGatewayRestResolver, operations: Operations, config: DocumentationConfig) -> None:
    """Add ``/openapi.json``, ``/docs`` and ``/docs/{asset}`` to ``app``, declared in ``operations``."""

    def openapi_json(base: str) -> str:
        key = (config.token_url, config.environment, base)
        document = _documents.get(key)
        if document is None:
            document = generate_openapi_json(base)
            if len(_documents) < _DOCUMENT_CACHE:
                _documents[key] = document
        return document

    def generate_openapi_json(base: str) -> str:
        from aws_lambda_powertools.event_handler.openapi.models import (
            Contact,
            OAuth2,
            OAuthFlowClientCredentials,
            OAuthFlows,
            Server,
            Tag,
        )

        scheme = OAuth2(
            description=(
                "Access tokens of the API's Cognito user pool (client-credentials grant): JWTs signed RS256, "
                "valid 60 minutes, verified by API Gateway's Cognito authorizer as RFC8725 advises "
                "(the pool's own keys and issuer, token_use=access, expiry, scopes)."
            ),
            flows=OAuthFlows(
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=config.token_url, scopes=SCOPE_DESCRIPTIONS)
            ),
        )
        environment = _ENVIRONMENT_WORDS.get(config.environment, config.environment)
        server = Server.model_validate(
            {
                "url": base or "/",
                "description": f"This API's {environment} environment, at the base URL this document was read from",
                "x-internal": False,
            }
        )
        generated = app.get_openapi_json_schema(
            title=TITLE,
            version=__version__,
            description=DESCRIPTION,
            servers=[server],
            security_schemes={OAUTH2_SCHEME: scheme},
            tags=[Tag(name=name, description=text) for name, text in TAGS.items()],
            contact=Contact(name="mvdb maintainers"),
        )
        return json.dumps(_as_answered(json.loads(generated)), indent=2, ensure_ascii=False)

    @lru_cache(maxsize=_DOCUMENT_CACHE)
    def swagger_page(base: str) -> tuple[str, str]:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        html = generate_swagger_html(
            openapi_json(base).replace("</", "<\\/"),
            f"{base}/docs/swagger-ui-bundle.min.js",
            f"{base}/docs/swagger-ui.min.css",
            swagger_base_url=f"{base}/docs",
            oauth2_config=None,
        ).replace("withCredentials: true", "withCredentials: false")  # bearer tokens only: no cookies to send
        hashes = " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(html)
        )
        connect = " ".join(filter(None, ["'self'", config.token_origin]))
        csp = (
            f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        return html, csp

    def openapi_response(base: str) -> Response[Any]:
        return Response(status_code=200, content_type="application/json", body=openapi_json(base))

    @operations.declare(
        app,  # type: ignore[arg-type]  # the resolver registers routes as a router does
        "GET",
        "/openapi.json",
        scope=None,
        summary="This API's OpenAPI document",
        description="OpenAPI 3.1, its servers and token URL those of the base URL this request used.",
        responses=documented_responses(
            {200: {"description": "OpenAPI 3.1 document", "content": _OPENAPI_DOCUMENT}}, secured=False
        ),
        tags=["meta"],
    )
    def openapi_document() -> Response[Any]:
        return openapi_response(base_path(app.current_event.raw_event))

    @operations.declare(
        app,  # type: ignore[arg-type]
        "GET",
        "/docs",
        scope=None,
        summary="Swagger UI for this API",
        description=(
            "Try the API in a browser: Authorize with a client id and secret, then call it. "
            "`format=json`: the document."
        ),
        responses=documented_responses(
            {200: {"description": "The page, or the document", "content": {**_SWAGGER_PAGE, **_OPENAPI_DOCUMENT}}},
            400,
            secured=False,
        ),
        tags=["meta"],
    )
    def swagger_ui(
        format: Annotated[str | None, Query(max_length=20, pattern="^[a-z0-9-]+$")] = None,
    ) -> Response[Any]:
        base = base_path(app.current_event.raw_event)
        if format == "json":
            return openapi_response(base)
        html, csp = swagger_page(base)
        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=html,
            headers={"Content-Security-Policy": csp},
        )

    @operations.declare(
        app,  # type: ignore[arg-type]
        "GET",
        "/docs/{asset}",
        scope=None,
        include_in_schema=False,  # a part of the /docs page, not an operation of the API
    )
    def swagger_asset(asset: Annotated[str, PathParam(max_length=40, pattern=r"^[a-z.-]+$")]) -> Response[Any]:
        if asset not in _ASSET_TYPES:
            return problem(HTTPStatus.NOT_FOUND, "route-not-found", f"No such documentation asset: {asset}.")
        return Response(
            status_code=200,
            content_type=_ASSET_TYPES[asset],
            body=_asset(asset),
            headers={"Cache-Control": "public, max-age=86400"},
        )


def _as_answered(document: dict[str, Any]) -> dict[str, Any]:
    """The generated document made to say what the API answers: Powertools' 422 validation shape
    removed, and every integer given the format its bounds fit (OpenAPI's int32/int64)."""
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        responses = operation.get("responses", {})
        if "HTTPValidationError" in json.dumps(responses.get("422", {})):
            del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in json.dumps({k: v for k, v in document.items() if k != "components"}):
            schemas.pop(name, None)
    _add_integer_formats(document)
    return document


def _add_integer_formats(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer" and "format" not in node:
            low, high = node.get("minimum", _INT32[0]), node.get("maximum", _INT32[1])
            node["format"] = "int32" if _INT32[0] <= low and high <= _INT32[1] else "int64"
        if "anyOf" in node and node.get("format") in ("int32", "int64"):
            node.pop("format")  # beside anyOf it describes no branch; each integer branch has its own
        for value in node.values():
            _add_integer_formats(value)
    elif isinstance(node, list):
        for value in node:
            _add_integer_formats(value)


@lru_cache(maxsize=len(_ASSET_TYPES))
def _asset(name: str) -> str:
    import aws_lambda_powertools.event_handler as event_handler

    return (Path(event_handler.__file__).parent / "openapi" / "swagger_ui" / name).read_text(encoding="utf-8")
