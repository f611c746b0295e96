"""``/docs`` (Swagger UI) and ``/openapi.json``, built on first request only.

Generating the OpenAPI document imports Powertools' OpenAPI models (~50 pydantic models) and
walks every route: a few hundred milliseconds that no API request needs, so none of it runs
at init. Swagger UI's script and style are served from the package (no CDN, nothing fetched
from the internet), and the page's one inline script is allowed by its hash, so the page's
Content-Security-Policy needs no 'unsafe-inline' for scripts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from mvdb import __version__

__all__ = ["register_docs"]

TITLE = "mvdb — Movies Database API"
DESCRIPTION = (
    "Movies keyed by year and title. Reads need an access token with the movies/read scope, "
    "changes movies/write (client-credentials flow). Errors are application/problem+json (RFC 9457)."
)
_ASSET_TYPES = {"swagger-ui-bundle.min.js": "text/javascript", "swagger-ui.min.css": "text/css"}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def register_docs(app: APIGatewayRestResolver) -> None:
    @lru_cache(maxsize=1)
    def openapi_json() -> str:
        return app.get_openapi_json_schema(title=TITLE, version=__version__, description=DESCRIPTION)

    @lru_cache(maxsize=1)
    def swagger_page() -> tuple[str, str]:
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        # Relative URLs: the page works under an API Gateway stage prefix (/dev/docs) and locally (/docs).
        html = generate_swagger_html(
            openapi_json().replace("</", "<\\/"),
            "docs/swagger-ui-bundle.min.js",
            "docs/swagger-ui.min.css",
            swagger_base_url="docs",
            oauth2_config=None,
        )
        hashes = " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(html)
        )
        csp = (
            f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        return html, csp

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[Any]:
        return Response(status_code=200, content_type="application/json", body=openapi_json())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> Response[Any]:
        if app.current_event.get_query_string_value("format") == "json":
            return openapi_document()
        html, csp = swagger_page()
        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=html,
            headers={"Content-Security-Policy": csp},
        )

    @app.get("/docs/<asset>", include_in_schema=False)
    def swagger_asset(asset: str) -> Response[Any]:
        if asset not in _ASSET_TYPES:
            from mvdb.api.problems import problem

            return problem(HTTPStatus.NOT_FOUND, "route-not-found", f"No such documentation asset: {asset}.")
        return Response(
            status_code=200,
            content_type=_ASSET_TYPES[asset],
            body=_asset(asset),
            headers={"Cache-Control": "public, max-age=86400"},
        )


@lru_cache(maxsize=len(_ASSET_TYPES))
def _asset(name: str) -> str:
    import aws_lambda_powertools.event_handler as event_handler

    return (Path(event_handler.__file__).parent / "openapi" / "swagger_ui" / name).read_text(encoding="utf-8")
