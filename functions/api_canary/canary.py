"""mvdb synthetic check (CloudWatch Synthetics, Python runtime), every 5 minutes.

1. GET /health answers 200.
2. The read-only app client gets a client-credentials token. Its secret is read at run time from
   Cognito (DescribeUserPoolClient, which the canary's role may call on this user pool only), so
   no copy of the secret is stored anywhere, and a rotated secret needs no redeploy.
3. GET /movies?limit=1 with that token answers 200 with an "items" list.

Anything else raises, which fails the run: SuccessPercent drops and MoviesCanaryFailedAlarm fires.
Each step logs its status, latency and X-Request-Id; never the secret or the token.

Synthetics runs this file as an inline script (``infra/stacks/canary.yaml`` carries a copy that
``make render-infra`` writes and ``make check-infra`` compares), so it uses only the standard
library and the runtime's boto3. Configuration comes from the canary's environment variables:
API_URL, TOKEN_URL, USER_POOL_ID, CLIENT_ID.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

TIMEOUT_S = 10.0
READ_SCOPE = "movies/read"
LOOPBACK = {"127.0.0.1", "localhost"}  # plain http only to a local stack (the tests)

SecretSource = Callable[[str, str], str]  # (user pool id, client id) -> client secret


class CheckFailed(Exception):
    """A step of the check did not get the answer it needs."""


def call(
    step: str, method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, bytes]:
    """(status, body) of one HTTPS request; logs one line without headers or bodies."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:
        raise CheckFailed(f"{step}: refusing to send a request to {parts.scheme}://{parts.netloc} (https only)")
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
    started = time.monotonic()
    try:
        # The scheme was checked above: https, or plain http to the loopback only.
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310  # nosec B310
            status, payload, request_id = response.status, response.read(), response.headers.get("X-Request-Id")
    except urllib.error.HTTPError as error:
        status, payload, request_id = error.code, error.read(), error.headers.get("X-Request-Id")
    except (urllib.error.URLError, OSError) as error:
        raise CheckFailed(f"{step}: no answer from {parts.netloc} ({error})") from None
    latency_ms = round((time.monotonic() - started) * 1000)
    print(json.dumps({"step": step, "status": status, "latency_ms": latency_ms, "x_request_id": request_id}))
    return status, payload


def expect_ok(step: str, status: int, payload: bytes) -> dict[str, Any]:
    """The JSON object of a 200 answer; CheckFailed for any other status or a body that is not one."""
    if status != 200:
        raise CheckFailed(f"{step}: answered {status}: {payload[:300]!r}")
    try:
        document = json.loads(payload)
    except ValueError:
        raise CheckFailed(f"{step}: answered 200 with a body that is not JSON") from None
    if not isinstance(document, dict):
        raise CheckFailed(f"{step}: answered 200 with JSON that is not an object")
    return document


def fetch_token(token_url: str, client_id: str, client_secret: str) -> str:
    """A client-credentials access token for ``READ_SCOPE`` (RFC 6749 section 4.4)."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": READ_SCOPE}).encode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    status, payload = call("token", "POST", token_url, headers, form)
    if status != 200:
        raise CheckFailed(f"token: the token endpoint answered {status}")  # its body may echo the request
    token = expect_ok("token", status, payload).get("access_token")
    if not isinstance(token, str) or not token:
        raise CheckFailed("token: the token endpoint answered without an access_token")
    return token


def run_checks(config: Mapping[str, str], client_secret: SecretSource) -> str:
    """The three steps against config's API_URL, TOKEN_URL, USER_POOL_ID and CLIENT_ID; "passed" or CheckFailed."""
    api = config["API_URL"].rstrip("/")
    expect_ok("health", *call("health", "GET", f"{api}/health"))
    secret = client_secret(config["USER_POOL_ID"], config["CLIENT_ID"])
    token = fetch_token(config["TOKEN_URL"], config["CLIENT_ID"], secret)
    listing = expect_ok("read", *call("read", "GET", f"{api}/movies?limit=1", {"Authorization": f"Bearer {token}"}))
    if not isinstance(listing.get("items"), list):
        raise CheckFailed("read: GET /movies answered 200 without an items list")
    return "passed"


def secret_from_cognito(user_pool_id: str, client_id: str, cognito: Any = None) -> str:
    """The app client's secret, read from Cognito (DescribeUserPoolClient) when the check runs."""
    if cognito is None:
        import boto3

        cognito = boto3.client("cognito-idp")
    described = cognito.describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)
    return str(described["UserPoolClient"]["ClientSecret"])


def handler(event: object, context: object) -> str:
    """The Synthetics entry point (Handler: canary.handler)."""
    return run_checks(os.environ, secret_from_cognito)
