"""The process's long-lived objects, built once per container by ``create_app``.

The ``MovieService`` is built at init (its boto3 client makes no network call until the first
request), so every request, and a SnapStart snapshot, reuses it. Routes close over it
(``mvdb.api.movies.movie_routes(service)``): nothing is looked up per request.
"""

from __future__ import annotations

from mvdb.config import Settings
from mvdb.domain.ports import MovieRepository
from mvdb.domain.service import MovieService
from mvdb.observability import metrics_sink
from mvdb.repository.dynamodb import DynamoDBMovieRepository, create_client

__all__ = ["build_movie_service"]


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
