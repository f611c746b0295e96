"""Serve the Lambda handler over HTTP, the way API Gateway (REST API, proxy integration) calls it.

Each request becomes the proxy event API Gateway would send: through a ``LocalGateway`` when
one is given (the template's routes, Cognito authorizer and gateway responses; it may answer
without invoking the function), else straight to the function as through a catch-all resource
(``mvdb_local.gateway.request_event``). The raw request path is passed on still
percent-encoded, as API Gateway does, so title decoding is exercised exactly as in AWS. Calls
into the handler are serialised: a Lambda environment serves one request at a time, and the
resolver keeps per-request state.

The function's result is held to Lambda's limit on a synchronous response (``function_result_size``
against ``LAMBDA_RESPONSE_LIMIT_BYTES``): over it, Lambda fails the invocation and API Gateway answers
502 with its 5XX gateway response ("If the function runs but returns an error, or returns a response in
the wrong format, API Gateway returns a 502", AWS Lambda developer guide, "Handling Lambda errors with
an API Gateway API"), so a response too large to leave Lambda fails here as it would in AWS.

``endpoints`` serve a few paths without the gateway or the function at all: the local Cognito's
token endpoint and key set (``mvdb_local.cognito``).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mvdb.domain.paging import LAMBDA_RESPONSE_LIMIT_BYTES

if TYPE_CHECKING:
    from mvdb_local.gateway import LocalGateway

__all__ = [
    "LAMBDA_RESPONSE_LIMIT_BYTES",
    "Endpoint",
    "HttpRequest",
    "HttpResponse",
    "LambdaContext",
    "function_result_size",
    "make_server",
]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit: 10 MB


@dataclass(frozen=True)
class HttpRequest:
    """One request as it arrived: ``target`` is the path and query, still percent-encoded."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The last value of the header ``name`` (case-insensitive), or None."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class HttpResponse:
    """A response sent without invoking the function: a gateway refusal, a token endpoint's answer."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


def function_result_size(result: Any) -> int:
    """The bytes of a handler's ``result`` as the Lambda runtime returns it: JSON, UTF-8.

    The runtime for Python 3.12 and later encodes it with ``ensure_ascii=False``
    (aws-lambda-python-runtime-interface-client, ``lambda_runtime_marshaller``); its encoder and
    ``json.dumps`` write the same text for the str, int, bool, list and dict of a proxy result.
    """
    return len(json.dumps(result, ensure_ascii=False).encode("utf-8"))


# What API Gateway answers when the function fails, without gateway responses configured.
_FUNCTION_FAILED = HttpResponse(502, b'{"message": "Internal server error"}', {"Content-Type": "application/json"})


# Serves one path itself, from the request alone.
Endpoint = Callable[[HttpRequest], HttpResponse]


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


def make_server(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    gateway: LocalGateway | None = None,
    endpoints: Mapping[str, Endpoint] | None = None,
    max_body_bytes: int = API_GATEWAY_MAX_BODY_BYTES,
) -> ThreadingHTTPServer:
    """An HTTP server calling ``handler`` for each request, through ``gateway`` if given.

    ``endpoints`` maps a path (e.g. ``/oauth2/token``) to a function that serves it instead,
    whatever the method. Raises OSError when the port is taken.
    """
    from mvdb_local.gateway import request_event

    lock = threading.Lock()
    own_endpoints = dict(endpoints or {})

    class RequestHandler(BaseHTTPRequestHandler):
        server_version = "mvdb-local"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body_bytes:  # refused before the body is read, as API Gateway refuses it
                unread = HttpRequest(self.command, self.path, tuple(self.headers.items()), None, self.client_address[0])
                too_large = (
                    gateway.response("REQUEST_TOO_LARGE", unread)
                    if gateway is not None
                    else HttpResponse.json(413, {"message": "Request Too Long"})
                )
                self._reply_directly(too_large)
                self.close_connection = True
                return
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=tuple(self.headers.items()),
                body=self.rfile.read(length) if length else None,
                source_ip=self.client_address[0],
            )
            endpoint = own_endpoints.get(urlsplit(self.path).path)
            if endpoint is not None:
                self._reply_directly(endpoint(request))
                return
            if gateway is None:
                event = request_event(
                    request.method, request.target, request.headers, request.body, source_ip=request.source_ip
                )
            else:
                decision = gateway.event(request)
                if isinstance(decision, HttpResponse):
                    self._reply_directly(decision)
                    return
                event = decision
            with lock:
                response = handler(event, LambdaContext())
            if function_result_size(response) > LAMBDA_RESPONSE_LIMIT_BYTES:
                request_id = (event.get("requestContext") or {}).get("requestId")  # the failed invocation's
                failed = gateway.response("DEFAULT_5XX", request, request_id) if gateway else _FUNCTION_FAILED
                self._reply_directly(failed)
                return
            payload = response.get("body") or ""
            data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
            multi = dict(response.get("multiValueHeaders") or {})
            for name, value in (response.get("headers") or {}).items():
                multi.setdefault(name, [value])
            self._reply(int(response["statusCode"]), multi, data)

        def _reply_directly(self, response: HttpResponse) -> None:
            self._reply(response.status, {k: [v] for k, v in response.headers.items()}, response.body)

        def _reply(self, status: int, headers: dict[str, list[str]], data: bytes) -> None:
            # "A server MUST NOT send a Content-Length header field in any response with a status code
            # of 1xx (Informational) or 204 (No Content)" (RFC 9110 §8.6), nor content (§15.3.5):
            # a DELETE's 204, a CORS preflight's. A HEAD response carries the GET's Content-Length.
            no_content = status == HTTPStatus.NO_CONTENT
            if no_content:
                headers = {name: values for name, values in headers.items() if name.lower() != "content-length"}
            self.send_response(status)
            for name, values in headers.items():
                for value in values:
                    self.send_header(name, str(value))
            if not no_content and not any(name.lower() == "content-length" for name in headers):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and not no_content:
                self.wfile.write(data)

        # Every method reaches the gateway (or, without one, the function, which answers unknown
        # methods with 405 and Allow).
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # any other method (TRACE, QUERY...) too
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            # The handler writes its own JSON access log line; don't add a second one.
            pass

    server = _Server((host, port), RequestHandler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is one line (a browser or curl stopped early), not a traceback.

        Any other failure keeps socketserver's report, traceback and all.
        """
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # reset, broken pipe, aborted
            host, port = client_address[:2]
            print(
                f"local server: client {host}:{port} went away before its response was sent ({type(error).__name__})",
                file=sys.stderr,
            )
            return
        super().handle_error(request, client_address)
