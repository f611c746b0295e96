"""The process's long-lived objects, created once per Lambda container (or local process).

Creating the boto3 client makes no network call; it is done at init so every request
(and a SnapStart snapshot) reuses it.
"""

from __future__ import annotations

from functools import lru_cache

from mvdb.config import get_settings
from mvdb.domain.ports import MovieRepository
from mvdb.domain.service import MovieService
from mvdb.observability import metrics_sink
from mvdb.repository.dynamodb import DynamoDBMovieRepository, create_client

__all__ = ["movie_service"]


@lru_cache(maxsize=1)
def movie_service() -> MovieService:
    settings = get_settings()
    repository: MovieRepository = DynamoDBMovieRepository(
        create_client(settings), settings.table_name, on_retries=metrics_sink.dynamodb_retries
    )
    if settings.read_only:
        from mvdb.domain.read_only import ReadOnlyRepository  # only when switched on: not on every cold start

        repository = ReadOnlyRepository(repository, retry_after_s=settings.read_only_retry_after_s)
    return MovieService(repository, on_event=metrics_sink.business_event)
