"""``/`` and ``/health``: open, no token needed, no movie data. ``health_routes(service)`` builds
them for one app (``/health`` reads through the app's ``MovieService``)."""

# No ``from __future__ import annotations`` here: Powertools evaluates the routes' type hints when
# it builds their validation, and these are plain objects.
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from mvdb import __version__
from mvdb.api.operations import Routes
from mvdb.api.paths import base_path
from mvdb.api.problems import documented_responses
from mvdb.domain.service import MovieService

__all__ = ["health_routes"]

_LINK = Annotated[str, Field(max_length=300, pattern=r"^/\S*$")]


class ApiLinks(BaseModel):
    model_config = ConfigDict(defer_build=True)

    movies: _LINK
    health: _LINK
    docs: _LINK
    openapi: _LINK


class ApiDescription(BaseModel):
    """What ``GET /`` answers (documentation only)."""

    model_config = ConfigDict(defer_build=True)

    name: str = Field(max_length=50)
    description: str = Field(max_length=200)
    version: str = Field(max_length=50, pattern=r"^\d+\.\d+\.\d+$")
    links: ApiLinks = Field(description="The API's resources, under the base URL this request used")


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: str = Field(max_length=10, pattern="^ok$")


def health_routes(service: MovieService) -> Routes:
    """``/`` and ``/health`` (which asks ``service`` whether the table answers), on a router of their own."""
    routes = Routes()

    @routes.declare(
        "GET",
        "/",
        scope=None,
        summary="What this API is",
        description="The API's name and version, and links to its resources under the base URL of this request.",
        responses=documented_responses(
            {200: {"description": "The API", "content": {"application/json": {"model": ApiDescription}}}}, secured=False
        ),
        tags=["meta"],
    )
    def root() -> dict[str, Any]:
        base = base_path(routes.router.current_event.raw_event)
        return {
            "name": "mvdb",
            "description": "Movies Database API",
            "version": __version__,
            "links": {
                "movies": f"{base}/movies",
                "health": f"{base}/health",
                "docs": f"{base}/docs",
                "openapi": f"{base}/openapi.json",
            },
        }

    @routes.declare(
        "GET",
        "/health",
        scope=None,
        summary="Is the API able to serve?",
        description="200 when the movies table answers a read; 503 problem+json (with Retry-After) when it does not.",
        responses=documented_responses(
            {200: {"description": "Healthy", "content": {"application/json": {"model": Health}}}}, 503, secured=False
        ),
        tags=["meta"],
    )
    def health() -> dict[str, str]:
        service.check_health()
        return {"status": "ok"}

    return routes
