"""The API's own Lambda handler, called in this process, as a ``ReadApi``.

A restored table has no API in front of it. To run the read checks against it, the handler of
the movies function (``mvdb.app.lambda_handler``, the same code the stage invokes) is pointed at
the restored table and called with the proxy events API Gateway would send, for a caller holding
the read scope only (what the stage's Cognito authorizer passes on). The gateway itself is not
exercised here; the deployed tests cover it after every deploy.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from apigateway_events.rest_api import proxy_event
from mvdb.api.scopes import READ_SCOPE
from mvdb.verification.read_checks import Reply

__all__ = ["HandlerReadApi", "serve_table"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# The resources of the REST API (infra/template.yaml) the read checks GET.
_MOVIE_RESOURCE = "/movies/{year}/{title+}"


class _Context:
    """The Lambda context the handler's logger reads (a request id and the function's name)."""

    function_name = "mvdb-read-checks"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:mvdb-read-checks"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())


class HandlerReadApi:
    """GETs through ``handler`` with the read scope; ``client_id`` names the caller in the claims."""

    def __init__(self, handler: Handler, *, client_id: str = "mvdb-read-checks") -> None:
        self._handler = handler
        self._client_id = client_id

    def get(self, target: str) -> Reply:
        parts = urlsplit(target)
        segments = parts.path.split("/")
        if len(segments) >= 4 and segments[1] == "movies":
            resource = _MOVIE_RESOURCE
            parameters = {"year": unquote(segments[2]), "title": unquote("/".join(segments[3:]))}
        else:
            resource, parameters = parts.path, {}
        authorizer = {"claims": {"scope": READ_SCOPE, "client_id": self._client_id, "token_use": "access"}}
        event = proxy_event(
            "GET",
            parts.path,
            resource=resource,
            path_parameters=parameters or None,
            query=parts.query or None,
            headers={"Accept": "application/json", "User-Agent": self._client_id},
            authorizer=authorizer,
            stage="read-checks",
        )
        response = self._handler(event, _Context())
        headers = {name.lower(): str(value) for name, value in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(str(value) for value in values)
        body = response.get("body") or ""
        return Reply(int(response["statusCode"]), headers, json.loads(body) if body else None)


def serve_table(table_name: str) -> Handler:
    """The movies function's handler, serving ``table_name`` read-only, in this process.

    This sets the function's configuration for ``table_name`` (``READ_ONLY=true``: nothing here may
    write) and builds the API from it as ``mvdb.app`` does (``create_app``). Call it only in a
    process that serves no other table: the restore validation function's container, the drill's
    process. Its requests publish no metrics: they are checks, not the API's traffic.
    """
    os.environ.update({"TABLE_NAME": table_name, "READ_ONLY": "true", "REQUIRE_AUTH": "true"})
    from mvdb.api.http_api import create_app, lambda_handler_of
    from mvdb.config import get_settings

    get_settings.cache_clear()
    handler: Handler = lambda_handler_of(create_app(get_settings()), publish_metrics=False)
    return handler
