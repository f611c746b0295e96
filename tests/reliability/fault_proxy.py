"""A fault-injecting proxy on loopback between the service and DynamoDB Local.

It forwards each DynamoDB request unchanged, unless told to answer the next requests itself
with a throttling error, or to forward them and then lose the response (a 500 after the
write has landed: the case that tempts a client to apply a write twice).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded.",
}
_INTERNAL = {"__type": "com.amazon.coral.service#InternalFailure", "message": "injected: response lost"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        split = urlsplit(upstream)
        self._upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._lock = threading.Lock()
        # One entry per upcoming request: "throttle" | "lose-response" | "forward" (no fault: to reach a later request).
        self._faults: list[str] = []
        self.seen: Counter[str] = Counter()  # requests received, by DynamoDB operation
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, fault: str, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                with proxy._lock:
                    proxy.seen[operation] += 1
                fault = proxy._next_fault()
                if fault == "throttle":
                    self._reply(400, json.dumps(_THROTTLED).encode())
                    return
                upstream = http.client.HTTPConnection(*proxy._upstream, timeout=10)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    upstream.request("POST", self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                if fault == "lose-response":
                    self._reply(500, json.dumps(_INTERNAL).encode())
                    return
                self._reply(response.status, data)

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
