"""What the deployed-stack tests share: the stack under test, its clients and tokens, HTTP calls, checks.

The same tests run against a stack deployed on AWS (``STACK_NAME`` set) and against the local
stack (DynamoDB Local, the API and the Cognito stand-in of ``mvdb_local``); ``StackUnderTest``
is the one shape both present, built from the CloudFormation outputs or from the local run.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin

import jwt
import requests

from mvdb.api.scopes import READ_SCOPE, WRITE_SCOPE

__all__ = [
    "BROWSER_ORIGIN",
    "EXPECTED_OUTPUTS",
    "HTTP_TIMEOUT_S",
    "SCOPE_REFUSED",
    "TEST_YEAR",
    "TITLE_PREFIX",
    "Api",
    "ClientCredentials",
    "MovieJanitor",
    "MovieRef",
    "StackUnderTest",
    "Tokens",
    "assert_answered_by_gateway",
    "assert_no_movie_data",
    "assert_problem",
    "assert_refused_by_gateway",
    "forge_token",
    "movie_path",
    "new_movie_title",
    "request_token",
]

# The main template's Outputs: what a deployed-test run needs to find everything else.
EXPECTED_OUTPUTS = (
    "ApiUrl",
    "TableName",
    "UserPoolId",
    "MachineClientId",
    "ReadOnlyClientId",
    "AuditorClientId",
    "TokenUrl",
    "FunctionName",
    "FunctionAliasArn",
    "Region",
)
# Test movies live in a year of their own, under a prefix an operator can find and delete
# should a run be killed before it cleaned up.
TEST_YEAR = 2099
TITLE_PREFIX = "mvdb-deployed-test"
HTTP_TIMEOUT_S = 20.0
# The browser origin the local stack allows (CORS_ALLOW_ORIGINS); a deployed stack's CorsAllowOrigins
# parameter must hold it for the CORS tests, which are skipped otherwise.
BROWSER_ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class StackUnderTest:
    """A deployed or local stack: its outputs, its app clients, and how to reach its table."""

    name: str
    outputs: Mapping[str, str]
    machine: ClientCredentials
    readonly: ClientCredentials
    on_aws: bool
    region: str
    # The ``iss`` claim of the pool's tokens (forged tokens carry it so only the signature is wrong).
    issuer: str
    # A token signed by the pool's own key but expired. AWS gives no way to sign with Cognito's
    # key, so there it is a forged one; locally the stand-in's key signs it.
    expired_token: str = field(repr=False)
    dynamodb_endpoint: str | None = None
    # The auditors' app client (movies/audit only: a movie's history).
    auditor: ClientCredentials | None = None

    @property
    def api_url(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    @property
    def token_url(self) -> str:
        return self.outputs["TokenUrl"]

    def aws_client(self, service: str) -> Any:
        """A boto3 client for this stack's region (locally: DynamoDB Local, the only service there is)."""
        import boto3

        if self.on_aws:
            return boto3.client(service, region_name=self.region)
        if service != "dynamodb":
            raise ValueError(f"the local stack has no {service}")
        return boto3.client(
            "dynamodb",
            endpoint_url=self.dynamodb_endpoint,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # DynamoDB Local accepts any credentials
        )


@dataclass(frozen=True)
class Tokens:
    """Access tokens from the token endpoint, one per kind of caller the tests need."""

    read: str = field(repr=False)  # the read-only client: movies/read
    write: str = field(repr=False)  # the machine client narrowed to movies/write
    full: str = field(repr=False)  # the machine client: movies/read movies/write


@dataclass(frozen=True)
class MovieRef:
    year: int
    title: str
    etag: str = ""

    @property
    def path(self) -> str:
        return movie_path(self.year, self.title)


def movie_path(year: int, title: str) -> str:
    return f"/movies/{year}/{quote(title, safe='')}"


def new_movie_title(purpose: str) -> str:
    return f"{TITLE_PREFIX} {purpose} {uuid.uuid4().hex}"


def request_token(
    token_url: str,
    client: ClientCredentials | None,
    *,
    scope: str | None = None,
    grant_type: str = "client_credentials",
) -> requests.Response:
    """POST the client-credentials grant to the token endpoint, the client authenticated by HTTP Basic."""
    form = {"grant_type": grant_type}
    if scope is not None:
        form["scope"] = scope
    auth = (client.client_id, client.client_secret) if client is not None else None
    return requests.post(token_url, data=form, auth=auth, timeout=HTTP_TIMEOUT_S)


def fetch_token(token_url: str, client: ClientCredentials, *, scope: str | None = None) -> str:
    response = request_token(token_url, client, scope=scope)
    assert response.status_code == 200, f"token endpoint refused {client.client_id}: {response.text[:300]}"
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def forge_token(issuer: str, client_id: str, *, algorithm: str = "RS256", expires_in_s: int = 3600) -> str:
    """A JWT with the claims of the pool's access tokens, signed by a key the pool never had.

    RS256 (the pool's own algorithm) with a new RSA key and a key id of its own; ``HS256`` with a
    random secret; ``none`` unsigned.
    """
    now = int(time.time())
    claims = {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": f"{READ_SCOPE} {WRITE_SCOPE}",
        "iss": issuer,
        "iat": now,
        "auth_time": now,
        "exp": now + expires_in_s,
        "jti": str(uuid.uuid4()),
        "version": 2,
    }
    if algorithm == "none":
        return jwt.encode(claims, None, algorithm="none")
    if algorithm == "RS256":
        return jwt.encode(claims, _forger_key(), algorithm="RS256", headers={"kid": f"forged-{uuid.uuid4()}"})
    return jwt.encode(claims, secrets.token_bytes(32), algorithm=algorithm)


@lru_cache(maxsize=1)
def _forger_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Api:
    """HTTP calls to the stack's API, with or without an Authorization header."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        authorization: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        elif authorization is not None:
            all_headers["Authorization"] = authorization
        return self._session.request(
            method, self.base_url + path, json=json, headers=all_headers, timeout=HTTP_TIMEOUT_S, allow_redirects=False
        )

    def follow(self, url: str, *, token: str | None = None, method: str = "GET") -> requests.Response:
        """A URL the API handed out (Location, a link), resolved against the API's base URL as a client would."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        target = urljoin(self.base_url + "/", url)
        return self._session.request(method, target, headers=headers, timeout=HTTP_TIMEOUT_S, allow_redirects=False)

    def close(self) -> None:
        self._session.close()


class MovieJanitor:
    """Movies a test creates (or may create), deleted when the test ends, whatever its outcome."""

    def __init__(self, api: Api, token: str) -> None:
        self._api = api
        self._token = token
        self._keys: list[tuple[int, str]] = []

    def register(self, year: int, title: str) -> None:
        self._keys.append((year, title))

    def create(self, purpose: str, info: dict[str, object] | None = None) -> MovieRef:
        """A new movie, created through the API with the machine client's token."""
        title = new_movie_title(purpose)
        self.register(TEST_YEAR, title)
        body = {"year": TEST_YEAR, "title": title, "info": info or {"plot": "Made by the deployed tests."}}
        response = self._api.call("POST", "/movies", token=self._token, json=body)
        assert response.status_code == 201, f"could not create a test movie: {response.text[:300]}"
        return MovieRef(TEST_YEAR, title, response.headers["ETag"])

    def delete_all(self) -> None:
        leftovers = []
        for year, title in reversed(self._keys):
            path = movie_path(year, title)
            current = self._api.call("GET", path, token=self._token)
            if current.status_code == 404:
                continue
            deleted = self._api.call("DELETE", path, token=self._token, headers={"If-Match": current.headers["ETag"]})
            if deleted.status_code != 204:
                leftovers.append(f"{title!r}: {deleted.status_code} {deleted.text[:200]}")
        self._keys.clear()
        assert not leftovers, f"test movies left behind: {leftovers}"


def assert_no_movie_data(response: requests.Response, *titles: str) -> None:
    """A refused request's body holds nothing of a movie: no titles asked about, no info, no items."""
    body = response.text
    for title in titles:
        assert title not in body, f"the refusal leaks the movie {title!r}: {body[:300]}"
    assert '"info"' not in body, f"the refusal leaks movie info: {body[:300]}"
    assert '"items"' not in body, f"the refusal leaks a page of movies: {body[:300]}"


# A token without the method's scope is refused as any other unacceptable token: "the call fails
# with a 401 Unauthorized response" (API Gateway developer guide, "Integrate a REST API with an
# Amazon Cognito user pool"). The local gateway answers the same.
SCOPE_REFUSED = 401
# The problem codes of refusals, the same whether the gateway or the service's own check refuses.
REFUSAL_CODES = {401: "unauthenticated", 403: "insufficient-scope"}


def assert_answered_by_gateway(response: requests.Response) -> None:
    """The gateway answered, before the function ran, with the request id a client can quote.

    Every response the function makes carries its security headers, Content-Security-Policy among
    them (mvdb.api.responses); the gateway's own answers (the template's GatewayResponses, or the
    local stand-in built from them) carry X-Request-Id and CORS only.
    """
    assert "Content-Security-Policy" not in response.headers, (
        f"the request reached the function, which answered it: {response.text[:300]}"
    )
    assert response.headers.get("X-Request-Id"), "a gateway response carries API Gateway's request id"


def assert_refused_by_gateway(response: requests.Response) -> None:
    """A 401/403 problem+json that the gateway sent before the function ran."""
    assert_answered_by_gateway(response)
    assert_problem(response, response.status_code, REFUSAL_CODES[response.status_code])


def assert_problem(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code); returns its document."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:300]}"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert {"type", "title", "detail", "code"} <= document.keys()
    if code is not None:
        assert document["code"] == code
    return document
