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
from mvdb.domain.changes import AuditLog, MovieHistory
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


def movie_service(request: Request) -> MovieService:
    """The app's ``MovieService`` (a ``Depends`` provider)."""
    service: MovieService = request.context[MOVIE_SERVICE]
    return service
