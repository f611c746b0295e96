"""The process's long-lived objects, and how routes get them (Powertools ``Depends``).

``create_app`` builds the ``MovieService`` once (its boto3 client makes no network call until
the first request, so it is built at init and every request, and a SnapStart snapshot, reuses
it) and hands it to each request through the resolver's context. Routes declare
``Annotated[MovieService, Depends(movie_service)]``; tests replace it with
``resolver.dependency_overrides[movie_service] = ...``.
"""

# No ``from __future__ import annotations``: Powertools reads a Depends provider's type hints on
# every request, and evaluating them from strings costs several times as much.
from aws_lambda_powertools.event_handler import Request

from mvdb.config import Settings
from mvdb.domain.ports import MovieRepository
from mvdb.domain.service import MovieService
from mvdb.observability import metrics_sink
from mvdb.repository.dynamodb import DynamoDBMovieRepository, create_client

__all__ = ["MOVIE_SERVICE", "build_movie_service", "movie_service"]

MOVIE_SERVICE = "mvdb.movie_service"  # its key in the resolver's per-request context


def build_movie_service(settings: Settings) -> MovieService:
    """The service over the table ``settings`` name (and its search index table), with its one
    DynamoDB client; with ``settings.read_only``, every write answers ``WritesSuspended`` before
    the table is touched."""
    repository: MovieRepository = DynamoDBMovieRepository(
        create_client(settings),
        settings.table_name,
        index_table_name=settings.search_index_table_name,
        on_retries=metrics_sink.dynamodb_retries,
    )
    if settings.read_only:
        from mvdb.domain.read_only import ReadOnlyRepository  # only when switched on: not on every cold start

        repository = ReadOnlyRepository(repository, retry_after_s=settings.read_only_retry_after_s)
    return MovieService(repository, on_event=metrics_sink.business_event)


def movie_service(request: Request) -> MovieService:
    """The app's ``MovieService`` (a ``Depends`` provider)."""
    service: MovieService = request.context[MOVIE_SERVICE]
    return service
