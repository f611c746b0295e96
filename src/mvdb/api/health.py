"""``/`` and ``/health``: open, no token needed, no movie data."""

# No ``from __future__ import annotations`` here: Powertools reads the routes' type hints on every
# request (to solve their Depends), and evaluating them from strings costs ~4x as much.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from mvdb import __version__
from mvdb.api.operations import Operations
from mvdb.api.paths import request_base_path
from mvdb.api.problems import documented_responses
from mvdb.dependencies import movie_service
from mvdb.domain.service import MovieService

__all__ = ["operations", "router"]

router = APIGatewayRouter()
operations = Operations()

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


@operations.declare(
    router,
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
def root(base: Annotated[str, Depends(request_base_path)]) -> dict[str, Any]:
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


@operations.declare(
    router,
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
def health(service: Annotated[MovieService, Depends(movie_service)]) -> dict[str, str]:
    service.check_health()
    return {"status": "ok"}
