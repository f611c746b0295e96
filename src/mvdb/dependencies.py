"""The process's long-lived objects, created once per Lambda container (or local process).

Creating the boto3 client makes no network call; it is done at init so every request
(and a SnapStart snapshot) reuses it.
"""

from __future__ import annotations

from functools import lru_cache

from mvdb.config import get_settings
from mvdb.domain.service import MovieService
from mvdb.observability import metrics_sink
from mvdb.repository.dynamodb import DynamoDBMovieRepository, create_client

__all__ = ["movie_service"]


@lru_cache(maxsize=1)
def movie_service() -> MovieService:
    settings = get_settings()
    repository = DynamoDBMovieRepository(
        create_client(settings),
        settings.table_name,
        index_table_name=settings.search_index_table_name,
        on_retries=metrics_sink.dynamodb_retries,
    )
    return MovieService(repository, on_event=metrics_sink.business_event)
