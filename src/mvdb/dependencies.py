"""The process's long-lived objects, built once per container by ``create_app``.

The ``MovieService`` is built at init (its boto3 client makes no network call until the first
request), so every request, and a SnapStart snapshot, reuses it. Routes close over it
(``mvdb.api.movies.movie_routes(service)``): nothing is looked up per request.
"""

from __future__ import annotations

from mvdb.config import Settings
from mvdb.domain.changes import AuditLog, MovieHistory
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
    history = MovieHistory(lambda: build_audit_log(settings)) if _has_audit_trail(settings) else None
    return MovieService(repository, on_event=metrics_sink.business_event, history=history)


def _has_audit_trail(settings: Settings) -> bool:
    return bool(settings.audit_bucket_name or settings.audit_directory)


def build_audit_log(settings: Settings) -> AuditLog:
    """The audit trail the history route reads: the bucket (S3), else the local directory.

    Called on the first history request, not at init: the API's cold start builds no S3 client.
    """
    from mvdb.repository.audit_store import DirectoryAuditStore, S3AuditStore

    if settings.audit_bucket_name:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 3, "mode": "standard"})
        client = boto3.client("s3", region_name=settings.region, config=config)
        return S3AuditStore(client, settings.audit_bucket_name)
    from pathlib import Path

    return DirectoryAuditStore(Path(settings.audit_directory))
