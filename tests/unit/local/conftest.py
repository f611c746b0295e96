"""The local stand-ins in-process: a user pool, and a gateway that verifies against its key set.

The key set reaches the authorizer through ``PyJWKClient`` as over HTTP, except that
``fetch_data`` (its public hook for getting the JWK set) returns the pool's document instead of
opening a socket; the end-to-end suite fetches it over HTTP.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from mvdb_local.cognito import USER_POOL_ID, LocalCognito
from mvdb_local.gateway import JWKS_PATH, CognitoAuthorizer, LocalGateway

ISSUER = f"http://127.0.0.1:8000/{USER_POOL_ID}"


class InMemoryJwksClient(jwt.PyJWKClient):
    """PyJWKClient reading the pool's published key set without a network."""

    def __init__(self, cognito: LocalCognito) -> None:
        super().__init__(cognito.issuer + JWKS_PATH)
        self.cognito = cognito
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        return self.cognito.jwks()


@pytest.fixture(scope="session")
def cognito(tmp_path_factory: pytest.TempPathFactory) -> LocalCognito:
    """The local user pool with its two app clients and a new RSA key (made once: it takes a while)."""
    return LocalCognito.from_state(tmp_path_factory.mktemp("cognito"), ISSUER)


@pytest.fixture
def authorizer(cognito: LocalCognito) -> CognitoAuthorizer:
    return CognitoAuthorizer(cognito.issuer, jwks_client=InMemoryJwksClient(cognito))


@pytest.fixture
def gateway(authorizer: CognitoAuthorizer) -> LocalGateway:
    """The template's REST API with the Cognito authorizer of the pool above."""
    return LocalGateway.from_template(authorizer)
