"""``/movies``: list and search, read, create, replace, patch, delete."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mvdb.api.paths import movie_key, movie_location
from mvdb.api.preconditions import parse_if_match
from mvdb.api.problems import PROBLEM_CONTENT_TYPE, ProblemDocument, ProblemError
from mvdb.dependencies import movie_service
from mvdb.domain.models import MAX_TITLE_LENGTH, MAX_YEAR, MIN_YEAR, Movie, MovieCreate, MoviePage, MovieReplace
from mvdb.domain.ports import StoredMovie
from mvdb.domain.query import DEFAULT_LIMIT, MAX_LIMIT, MovieKey, MovieQuery

__all__ = ["router"]

router = APIGatewayRouter()

_PROBLEM_MEANINGS = {
    400: "Invalid parameters, cursor or If-Match; malformed JSON",
    401: "No valid access token",
    403: "The token lacks the scope this operation needs",
    404: "No such movie",
    409: "The movie already exists",
    412: "If-Match does not name the current version",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Body is well-formed but invalid; see errors",
    428: "If-Match is required",
    503: "The table is unavailable; retry after Retry-After seconds",
}
# Handlers return ready-made JSON (no second validation of what the service already validated);
# the documented shapes are declared here instead of in return annotations.
_MOVIE: OpenAPIResponse = {
    "description": "The movie; its ETag is in the ETag header",
    "content": {"application/json": {"model": Movie}},
}
_PAGE: OpenAPIResponse = {"description": "One page of movies", "content": {"application/json": {"model": MoviePage}}}
_EVERY_ROUTE = (400, 401, 403, 503)
_WITH_BODY = (413, 415, 422)


def _responses(success: dict[int, OpenAPIResponse], *problems: int) -> dict[int, OpenAPIResponse]:
    """The documented responses of a route: its success, its own problems and those every route may return."""
    documented: dict[int, OpenAPIResponse] = dict(success)
    for status in sorted({*_EVERY_ROUTE, *problems}):
        documented[status] = {
            "description": _PROBLEM_MEANINGS[status],
            "content": {PROBLEM_CONTENT_TYPE: {"model": ProblemDocument}},
        }
    return documented


_SEARCH_PARAMETERS = {"year", "title_prefix", "genre", "actor", "director", "min_rating", "limit", "cursor"}

PathYear = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="Release year")]
PathTitle = Annotated[str, Path(description="Title, percent-encoded (e.g. `V%2FH%2FS` for V/H/S)")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="The ETag of the version you read, or `*`. Required for changes."),
]
SearchText = Annotated[str | None, Query(min_length=1, max_length=200)]


def _movie_response(stored: StoredMovie, status: HTTPStatus = HTTPStatus.OK, **headers: str) -> Response[Any]:
    return Response(
        status_code=status.value,
        content_type="application/json",
        body=json.dumps(stored.document, ensure_ascii=False),
        headers={"ETag": f'"{stored.etag}"', **headers},
    )


@router.get(
    "/movies",
    summary="List and search movies",
    description=(
        "`genre`, `actor`, `director` and `min_rating` (alone or with `year`, `title_prefix`) read the "
        "search index, which reflects a write within seconds; `year` alone (or with `title_prefix`) reads "
        "that year, nothing at all the whole table. `genre`, `actor` and `director` match one list element "
        "exactly (case-sensitive); `min_rating` results come best rated first. Follow `next_cursor` until it "
        "is absent: every matching movie is returned exactly once. A page holds `limit` movies, except the "
        "last (which may be short or empty) and, when several of genre, actor, director and min_rating are "
        "combined, any page (short, even empty, with a next cursor)."
    ),
    responses=_responses({200: _PAGE}),
    tags=["movies"],
)
def list_movies(
    year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
    title_prefix: Annotated[str | None, Query(min_length=1, max_length=MAX_TITLE_LENGTH)] = None,
    genre: SearchText = None,
    actor: SearchText = None,
    director: SearchText = None,
    min_rating: Annotated[float | None, Query(ge=0, le=10, allow_inf_nan=False)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> Response[Any]:
    unknown = sorted(set(router.current_event.query_string_parameters or {}) - _SEARCH_PARAMETERS)
    if unknown:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "unknown-parameter",
            f"Unknown query parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(_SEARCH_PARAMETERS))}.",
        )
    query = MovieQuery(
        year=year,
        title_prefix=title_prefix,
        genre=genre,
        actor=actor,
        director=director,
        min_rating=min_rating,
        limit=limit,
    )
    page = movie_service().search(query, cursor)
    body: dict[str, Any] = {"items": [m.document for m in page.movies], "count": len(page.movies)}
    if page.next_cursor:
        body["next_cursor"] = page.next_cursor
    return Response(status_code=200, content_type="application/json", body=json.dumps(body, ensure_ascii=False))


@router.get(
    "/movies/<year>/<title>",
    summary="Get one movie",
    responses=_responses({200: _MOVIE}, 404),
    tags=["movies"],
)
def get_movie(year: PathYear, title: PathTitle) -> Response[Any]:
    return _movie_response(movie_service().get(movie_key(year, title)))


@router.post(
    "/movies",
    summary="Create a movie",
    responses=_responses({201: _MOVIE}, 409, *_WITH_BODY),
    tags=["movies"],
)
def create_movie(movie: Annotated[MovieCreate, Body(embed=False)]) -> Response[Any]:
    stored = movie_service().create(movie)
    location = movie_location(MovieKey(movie.year, movie.title))
    return _movie_response(stored, HTTPStatus.CREATED, Location=location)


@router.put(
    "/movies/<year>/<title>",
    summary="Replace a movie's info",
    responses=_responses({200: _MOVIE}, 404, 412, 428, *_WITH_BODY),
    tags=["movies"],
)
def replace_movie(
    year: PathYear, title: PathTitle, body: Annotated[MovieReplace, Body(embed=False)], if_match: IfMatch = None
) -> Response[Any]:
    stored = movie_service().replace(movie_key(year, title), body, parse_if_match(if_match))
    return _movie_response(stored)


@router.patch(
    "/movies/<year>/<title>",
    summary="Change a movie's info with a JSON merge patch (RFC 7396)",
    description='Body: `{"info": {...}}`; `null` removes a field. Content type `application/merge-patch+json`.',
    responses=_responses({200: _MOVIE}, 404, 412, 428, *_WITH_BODY),
    tags=["movies"],
)
def patch_movie(year: PathYear, title: PathTitle, if_match: IfMatch = None) -> Response[Any]:
    stored = movie_service().patch(movie_key(year, title), _json_body(), parse_if_match(if_match))
    return _movie_response(stored)


@router.delete(
    "/movies/<year>/<title>",
    summary="Delete a movie",
    responses=_responses({204: {"description": "Deleted"}}, 404, 412, 428),
    tags=["movies"],
)
def delete_movie(year: PathYear, title: PathTitle, if_match: IfMatch = None) -> Response[Any]:
    movie_service().delete(movie_key(year, title), parse_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)


def _json_body() -> Any:
    try:
        return json.loads(router.current_event.decoded_body or "")
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(HTTPStatus.BAD_REQUEST, "malformed-json", "The body is not valid JSON.") from None
