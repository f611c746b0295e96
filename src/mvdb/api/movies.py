"""``/movies``: list and search, read, create, replace, patch, delete.

``movie_routes(service, idempotency)`` builds them for one app: each route is a closure over the
app's ``MovieService``, built once at init, so that reads resolve no dependency per request (a
``Depends`` costs Powertools a ``typing.get_type_hints`` of its provider on every request). Only
``POST`` and ``PATCH`` have one, the idempotency records' ``request_of``, which reads every
``Idempotency-Key`` line itself.
"""

# No ``from __future__ import annotations`` here: Powertools evaluates the routes' type hints when
# it builds their validation, and these are plain objects.
import json
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import TypeAdapter, ValidationError

from mvdb.api.attribution import writer
from mvdb.api.idempotency import REPLAYED_HEADER, IdempotencyStore, IdempotentRequest
from mvdb.api.media_types import JSON, MERGE_PATCH_JSON
from mvdb.api.operations import Routes
from mvdb.api.paths import base_path, movie_key, movie_location
from mvdb.api.preconditions import parse_if_match
from mvdb.api.problems import ProblemError, documented_responses
from mvdb.api.scopes import READ_SCOPE, WRITE_SCOPE
from mvdb.domain.errors import FieldError, InvalidInput, MovieTooLarge, field_errors
from mvdb.domain.models import (
    MAX_CURSOR_LENGTH,
    MAX_TITLE_BYTES,
    MAX_TITLE_LENGTH,
    MAX_YEAR,
    MIN_YEAR,
    Movie,
    MovieCreate,
    MoviePage,
    MoviePatch,
    MovieReplace,
)
from mvdb.domain.paging import fits_alone, json_text
from mvdb.domain.ports import StoredMovie
from mvdb.domain.query import DEFAULT_LIMIT, MAX_LIMIT, MovieKey, MovieQuery
from mvdb.domain.service import MovieService

__all__ = ["movie_routes", "page_body"]

_ETAG_HEADER: dict[str, Any] = {
    "description": "The movie's entity tag: send it back in If-Match to change the movie",
    "schema": {"type": "string", "maxLength": 34, "pattern": '^"[0-9a-f]{32}"$'},
}
# Handlers return ready-made JSON (no second validation of what the service already validated);
# the documented shapes are declared here instead of in return annotations.
_MOVIE = {
    "description": "The movie",
    "headers": {"ETag": _ETAG_HEADER},
    "content": {JSON: {"model": Movie}},
}
_REPLAYED_HEADER: dict[str, Any] = {
    "description": "Present on the response a retry with the same Idempotency-Key gets: the first one, replayed",
    "schema": {"type": "string", "enum": ["true"]},
}
_CREATED = {
    **_MOVIE,
    "description": "Created; Location is its URL",
    "headers": {
        "ETag": _ETAG_HEADER,
        "Location": {"description": "The movie's URL", "schema": {"type": "string", "maxLength": 4000}},
        REPLAYED_HEADER: _REPLAYED_HEADER,
    },
}
_PATCHED = {**_MOVIE, "headers": {"ETag": _ETAG_HEADER, REPLAYED_HEADER: _REPLAYED_HEADER}}
_PAGE = {"description": "One page of movies", "content": {JSON: {"model": MoviePage}}}
_WITH_BODY = (413, 415, 422)
_SEARCH_PARAMETERS = {"year", "title_prefix", "genre", "actor", "director", "min_rating", "limit", "cursor"}

PathYear = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="Release year")]
PathTitle = Annotated[
    str,
    Path(
        min_length=1,
        max_length=3 * MAX_TITLE_BYTES,  # as it arrives: every byte may be percent-encoded
        description=(
            f"Title, percent-encoded into one segment (e.g. `V%2FH%2FS` for V/H/S); decoded, at most "
            f"{MAX_TITLE_LENGTH} characters and {MAX_TITLE_BYTES} bytes of UTF-8"
        ),
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description="The ETag of the version you read, or `*`. Required for changes.",
    ),
]
SearchText = Annotated[str | None, Query(min_length=1, max_length=200)]
PageCursor = Annotated[str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=r"^[A-Za-z0-9_-]+$")]


def refuse_unknown_parameters(query: dict[str, str] | None, known: set[str]) -> None:
    """Raises ProblemError (400 ``unknown-parameter``) naming any query parameter not in ``known``:
    a misspelt filter must not silently widen a search or a page."""
    unknown = sorted(set(query or {}) - known)
    if unknown:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            "unknown-parameter",
            f"Unknown query parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.",
        )


# The GET of one movie checks its path itself, against the same types (``PathYear``,
# ``PathTitle``) with pydantic, as the resolver would: its validation also parses every request's
# headers, cookies and query string, which this route does not read, and that was 15% of a warm
# GET's own instructions (docs/performance.md). The errors are the resolver's, to the byte.
_PATH_PARAMETERS = (("year", TypeAdapter(PathYear)), ("title", TypeAdapter(PathTitle)))


def validated_path(**values: str) -> dict[str, Any]:
    """The path parameters ``values`` (``year``, ``title``) as ``PathYear`` and ``PathTitle``.

    Raises InvalidInput (400 ``validation-failed``) with every parameter's errors, located
    ``["path", name]``: what the resolver's request validation answers for the same values.
    """
    validated: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, adapter in _PATH_PARAMETERS:
        try:
            validated[name] = adapter.validate_python(values[name])
        except ValidationError as error:
            errors.extend(field_errors(error.errors(include_url=False), prefix=("path", name)))
    if errors:
        raise InvalidInput("The request is not valid; see errors.", errors)
    return validated


def page_body(items_json: str, count: int, next_cursor: str | None) -> str:
    """A page's body, ``{"items": [...], "count": n}`` and ``next_cursor`` unless it is the last.

    ``items_json`` is the items already serialized, as the members of a JSON array: the domain
    serializes them to count them against the page's byte budget (``mvdb.domain.paging``), and
    they are not serialized again. The text is what ``json.dumps`` of the whole page makes.
    """
    cursor = f', "next_cursor": {json.dumps(next_cursor)}' if next_cursor else ""
    return f'{{"items": [{items_json}], "count": {count}{cursor}}}'


def _movie_response(stored: StoredMovie, status: HTTPStatus = HTTPStatus.OK, **headers: str) -> Response[Any]:
    body = json_text(stored.document)
    too_large = fits_alone(body)  # a length check, unless the movie was stored around the API's limits
    if too_large is not None:
        raise MovieTooLarge(stored.document["year"], stored.document["title"], too_large)
    return Response(
        status_code=status.value, content_type=JSON, body=body, headers={"ETag": f'"{stored.etag}"', **headers}
    )


def movie_routes(service: MovieService, idempotency: IdempotencyStore) -> Routes:
    """The ``/movies`` operations over ``service`` (``idempotency``: the records ``POST`` and
    ``PATCH`` keep for ``Idempotency-Key``), registered on a router of their own."""
    routes = Routes()
    router = routes.router
    # POST and PATCH read Idempotency-Key through Depends: every field line, not the resolver's one value.
    Idempotency = Annotated[IdempotentRequest, Depends(idempotency.request_of)]

    @routes.declare(
        "GET",
        "/movies",
        scope=READ_SCOPE,
        summary="List and search movies",
        description=(
            "`genre`, `actor`, `director` and `min_rating` (alone or with `year`, `title_prefix`) read the "
            "search index, which reflects a write within seconds; `year` alone (or with `title_prefix`) reads "
            "that year, nothing at all the whole table. `genre`, `actor` and `director` match one list element "
            "exactly (case-sensitive); `min_rating` results come best rated first. Follow `next_cursor` until it "
            "is absent: every matching movie is returned exactly once. A page holds `limit` movies, except the "
            "last (which may be short or empty) and, when several of genre, actor, director and min_rating are "
            "combined, any page (short, even empty, with a next cursor). Any page may also be short, with a next "
            "cursor, when DynamoDB's 1 MB per read is reached (a year, or no filter) or when the next movie would "
            "take the response over 5,000,000 bytes (Lambda returns at most 6 MB): large movies make short pages. "
            "A page holds at least one movie while any is left."
        ),
        responses=documented_responses({200: _PAGE}, 400, 409, 503),
        tags=["movies"],
    )
    def list_movies(
        year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
        title_prefix: Annotated[str | None, Query(min_length=1, max_length=MAX_TITLE_LENGTH)] = None,
        genre: SearchText = None,
        actor: SearchText = None,
        director: SearchText = None,
        min_rating: Annotated[float | None, Query(ge=0, le=10, allow_inf_nan=False)] = None,
        limit: Annotated[
            int,
            Query(
                ge=1,
                le=MAX_LIMIT,
                description="Movies per page, at most; a page may hold fewer (see the operation's description)",
            ),
        ] = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Response[Any]:
        refuse_unknown_parameters(router.current_event.query_string_parameters, _SEARCH_PARAMETERS)
        query = MovieQuery(
            year=year,
            title_prefix=title_prefix,
            genre=genre,
            actor=actor,
            director=director,
            min_rating=min_rating,
            limit=limit,
        )
        page = service.search(query, cursor)
        return Response(
            status_code=200, content_type=JSON, body=page_body(page.movies_json, len(page.movies), page.next_cursor)
        )

    @routes.declare(
        "GET",
        "/movies/{year}/{title}",
        scope=READ_SCOPE,
        summary="Get one movie",
        enable_validation=False,  # its path is checked by validated_path (above), not the resolver
        description="The movie and, in ETag, its version: send that back in If-Match to change it.",
        responses=documented_responses({200: _MOVIE}, 400, 404, 409, 503),
        tags=["movies"],
    )
    def get_movie(year: PathYear, title: PathTitle) -> Response[Any]:
        # Declared for the OpenAPI document; they arrive as the path's text (validation is off).
        path = validated_path(year=str(year), title=str(title))
        return _movie_response(service.get(movie_key(path["year"], path["title"])))

    @routes.declare(
        "POST",
        "/movies",
        scope=WRITE_SCOPE,
        media_types=[JSON],
        summary="Create a movie",
        description=(
            "Creates the movie under its year and title; 409 if one exists. Location is its URL. With an "
            "Idempotency-Key, a retry gets the first 201 again (same ETag and Location) and creates nothing."
        ),
        responses=documented_responses({201: _CREATED}, 400, 409, 503, *_WITH_BODY),
        tags=["movies"],
    )
    def create_movie(movie: Annotated[MovieCreate, Body(embed=False)], idempotent: Idempotency) -> Response[Any]:
        event = router.current_event.raw_event

        def create() -> Response[Any]:
            location = movie_location(base_path(event), MovieKey(movie.year, movie.title))
            return _movie_response(service.create(movie, by=writer(event)), HTTPStatus.CREATED, Location=location)

        return idempotent.once(create, router.lambda_context)

    @routes.declare(
        "PUT",
        "/movies/{year}/{title}",
        scope=WRITE_SCOPE,
        media_types=[JSON],
        summary="Replace a movie's info",
        description="Replaces the whole info of the movie. If-Match (its ETag, or `*`) is required: 412 if stale.",
        responses=documented_responses({200: _MOVIE}, 400, 404, 412, 428, 503, *_WITH_BODY),
        tags=["movies"],
    )
    def replace_movie(
        year: PathYear,
        title: PathTitle,
        body: Annotated[MovieReplace, Body(embed=False)],
        if_match: IfMatch = None,
    ) -> Response[Any]:
        by = writer(router.current_event.raw_event)
        return _movie_response(service.replace(movie_key(year, title), body, parse_if_match(if_match), by=by))

    @routes.declare(
        "PATCH",
        "/movies/{year}/{title}",
        scope=WRITE_SCOPE,
        media_types=[MERGE_PATCH_JSON, JSON],
        summary="Change a movie with a JSON merge patch (RFC 7396)",
        description=(
            'A merge patch of the movie: members left out stay, `null` removes one (`{"info": {"plot": null}}` '
            'removes the plot, `{"info": null}` all the info). Send it as `application/merge-patch+json` '
            "(`application/json` is read the same way). With an Idempotency-Key, a retry gets the first 200 "
            "again and the patch is not applied twice."
        ),
        responses=documented_responses({200: _PATCHED}, 400, 404, 409, 412, 428, 503, *_WITH_BODY),
        tags=["movies"],
    )
    def patch_movie(
        year: PathYear,
        title: PathTitle,
        patch: Annotated[MoviePatch, Body(embed=False, media_type=MERGE_PATCH_JSON)],
        idempotent: Idempotency,
        if_match: IfMatch = None,
    ) -> Response[Any]:
        key, precondition, by = movie_key(year, title), parse_if_match(if_match), writer(router.current_event.raw_event)
        return idempotent.once(
            lambda: _movie_response(service.patch(key, patch, precondition, by=by)), router.lambda_context
        )

    @routes.declare(
        "DELETE",
        "/movies/{year}/{title}",
        scope=WRITE_SCOPE,
        summary="Delete a movie",
        description="Deletes the movie. If-Match (its ETag, or `*`) is required: 412 if stale.",
        responses=documented_responses({204: {"description": "Deleted"}}, 400, 404, 412, 428, 503),
        tags=["movies"],
    )
    def delete_movie(year: PathYear, title: PathTitle, if_match: IfMatch = None) -> Response[Any]:
        service.delete(movie_key(year, title), parse_if_match(if_match), by=writer(router.current_event.raw_event))
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)

    # Browsers send a pre-flight before a cross-origin call with a token or a JSON body.
    routes.declare_preflight("/movies")
    routes.declare_preflight("/movies/{year}/{title}")

    return routes
