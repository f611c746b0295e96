"""Call the Lambda handler in-process with API Gateway REST (v1) events, as API Gateway would.

Events come from ``mvdb_local.gateway.request_event`` (the same builder the local HTTP server
uses): the path stays percent-encoded, as API Gateway passes it on. A result over Lambda's limit on
a synchronous response comes back as the 502 API Gateway would answer (``mvdb_local.server``), so
every test through this client also checks that its responses can leave Lambda at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from requests.structures import CaseInsensitiveDict

from mvdb.api.scopes import ALL_SCOPES
from mvdb_local.gateway import request_event
from mvdb_local.server import LAMBDA_RESPONSE_LIMIT_BYTES, LambdaContext, function_result_size

__all__ = ["FULL_ACCESS", "FUNCTION_FAILED", "LambdaClient", "LambdaResponse", "movie_path"]

# API Gateway's body for a failed function (AWS Lambda developer guide, "Handling Lambda errors with an
# API Gateway API").
FUNCTION_FAILED = '{"message": "Internal server error"}'
# The claims API Gateway's Cognito authorizer puts in the request context for a client
# holding both scopes.
FULL_ACCESS = {"claims": {"scope": " ".join(ALL_SCOPES), "client_id": "tests"}}


def movie_path(year: int | str, title: str) -> str:
    """The URL path of a movie, its title percent-encoded as clients must send it."""
    return f"/movies/{year}/{quote(title, safe='')}"


@dataclass
class LambdaResponse:
    status: int
    headers: CaseInsensitiveDict[str]
    body: str
    raw: dict[str, Any] = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")


class LambdaClient:
    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        *,
        authorizer: dict[str, Any] | None = None,
    ) -> None:
        self._handler = handler
        self._authorizer = authorizer

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        authorizer: dict[str, Any] | None = None,
        event: dict[str, Any] | None = None,
    ) -> LambdaResponse:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        raw_body = body.encode() if isinstance(body, str) else body
        if event is None:
            event = request_event(
                method,
                path,
                headers,
                raw_body,
                authorizer=authorizer if authorizer is not None else self._authorizer,
            )
        raw = self._handler(event, LambdaContext())
        if function_result_size(raw) > LAMBDA_RESPONSE_LIMIT_BYTES:
            raw = {"statusCode": 502, "headers": {"Content-Type": "application/json"}, "body": FUNCTION_FAILED}
        merged: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            merged[name] = ", ".join(str(v) for v in values)
        for name, value in (raw.get("headers") or {}).items():
            merged[name] = str(value)
        text = raw.get("body") or ""
        if raw.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return LambdaResponse(status=int(raw["statusCode"]), headers=merged, body=text, raw=raw)

    def get(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("DELETE", path, **kwargs)

    def follow_pages(self, path: str, *, max_pages: int = 1000) -> tuple[list[dict[str, Any]], list[int]]:
        """Every item of a listing, following ``next_cursor`` to the end; and the size of each page."""
        items: list[dict[str, Any]] = []
        sizes: list[int] = []
        cursor: str | None = None
        separator = "&" if "?" in path else "?"
        for _ in range(max_pages):
            url = path if cursor is None else f"{path}{separator}cursor={quote(cursor, safe='')}"
            response = self.get(url)
            assert response.status == 200, response.body
            page = response.json()
            assert page["count"] == len(page["items"])
            items.extend(page["items"])
            sizes.append(len(page["items"]))
            cursor = page.get("next_cursor")
            if cursor is None:
                return items, sizes
        raise AssertionError(f"{path}: still paging after {max_pages} pages")
