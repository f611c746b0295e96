"""Scope checks: the service's own second line behind the API Gateway Cognito authorizer.

The authorizer validates the token and puts its claims in the request context; the service
then refuses any request whose claims lack the scope its operation declares
(``mvdb.api.operations``). A request that reaches the function without claims (authorizer
misconfigured or bypassed) gets 401, never data.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from mvdb.api.operations import Operation
from mvdb.api.problems import ProblemError

__all__ = ["authorize", "granted_scopes"]


def granted_scopes(event: dict[str, Any]) -> set[str] | None:
    """The scopes of the caller's token, or None when no authorizer vouched for the caller."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    if not isinstance(claims, dict):
        return None
    scope = claims.get("scope")
    return set(scope.split()) if isinstance(scope, str) else set()


def authorize(operation: Operation, event: dict[str, Any]) -> None:
    """Raise ProblemError (401 or 403) unless the caller holds the scope ``operation`` declares."""
    scope = operation.scope
    if scope is None:
        return
    granted = granted_scopes(event)
    if granted is None:
        raise ProblemError(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            "Send an access token: Authorization: Bearer <token> (client-credentials flow).",
            headers={"WWW-Authenticate": f'Bearer scope="{scope}"'},
        )
    if scope not in granted:
        has = f"it has {' '.join(sorted(granted))}" if granted else "it has no scope"
        raise ProblemError(
            HTTPStatus.FORBIDDEN,
            "insufficient-scope",
            f"This operation needs an access token with the {scope} scope; {has}.",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
