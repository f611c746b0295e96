"""The OAuth 2.0 scopes of the movies API, named once.

The Cognito user pool's resource server ``movies`` (``infra/template.yaml``) defines them and
grants them to app clients in the scope claim of their access tokens (client-credentials flow);
the gateway's Cognito authorizer and the service's own check require them per route. The local
Cognito and gateway, the pre-traffic hook and the tests all import these names from here
(``tests/infra`` checks that the template defines exactly these).
"""

from __future__ import annotations

__all__ = ["ALL_SCOPES", "AUDIT_SCOPE", "READ_SCOPE", "RESOURCE_SERVER", "WRITE_SCOPE"]

RESOURCE_SERVER = "movies"
READ_SCOPE = f"{RESOURCE_SERVER}/read"  # list, search and read movies
WRITE_SCOPE = f"{RESOURCE_SERVER}/write"  # create, replace, patch and delete movies
# Read the audit trail: who changed a movie, when, and what it was before. Granted to the auditors'
# app client only, never to the clients that read or write movies.
AUDIT_SCOPE = f"{RESOURCE_SERVER}/audit"
ALL_SCOPES = (READ_SCOPE, WRITE_SCOPE, AUDIT_SCOPE)
