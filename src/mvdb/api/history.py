"""``/audit/movies/{year}/{title}``: a movie's history, from the audit trail (scope ``movies/audit``).

Its own top-level path, not ``/movies/{year}/{title}/history`` nor ``/movies/{year}/history``:
the movie's ``{title+}`` is greedy (a title may contain ``/``), so any path under
``/movies/{year}/`` would also name a movie (the film "History", or one whose title ends in
"/history"). Under ``/audit`` the title is the same greedy last segment as in the movie's URL:
a client swaps the prefix and nothing can collide.
"""

# No ``from __future__ import annotations`` here: Powertools evaluates the routes' type hints when
# it builds their validation, and these are plain objects.
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from mvdb.api.media_types import JSON
from mvdb.api.movies import PageCursor, PathTitle, PathYear, page_body, refuse_unknown_parameters
from mvdb.api.operations import Routes
from mvdb.api.paths import movie_key
from mvdb.api.problems import ProblemError, documented_responses
from mvdb.api.scopes import AUDIT_SCOPE
from mvdb.domain.models import MAX_CURSOR_LENGTH, Movie
from mvdb.domain.service import MovieService

__all__ = ["history_routes"]

DEFAULT_HISTORY_LIMIT = 20
MAX_HISTORY_LIMIT = 100
_PARAMETERS = {"limit", "cursor"}


class ChangeStream(BaseModel):
    """Where in the movies table's stream the change was read (documentation only)."""

    model_config = ConfigDict(defer_build=True)

    event_id: str = Field(max_length=128)
    event_name: str = Field(pattern="^(INSERT|MODIFY|REMOVE)$", max_length=6)
    sequence_number: str = Field(pattern="^[0-9]{1,40}$", max_length=40)
    approximate_creation_time: str | None = Field(default=None, max_length=30)
    source_arn: str | None = Field(default=None, max_length=2048)


class MovieChange(BaseModel):
    """One audit record: one create, replace, patch or delete of the movie (documentation only)."""

    model_config = ConfigDict(defer_build=True)

    version: int = Field(ge=1, le=1)
    movie: dict[str, Any] = Field(description="The movie's key: year and title")
    operation: str = Field(pattern="^(create|replace|patch|delete)$", max_length=7)
    client_id: str | None = Field(
        max_length=256, description="The client (access token's client_id); null for a change made around the API"
    )
    request_id: str | None = Field(max_length=128, description="The API request that made the change")
    changed_at: str = Field(max_length=30, description="RFC 3339, UTC")
    before: Movie | None = Field(description="The movie before the change; null for a create")
    before_etag: str | None = Field(max_length=32)
    after: Movie | None = Field(description="The movie after the change; null for a delete")
    after_etag: str | None = Field(max_length=32)
    stream: ChangeStream


class MovieHistoryPage(BaseModel):
    """One page of a movie's history, newest change first (documentation only)."""

    model_config = ConfigDict(defer_build=True)

    items: list[MovieChange] = Field(max_length=MAX_HISTORY_LIMIT)
    count: int = Field(ge=0, le=MAX_HISTORY_LIMIT)
    next_cursor: str | None = Field(
        default=None,
        max_length=MAX_CURSOR_LENGTH,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Pass as `cursor` to get the next (older) page; absent on the last page",
    )


_HISTORY = {"description": "The movie's changes, newest first", "content": {JSON: {"model": MovieHistoryPage}}}


def history_routes(service: MovieService) -> Routes:
    """``/audit/movies/{year}/{title}`` over ``service`` (its ``history``), on a router of their own."""
    routes = Routes()
    router = routes.router

    @routes.declare(
        "GET",
        "/audit/movies/{year}/{title}",
        scope=AUDIT_SCOPE,
        summary="A movie's history: every change, newest first",
        description=(
            "Every create, replace, patch and delete of the movie, from the audit trail (written from the movies "
            "table's stream, usually within seconds of the change, to storage that cannot be altered): the movie "
            "before and after, the operation, the client, the request id and the time. A movie that was deleted "
            "keeps its history; one never changed through the API has an empty one. Follow `next_cursor` for "
            "older changes. A page holds `limit` changes unless it is the last, or the next change would take the "
            "response over 5,000,000 bytes (Lambda returns at most 6 MB; each change carries two images of the "
            "movie): then it is short, with a `next_cursor`, and holds at least one change. Needs the "
            "`movies/audit` scope, which ordinary clients do not have."
        ),
        responses=documented_responses({200: _HISTORY}, 400, 409, 503),
        tags=["audit"],
    )
    def movie_history(
        year: PathYear,
        title: PathTitle,
        limit: Annotated[
            int,
            Query(
                ge=1,
                le=MAX_HISTORY_LIMIT,
                description="Changes per page, at most; a page of large changes may hold fewer (see the description)",
            ),
        ] = DEFAULT_HISTORY_LIMIT,
        cursor: PageCursor = None,
    ) -> Response[Any]:
        refuse_unknown_parameters(router.current_event.query_string_parameters, _PARAMETERS)
        history = service.history
        if history is None:
            raise ProblemError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "audit-trail-unavailable",
                "This deployment has no audit trail configured (AUDIT_BUCKET_NAME).",
            )
        page = history.page(movie_key(year, title), limit=limit, cursor=cursor)
        return Response(
            status_code=200, content_type=JSON, body=page_body(page.records_json, len(page.records), page.next_cursor)
        )

    return routes
