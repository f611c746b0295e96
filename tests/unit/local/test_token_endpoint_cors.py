"""The local token endpoint answers browsers on other origins as Cognito's does.

"The token endpoint returns an Access-Control-Allow-Origin: * response header. You can call the
token endpoint cross-origin from a browser-based application." (Amazon Cognito Developer Guide, "The
token issuer endpoint"). Swagger UI's Authorize on a page opened as ``http://localhost:<port>`` posts
to the document's ``http://127.0.0.1:<port>/oauth2/token`` with ``Authorization: Basic``: the browser
asks first with a CORS preflight, then reads the answer only if it allows the page's origin.
"""

from __future__ import annotations

import base64

import pytest

from mvdb_local.cognito import READONLY_CLIENT_ID, TOKEN_PATH, LocalCognito
from mvdb_local.server import HttpRequest

PAGE_ORIGIN = "http://localhost:8000"  # the page; the token URL is on http://127.0.0.1:8000
FORM = ("Content-Type", "application/x-www-form-urlencoded")
# What Chromium sends before Swagger UI's token request (its Accept and form Content-Type are safelisted).
PREFLIGHT_HEADERS = (
    ("Origin", PAGE_ORIGIN),
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "authorization,x-requested-with"),
)


def _basic(client_id: str, secret: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())


def _secret(cognito: LocalCognito, client_id: str) -> str:
    return next(c.client_secret for c in cognito.clients if c.client_id == client_id)


def _token_request(
    cognito: LocalCognito, *, right_secret: bool = True, grant: str = "client_credentials"
) -> HttpRequest:
    secret = _secret(cognito, READONLY_CLIENT_ID)
    authorization = _basic(READONLY_CLIENT_ID, secret if right_secret else secret[::-1])
    headers = (("Origin", PAGE_ORIGIN), authorization, FORM, ("X-Requested-With", "XMLHttpRequest"))
    return HttpRequest("POST", TOKEN_PATH, headers, f"grant_type={grant}".encode())


def test_a_preflight_for_post_from_another_origin_is_answered_with_204(cognito: LocalCognito) -> None:
    response = cognito.token_endpoint(HttpRequest("OPTIONS", TOKEN_PATH, PREFLIGHT_HEADERS))

    assert response.status == 204
    assert response.body == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_allows_post_with_the_headers_swagger_uis_token_request_needs(cognito: LocalCognito) -> None:
    response = cognito.token_endpoint(HttpRequest("OPTIONS", TOKEN_PATH, PREFLIGHT_HEADERS))

    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "x-requested-with"}


def test_a_token_answered_to_another_origin_carries_access_control_allow_origin(cognito: LocalCognito) -> None:
    response = cognito.token_endpoint(_token_request(cognito))

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("right_secret", "grant", "status", "error"),
    [(False, "client_credentials", 401, "invalid_client"), (True, "password", 400, "unsupported_grant_type")],
)
def test_an_oauth_error_keeps_its_status_and_body_and_is_readable_cross_origin(
    cognito: LocalCognito, right_secret: bool, grant: str, status: int, error: str
) -> None:
    response = cognito.token_endpoint(_token_request(cognito, right_secret=right_secret, grant=grant))

    assert (response.status, response.body) == (status, b'{"error":"%s"}' % error.encode())
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "headers",
    [
        (),  # no Origin: no preflight, an OPTIONS request of its own
        (("Access-Control-Request-Method", "POST"),),
        (("Origin", PAGE_ORIGIN),),
        (("Origin", PAGE_ORIGIN), ("Access-Control-Request-Method", "PUT")),
        (("Origin", PAGE_ORIGIN), ("Access-Control-Request-Method", "post")),
    ],
    ids=["no-origin-no-method", "no-origin", "no-requested-method", "put", "lower-case-post"],
)
def test_an_options_request_that_is_no_preflight_for_post_still_gets_405(
    cognito: LocalCognito, headers: tuple[tuple[str, str], ...]
) -> None:
    response = cognito.token_endpoint(HttpRequest("OPTIONS", TOKEN_PATH, headers))

    assert (response.status, response.body) == (405, b'{"error":"invalid_request"}')
    assert response.headers["Allow"] == "POST"
    assert "Access-Control-Allow-Methods" not in response.headers


def test_other_methods_still_get_405_with_allow_post(cognito: LocalCognito) -> None:
    response = cognito.token_endpoint(HttpRequest("GET", TOKEN_PATH, (("Origin", PAGE_ORIGIN),)))

    assert (response.status, response.body) == (405, b'{"error":"invalid_request"}')
    assert response.headers["Allow"] == "POST"


def test_no_answer_lets_a_browser_send_credentials_cross_origin(cognito: LocalCognito) -> None:
    # Tokens are requested with the client's secret, never with cookies: no credentials mode.
    answers = [
        cognito.token_endpoint(HttpRequest("OPTIONS", TOKEN_PATH, PREFLIGHT_HEADERS)),
        cognito.token_endpoint(_token_request(cognito)),
        cognito.token_endpoint(_token_request(cognito, right_secret=False)),
    ]

    assert all("Access-Control-Allow-Credentials" not in answer.headers for answer in answers)
