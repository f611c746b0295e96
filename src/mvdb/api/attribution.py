"""Who makes a write: the ``Writer`` a route hands the service.

The service sets ``modified_by`` from it and the audit trail records it with the change.
"""

from __future__ import annotations

from typing import Any

from mvdb.domain.changes import UNAUTHENTICATED_CLIENT, Writer

__all__ = ["writer"]


def writer(event: dict[str, Any]) -> Writer:
    """The token's ``client_id`` claim (as API Gateway's Cognito authorizer passes it) and the
    request id, from the API Gateway REST (v1) proxy ``event`` being served.

    Admission has already refused a write without its scope (so without claims) wherever auth is
    required; with no authorizer at all (a local run with ``--no-auth``) the client is
    ``unauthenticated``.
    """
    request_context = event.get("requestContext") or {}
    claims = (request_context.get("authorizer") or {}).get("claims")
    client_id = claims.get("client_id") if isinstance(claims, dict) else None
    return Writer(
        client_id=client_id if isinstance(client_id, str) and client_id else UNAUTHENTICATED_CLIENT,
        request_id=str(request_context.get("requestId") or ""),
    )
