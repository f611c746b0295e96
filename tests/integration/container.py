"""Run requests through the Lambda handler in a fresh Python process, as one Lambda container
would, and collect per request what it wrote to stdout (exactly what CloudWatch would receive)
and what it answered. A fresh process per run: settings, CORS and cold-start state are read at
import, so they cannot leak between tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from tests.integration.lambda_client import FULL_ACCESS

__all__ = ["Emitted", "request", "run_in_container"]

_CONTAINER = """
import json, sys
from mvdb_local.gateway import request_event
from mvdb_local.server import LambdaContext
import mvdb.app

script = json.load(sys.stdin)
if script.get("explode"):
    def explode(*_args, **_kwargs):
        raise RuntimeError("storage exploded")
    mvdb.app.app.service.get = explode  # the service the routes close over
for index, request in enumerate(script["requests"]):
    print(json.dumps({"__request__": index}), flush=True)
    if request.get("body") is not None:
        request["body"] = request["body"].encode()
    response = mvdb.app.lambda_handler(request_event(**request), LambdaContext())
    print(json.dumps({"__response__": response}), flush=True)
"""


@dataclass
class Emitted:
    """What one request made the service write to stdout, and what it answered."""

    logs: list[dict[str, Any]] = field(default_factory=list)
    emf: list[dict[str, Any]] = field(default_factory=list)
    response: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    @property
    def access_lines(self) -> list[dict[str, Any]]:
        """The request's access-log line: its EMF document, which carries the access-log fields."""
        return [line for line in self.emf if line.get("message") == "request"]

    def header(self, name: str) -> str:
        return str(self.response["multiValueHeaders"][name][0])


def request(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("authorizer", FULL_ACCESS)
    return {"method": method, "target": path, **kwargs}


def run_in_container(*requests: dict[str, Any], env: dict[str, str], explode: bool = False) -> list[Emitted]:
    """``env`` is the function's configuration (TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB...)."""
    base = {
        "REQUIRE_AUTH": "true",
        "ENVIRONMENT": "test",
        "POWERTOOLS_SERVICE_NAME": "mvdb",
        "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
    }
    script = json.dumps({"requests": list(requests), "explode": explode})
    result = subprocess.run(
        [sys.executable, "-c", _CONTAINER],
        input=script,
        env={**os.environ, **base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    per_request: list[Emitted] = []
    for line in result.stdout.splitlines():
        document = json.loads(line)  # every line the service writes is JSON
        if "__request__" in document:
            per_request.append(Emitted())
        elif "__response__" in document:
            per_request[-1].response = document["__response__"]
        else:
            per_request[-1].raw += line + "\n"
            (per_request[-1].emf if "_aws" in document else per_request[-1].logs).append(document)
    return per_request
