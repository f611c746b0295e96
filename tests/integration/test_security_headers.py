"""Security headers on every response, CORS only for allow-listed origins, a strict CSP on /docs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.container import Emitted, request, run_in_container
from tests.integration.lambda_client import FULL_ACCESS, LambdaClient, movie_path

pytestmark = pytest.mark.integration

ALLOWED_ORIGIN = "https://movies.example.com"


@pytest.fixture
def client(loaded_table: str, dynamodb_local: Any, build_app: Callable[..., Any]) -> LambdaClient:
    return LambdaClient(
        build_app(loaded_table, endpoint=dynamodb_local.endpoint, require_auth=True), authorizer=FULL_ACCESS
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/health"), ("GET", movie_path(2013, "Rush")), ("GET", "/nowhere"), ("POST", "/movies")],
)
def test_every_response_carries_the_security_headers(client: LambdaClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers


def test_authenticated_responses_are_not_cached(client: LambdaClient) -> None:
    assert client.get(movie_path(2013, "Rush")).headers["Cache-Control"] == "no-store"


def test_docs_page_allows_its_inline_script_only_by_hash(client: LambdaClient) -> None:
    response = client.get("/docs")
    csp = response.headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert response.status == 200
    assert "'unsafe-inline'" not in script_src
    assert "'sha256-" in script_src
    assert "http://" not in response.body and "https://" not in response.body.split("spec:")[0]


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.min.js", "swagger-ui.min.css"])
def test_swagger_assets_are_served_from_the_package_without_a_token(client: LambdaClient, asset: str) -> None:
    response = client.get(f"/docs/{asset}", authorizer={})
    assert response.status == 200
    assert len(response.body) > 10_000


def test_a_file_beside_the_swagger_assets_that_is_not_one_of_them_is_404(client: LambdaClient) -> None:
    # html.py lies in the same package folder as the two assets: only the allow-list keeps it in.
    response = client.get("/docs/html.py", authorizer={})
    assert response.status == 404
    assert response.json()["detail"] == "No such documentation asset: html.py."


@pytest.fixture
def cors_container(dynamodb_local: Any, loaded_table: str) -> Callable[..., Emitted]:
    """One GET in a fresh process whose CORS_ALLOW_ORIGINS is set as given (read once, at init)."""

    def get(origin: str, *, allowed_origins: str) -> Emitted:
        env = {
            "TABLE_NAME": loaded_table,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
            "CORS_ALLOW_ORIGINS": allowed_origins,
        }
        (emitted,) = run_in_container(request("GET", movie_path(2013, "Rush"), headers={"Origin": origin}), env=env)
        return emitted

    return get


@pytest.mark.slow  # a fresh process: CORS_ALLOW_ORIGINS is read once, at init
def test_cors_answers_an_allow_listed_origin(cors_container: Callable[..., Emitted]) -> None:
    emitted = cors_container(ALLOWED_ORIGIN, allowed_origins=ALLOWED_ORIGIN)
    assert emitted.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


@pytest.mark.slow  # a fresh process: CORS_ALLOW_ORIGINS is read once, at init
def test_cors_ignores_any_other_origin(cors_container: Callable[..., Emitted]) -> None:
    emitted = cors_container("https://evil.example", allowed_origins=ALLOWED_ORIGIN)
    assert "Access-Control-Allow-Origin" not in emitted.response["multiValueHeaders"]


@pytest.mark.slow  # a fresh process: CORS_ALLOW_ORIGINS is read once, at init
def test_no_cors_headers_when_no_origin_is_configured(cors_container: Callable[..., Emitted]) -> None:
    emitted = cors_container(ALLOWED_ORIGIN, allowed_origins="")
    assert emitted.response["statusCode"] == 200
    assert "Access-Control-Allow-Origin" not in emitted.response["multiValueHeaders"]
