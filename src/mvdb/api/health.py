"""``/`` and ``/health``."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mvdb import __version__
from mvdb.api.problems import PROBLEM_CONTENT_TYPE, ProblemDocument
from mvdb.dependencies import movie_service

__all__ = ["router"]

router = APIGatewayRouter()


@router.get("/", summary="What this API is", tags=["meta"])
def root() -> dict[str, object]:
    return {
        "name": "mvdb",
        "description": "Movies Database API",
        "version": __version__,
        "links": {"movies": "/movies", "health": "/health", "docs": "/docs", "openapi": "/openapi.json"},
    }


@router.get(
    "/health",
    summary="Is the API able to serve?",
    description="200 when the movies table answers a read; 503 problem+json (with Retry-After) when it does not.",
    responses={
        200: {"description": "Healthy"},
        503: {
            "description": "The table cannot be read",
            "content": {PROBLEM_CONTENT_TYPE: {"model": ProblemDocument}},
        },
    },
    tags=["meta"],
)
def health() -> dict[str, str]:
    movie_service().check_health()
    return {"status": "ok"}
