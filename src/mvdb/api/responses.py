"""The one place every response is finished, whoever built it: the resolver's routes, its error
handlers, admission's refusals.

* Security headers on every response; ``Cache-Control: no-store`` and a deny-all
  ``Content-Security-Policy`` unless the response set its own (``/docs`` does).
* ``X-Request-Id``: API Gateway's request id, which the access log and every log line carry.
* CORS (``CORS_ALLOW_ORIGINS``): ``Vary: Origin`` on every response, and for an allow-listed
  ``Origin`` the CORS headers (Powertools' ``CORSConfig``); a pre-flight also gets
  ``Access-Control-Allow-Methods``: what its resource allows.
* ``OPTIONS`` gets ``Allow`` (RFC 9110 §9.3.7); ``HEAD`` gets the headers of the ``GET`` it
  stands for, its ``Content-Length`` included, and no content (RFC 9110 §9.3.2).
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import CORSConfig

from mvdb.api.operations import Operations, resource_path

__all__ = ["SECURITY_HEADERS", "ResponseFinisher", "cors_config"]

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# What a browser may send and read cross-origin, besides what CORSConfig always allows.
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key"]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "X-Request-Id", "Retry-After", "Allow", "WWW-Authenticate"]
CORS_MAX_AGE_S = 600
# What every response gets unless it set its own, as (name, name lowercased, value): built once, so
# a request only compares names and copies values.
_EVERY_RESPONSE = tuple(
    (name, name.lower(), value)
    for name, value in {**SECURITY_HEADERS, "Cache-Control": "no-store", "Content-Security-Policy": API_CSP}.items()
)


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for an explicit allow-list of browser origins only; none configured, no CORS at all."""
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=CORS_MAX_AGE_S,
        allow_credentials=False,
    )


class ResponseFinisher:
    def __init__(self, operations: Operations, cors: CORSConfig | None) -> None:
        self._operations = operations
        self._cors = cors

    def finish(self, response: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """``response`` (an API Gateway REST proxy result) to the request ``event``, finished in place."""
        method = str(event.get("httpMethod") or "").upper()
        # Powertools answers REST (v1) events with multiValueHeaders; a header already set stays.
        multi = response.setdefault("multiValueHeaders", {})
        present = {name.lower() for name in multi}
        single = response.get("headers")
        if single:
            present.update(name.lower() for name in single)
        for name, lowercase, value in _EVERY_RESPONSE:
            if lowercase not in present:
                multi[name] = [value]
        added: dict[str, str] = {}
        request_id = (event.get("requestContext") or {}).get("requestId")
        if request_id:
            added["X-Request-Id"] = str(request_id)
        allowed = self._operations.methods(resource_path(str(event.get("resource") or "")))
        if method == "OPTIONS" and allowed:
            added["Allow"] = ", ".join(allowed)
        if self._cors is not None:
            added["Vary"] = "Origin"
            headers = _request_headers(event)
            origin = headers.get("origin")
            if origin and self._cors.allowed_origin(origin):
                added.update(self._cors.to_dict(origin))
                if method == "OPTIONS" and "access-control-request-method" in headers and allowed:
                    added["Access-Control-Allow-Methods"] = ", ".join(allowed)
        for name, value in added.items():
            if name.lower() not in present:
                multi[name] = [value]
        if method == "HEAD":
            _drop_content(response)
        return response


def _request_headers(event: dict[str, Any]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}


def _drop_content(response: dict[str, Any]) -> None:
    body = response.get("body") or ""
    length = len(base64.b64decode(body)) if response.get("isBase64Encoded") else len(str(body).encode())
    response["multiValueHeaders"]["Content-Length"] = [str(length)]
    response["body"] = ""
    response["isBase64Encoded"] = False
