"""Every operation of the API, declared once: method, path, the scope it needs, the bodies it reads.

``Operations.declare`` registers a route with the Powertools router (its ``security=`` is what the
OpenAPI document shows) and keeps the declaration, which is what everything else reads:

* admission: the scope a request needs, the media types its body may have, 404 and 405;
* the response headers: ``Allow`` and a pre-flight's ``Access-Control-Allow-Methods``;
* logs and metrics: the route template;
* ``tests/infra``: the gateway's ``AuthorizationScopes``, route by route, must equal these.

A ``GET`` is declared with its ``HEAD`` (RFC 9110 §9.3.2: same headers, no content; the HEAD
route is left out of the OpenAPI document, where it would only repeat the GET). Paths are written
as in OpenAPI (``/movies/{year}/{title}``); API Gateway's resource for the last one is
``/movies/{year}/{title+}`` (greedy, so a title may hold ``/``), which ``resource_path`` maps back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

__all__ = ["OAUTH2_SCHEME", "Operation", "Operations", "Routes", "resource_path"]

# The name of the OAuth 2.0 security scheme in the OpenAPI document (api/docs.py defines it).
OAUTH2_SCHEME = "oauth2"

Handler = TypeVar("Handler", bound=Callable[..., Any])
_GREEDY = re.compile(r"\{(\w+)\+\}")
_VARIABLE = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=256)  # API Gateway's resources are the template's: a few, each mapped once
def resource_path(resource: str) -> str:
    """An API Gateway resource path as the OpenAPI path it serves: ``{title+}`` becomes ``{title}``."""
    return _GREEDY.sub(r"{\1}", resource)


@dataclass(frozen=True)
class Operation:
    """One method on one path. ``scope`` None: open, no token needed. ``media_types``: bodies it reads."""

    method: str
    path: str
    scope: str | None
    media_types: tuple[str, ...] = ()

    @property
    def security(self) -> list[dict[str, list[str]]]:
        """The operation's OpenAPI ``security``: the OAuth 2.0 scheme with its scope, or none at all."""
        return [{OAUTH2_SCHEME: [self.scope]}] if self.scope else []


class Operations:
    """The declared operations of the API (or of one router), looked up by method and path."""

    def __init__(self, operations: Iterable[Operation] = ()) -> None:
        self._operations: dict[tuple[str, str], Operation] = {}
        self._methods: dict[str, tuple[str, ...]] = {}
        for operation in operations:
            self._add(operation)

    @classmethod
    def merged(cls, *tables: Operations) -> Operations:
        return cls(operation for table in tables for operation in table)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._operations.values())

    def find(self, method: str, path: str) -> Operation | None:
        return self._operations.get((method.upper(), path))

    def methods(self, path: str) -> tuple[str, ...]:
        """The methods ``path`` allows, sorted; empty for a path the API does not have."""
        return self._methods.get(path, ())

    def declare(
        self,
        router: APIGatewayRouter,
        method: str,
        path: str,
        *,
        scope: str | None,
        media_types: Iterable[str] = (),
        **route_options: Any,
    ) -> Callable[[Handler], Handler]:
        """Register ``method path`` with ``router`` (``route_options`` as Powertools takes them) and declare it.

        ``GET`` also registers ``HEAD``, with the same scope; ``OPTIONS`` is left out of the
        OpenAPI document (a pre-flight is the browser's, not an operation of the API).
        """
        operation = Operation(method.upper(), path, scope, tuple(media_types))
        rule = _VARIABLE.sub(r"<\1>", path)  # Powertools writes path variables as <name>

        def register(handler: Handler) -> Handler:
            self._add(operation)
            router.route(
                rule,
                operation.method,
                security=operation.security,
                include_in_schema=route_options.pop("include_in_schema", operation.method != "OPTIONS"),
                **route_options,
            )(handler)
            if operation.method == "GET":
                self._add(Operation("HEAD", path, scope))
                router.route(rule, "HEAD", security=operation.security, include_in_schema=False)(handler)
            return handler

        return register

    def declare_preflight(self, router: APIGatewayRouter, path: str) -> None:
        """``OPTIONS path``, open: a browser's CORS pre-flight carries no token. The answer's headers
        (``Allow``, and the CORS ones for an allowed origin) are added where every response is finished."""

        def preflight() -> Response[str]:
            return Response(status_code=204, body="")

        preflight.__name__ = "preflight" + re.sub(r"\W", "_", path)
        self.declare(router, "OPTIONS", path, scope=None)(preflight)

    def _add(self, operation: Operation) -> None:
        key = (operation.method, operation.path)
        if key in self._operations:
            raise ValueError(f"{operation.method} {operation.path} is declared twice")
        self._operations[key] = operation
        self._methods[operation.path] = tuple(sorted({*self._methods.get(operation.path, ()), operation.method}))


@dataclass(frozen=True)
class Routes:
    """One module's routes as built for one app: the router they are registered with, and their
    declarations. Route modules build them in a function of what the routes use (``movie_routes(service)``):
    a route is a closure over objects built once, at init, so no request pays to look them up.
    """

    router: APIGatewayRouter = field(default_factory=APIGatewayRouter)
    operations: Operations = field(default_factory=Operations)

    def declare(
        self, method: str, path: str, *, scope: str | None, media_types: Iterable[str] = (), **route_options: Any
    ) -> Callable[[Handler], Handler]:
        """``Operations.declare`` on this router."""
        return self.operations.declare(self.router, method, path, scope=scope, media_types=media_types, **route_options)

    def declare_preflight(self, path: str) -> None:
        """``Operations.declare_preflight`` on this router."""
        self.operations.declare_preflight(self.router, path)
