"""mvdb synthetic check (CloudWatch Synthetics, Python runtime), every 5 minutes.

1. GET /health answers 200.
2. The canary's own app client (movies/read only) gets a client-credentials token. Its id and
   secret are read at run time from the one Secrets Manager secret the canary's role may read
   (``{"client_id": ..., "client_secret": ...}``), so a rotated secret needs no redeploy.
3. GET /movies?limit=1 with that token answers 200 with an "items" list.

Anything else raises, which fails the run: SuccessPercent drops and MoviesCanaryFailedAlarm fires.
Each step logs its status, latency and X-Request-Id; never the secret or the token.

Synthetics runs this file as an inline script (``infra/stacks/canary.yaml`` carries a copy that
``make render-infra`` writes and ``make check-infra`` compares), so it uses only the standard
library and the runtime's boto3. Configuration comes from the canary's environment variables:
API_URL, TOKEN_URL, CLIENT_SECRET_ARN.
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

ClientCredentials = Callable[[str], tuple[str, str]]  # secret ARN -> (client id, client secret)


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


def run_checks(config: Mapping[str, str], client_credentials: ClientCredentials) -> str:
    """The three steps against config's API_URL, TOKEN_URL and CLIENT_SECRET_ARN; "passed" or CheckFailed."""
    api = config["API_URL"].rstrip("/")
    expect_ok("health", *call("health", "GET", f"{api}/health"))
    client_id, client_secret = client_credentials(config["CLIENT_SECRET_ARN"])
    token = fetch_token(config["TOKEN_URL"], client_id, client_secret)
    listing = expect_ok("read", *call("read", "GET", f"{api}/movies?limit=1", {"Authorization": f"Bearer {token}"}))
    if not isinstance(listing.get("items"), list):
        raise CheckFailed("read: GET /movies answered 200 without an items list")
    return "passed"


def credentials_from_secrets_manager(secret_arn: str, secretsmanager: Any = None) -> tuple[str, str]:
    """(client id, client secret) from the secret's JSON (GetSecretValue); CheckFailed if it holds neither."""
    if secretsmanager is None:
        import boto3

        secretsmanager = boto3.client("secretsmanager")
    value = secretsmanager.get_secret_value(SecretId=secret_arn)
    try:
        document = json.loads(value["SecretString"])
        client_id, client_secret = document["client_id"], document["client_secret"]
    except (KeyError, TypeError, ValueError):
        raise CheckFailed("credentials: the secret is not a JSON object with client_id and client_secret") from None
    if not (isinstance(client_id, str) and isinstance(client_secret, str) and client_id and client_secret):
        raise CheckFailed("credentials: the secret's client_id and client_secret must be non-empty strings")
    return client_id, client_secret


def handler(event: object, context: object) -> str:
    """The Synthetics entry point (Handler: canary.handler)."""
    return run_checks(os.environ, credentials_from_secrets_manager)
