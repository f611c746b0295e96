"""The event an API Gateway REST API sends a Lambda proxy integration (payload format 1.0).

Its shape is the one AWS documents in "Input format of a Lambda function for proxy
integration" (``PROXY_EVENT_DOCUMENTATION``); ``tests/unit/local/test_proxy_events.py`` holds
every event built here against AWS's own example. What a caller must know, because the service
relies on it:

* ``path`` is the request path as the client sent it (percent-encoding kept), without the
  stage; ``requestContext.path`` is the path the client called (with the stage on an
  ``execute-api`` URL, or a custom domain's base path).
* ``resource`` and ``requestContext.resourcePath`` are the API resource the request matched,
  as the API defines it (``/movies/{year}/{title+}``), and ``pathParameters`` the values of its
  path variables, percent-decoded; null when the resource has none.
* ``requestContext.authorizer`` carries a Cognito authorizer's ``claims``, every value a string
  (``exp``/``iat`` as dates); a method without an authorizer gets ``{"claims": null, "scopes": null}``.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

__all__ = ["NO_AUTHORIZER", "PROXY_EVENT_DOCUMENTATION", "proxy_event"]

PROXY_EVENT_DOCUMENTATION = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
    "set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format"
)
# What a method without an authorizer passes on (AWS's documented example).
NO_AUTHORIZER: Mapping[str, Any] = {"claims": None, "scopes": None}
LOCAL_ACCOUNT_ID = "000000000000"
_REQUEST_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"  # $context.requestTime, e.g. 04/Mar/2020:19:15:17 +0000
# $context.identity.* that only IAM or Cognito identity-pool callers fill; null for every other caller.
_IAM_IDENTITY = (
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Query = str | Mapping[str, str | Sequence[str]]


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: Mapping[str, str] | None = None,
    query: Query | None = None,
    headers: Headers | None = None,
    body: bytes | None = None,
    authorizer: Mapping[str, Any] | None = None,
    stage: str = "local",
    request_path: str | None = None,
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    domain_name: str = "localhost",
    api_id: str = "local",
    received_at: float | None = None,
) -> dict[str, Any]:
    """The proxy event for one request.

    ``query`` is the raw query string (``year=2013&limit=5``, decoded here as API Gateway does)
    or a mapping of names to one value or several. ``headers`` may repeat a name (pairs);
    ``headers`` in the event keeps the last value, ``multiValueHeaders`` all of them. ``body``
    that is not UTF-8 is passed base64-encoded with ``isBase64Encoded``. ``received_at`` is a
    Unix time in seconds (now by default).
    """
    single_headers, multi_headers = _headers(headers)
    multi_query = _query(query)
    text_body, is_base64 = _body(body)
    received_at = time.time() if received_at is None else received_at
    user_agent = next((value for name, value in single_headers.items() if name.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": api_id,
            "authorizer": dict(NO_AUTHORIZER if authorizer is None else authorizer),
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "httpMethod": method.upper(),
            "identity": {**dict.fromkeys(_IAM_IDENTITY), "sourceIp": source_ip, "userAgent": user_agent},
            "path": path if request_path is None else request_path,
            "protocol": "HTTP/1.1",
            "requestId": request_id or str(uuid.uuid4()),
            "requestTime": time.strftime(_REQUEST_TIME_FORMAT, time.gmtime(received_at)),
            "requestTimeEpoch": int(received_at * 1000),
            "resourceId": _resource_id(resource),
            "resourcePath": resource,
            "stage": stage,
        },
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def _headers(headers: Headers | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _query(query: Query | None) -> dict[str, list[str]]:
    if query is None:
        return {}
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    return {name: [values] if isinstance(values, str) else list(values) for name, values in query.items()}


def _body(body: bytes | None) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def _resource_id(resource: str) -> str:
    # API Gateway names each resource by a short id (e.g. "roq9wj"); a stable one per path here.
    return hashlib.sha256(resource.encode()).hexdigest()[:6]
