"""Serve the Lambda handler over HTTP, the way API Gateway (REST, payload v1) would call it.

The raw request path is passed on still percent-encoded, as API Gateway does, so title
decoding is exercised exactly as in AWS. Calls into the handler are serialised: a Lambda
environment serves one request at a time, and the resolver keeps per-request state.

Two hooks stand in for what AWS does outside the function: an ``authorizer`` that decides
before the handler runs (API Gateway's Cognito authorizer) and ``endpoints`` served without
the handler at all (Cognito's token endpoint); ``mvdb_local.auth`` provides both.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Authorizer", "Endpoint", "GatewayResponse", "LambdaContext", "make_event", "make_server"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class GatewayResponse:
    """A response sent without invoking the function: an authorizer's refusal, a token endpoint's answer."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> GatewayResponse:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


# Decides before the function runs, from the method, the path (without its query) and the
# request headers (names lower-cased). Returns a GatewayResponse to refuse the request, the
# ``requestContext.authorizer`` value to pass on (e.g. ``{"claims": {...}}``), or None for a
# route without an authorizer.
Authorizer = Callable[[str, str, Mapping[str, str]], GatewayResponse | dict[str, Any] | None]
# Serves one path itself, from the method, the request headers (names lower-cased) and the body.
Endpoint = Callable[[str, Mapping[str, str], bytes], GatewayResponse]


class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name = "mvdb-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:mvdb-local"

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def make_event(
    method: str,
    raw_path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    *,
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    authorizer: dict[str, Any] | None = None,
    base_path: str = "",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for one HTTP request.

    ``resource`` is the template's resource the path matches (any method), as API Gateway sets
    it, or the catch-all ``/{proxy+}`` for a path the API does not define. ``base_path`` is the
    stage or custom-domain base path the client called the API under (``requestContext.path``).
    """
    from mvdb_local.auth import template_resource

    split = urlsplit(raw_path)
    query = parse_qs(split.query, keep_blank_values=True)
    headers = dict(headers or {})
    text_body: str | None = None
    is_base64 = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": template_resource(split.path),
        "path": split.path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "body": text_body,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "requestId": request_id,
            "stage": "local",
            "path": base_path + split.path,
            "resourcePath": template_resource(split.path),
            "httpMethod": method.upper(),
            "identity": {"sourceIp": source_ip},
            "authorizer": authorizer,
        },
    }


def make_server(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    authorizer: Authorizer | None = None,
    endpoints: Mapping[str, Endpoint] | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
    base_path: str = "",
) -> ThreadingHTTPServer:
    """An HTTP server calling ``handler`` for each request, after ``authorizer`` if given.

    ``endpoints`` maps a path (e.g. ``/oauth2/token``) to a function that serves it instead
    of the handler, whatever the method. ``base_path`` (e.g. ``/dev``) serves the API under it,
    as a stage's execute-api URL or a custom domain's base path mapping does: the event's ``path``
    is the rest, its ``requestContext.path`` the whole; any other path is refused as API Gateway
    refuses a stage it does not have (403 ``{"message":"Forbidden"}``).
    """
    lock = threading.Lock()
    own_endpoints = dict(endpoints or {})

    class RequestHandler(BaseHTTPRequestHandler):
        server_version = "mvdb-local"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body_bytes:  # API Gateway's own payload limit is 10 MB
                self._reply(413, {"Content-Type": ["application/json"]}, b'{"message":"Request too long"}')
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items()}
            lowered = {k.lower(): v for k, v in headers.items()}
            path = urlsplit(self.path).path
            endpoint = own_endpoints.get(path)
            if endpoint is not None:
                self._reply_gateway(endpoint(self.command, lowered, body or b""))
                return
            if base_path:
                if not path.startswith(base_path + "/"):
                    self._reply(403, {"Content-Type": ["application/json"]}, b'{"message":"Forbidden"}')
                    return
                path = path[len(base_path) :]
            event_authorizer = None
            if authorizer is not None:
                decision = authorizer(self.command, path, lowered)
                if isinstance(decision, GatewayResponse):
                    self._reply_gateway(decision)
                    return
                event_authorizer = decision
            event = make_event(
                self.command,
                self.path[len(base_path) :],
                headers,
                body,
                source_ip=self.client_address[0],
                authorizer=event_authorizer,
                base_path=base_path,
            )
            with lock:
                response = handler(event, LambdaContext())
            payload = response.get("body") or ""
            data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
            multi = dict(response.get("multiValueHeaders") or {})
            for name, value in (response.get("headers") or {}).items():
                multi.setdefault(name, [value])
            self._reply(int(response["statusCode"]), multi, data)

        def _reply_gateway(self, response: GatewayResponse) -> None:
            self._reply(response.status, {k: [v] for k, v in response.headers.items()}, response.body)

        def _reply(self, status: int, headers: dict[str, list[str]], data: bytes) -> None:
            self.send_response(status)
            for name, values in headers.items():
                for value in values:
                    self.send_header(name, str(value))
            # A HEAD response carries the Content-Length of the GET it stands for (RFC 9110 §8.6).
            if not any(name.lower() == "content-length" for name in headers):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        # Every method reaches the handler, as through API Gateway's proxy integration: the API
        # itself answers unknown ones with 405 and Allow.
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # any other method (TRACE, QUERY...) too
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            # The handler writes its own JSON access log line; don't add a second one.
            pass

    server = ThreadingHTTPServer((host, port), RequestHandler)
    server.daemon_threads = True
    return server
