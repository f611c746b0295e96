"""Settings, read from the environment once per process and validated on the spot.

The environment contract is the one existing deployments use: ``TABLE_NAME`` (required)
and ``REGION`` (optional). ``SEARCH_INDEX_TABLE_NAME`` names the search index table (optional:
``default_search_index_table_name`` when unset, as the local stack names it).
``IDEMPOTENCY_TABLE_NAME`` names the table of idempotency records (optional:
``default_idempotency_table_name`` when unset, as the local stack names it).
``AWS_ENDPOINT_URL_DYNAMODB`` points the service at DynamoDB Local; boto3 also honours it by
itself, we read it so the value is explicit in one place.
Nothing here is ever logged: the environment of a Lambda holds credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ConfigurationError",
    "Settings",
    "default_idempotency_table_name",
    "default_search_index_table_name",
    "get_settings",
]

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def default_search_index_table_name(table_name: str) -> str:
    """The search index table of the movies table ``table_name`` when none is named: ``<table_name>-search-index``."""
    return f"{table_name}-search-index"


def default_idempotency_table_name(table_name: str) -> str:
    """The idempotency records' table of the movies table ``table_name`` when none is named: ``<table>-idempotency``."""
    return f"{table_name}-idempotency"


class ConfigurationError(RuntimeError):
    """The process cannot start: a required setting is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    # The search index (mvdb.repository.search_index), kept in step by the stream function.
    search_index_table_name: str = ""
    # The records of Idempotency-Key requests (mvdb.api.idempotency): Powertools' DynamoDB persistence layer.
    idempotency_table_name: str = ""
    region: str | None = None
    dynamodb_endpoint: str | None = None
    environment: str = "local"
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    # Scope checks behind the gateway's authorizer; off only for a local run without auth.
    require_auth: bool = True
    # Browser origins allowed by CORS; none by default (machine clients need no CORS).
    cors_allow_origins: tuple[str, ...] = ()
    # The OAuth 2.0 token endpoint the OpenAPI document names (Swagger UI's "Authorize"): the
    # Cognito domain's in AWS; by default a path on the API's own host (the local stand-in's).
    token_url: str = "/oauth2/token"  # noqa: S105 - a URL path, not a secret
    # Bounded so a hung DynamoDB never holds a request past the Lambda/API Gateway budget
    # (29 s on REST APIs): worst case ~ attempts * (connect + read) plus backoff.
    dynamodb_connect_timeout_s: float = 1.0
    dynamodb_read_timeout_s: float = 2.0
    dynamodb_max_attempts: int = 3
    # The read-only switch (READ_ONLY): every change answers 503 with Retry-After, reads work.
    # Operators turn it on around a table restore and cut-over (docs/operations.md).
    read_only: bool = False
    read_only_retry_after_s: int = 60
    # The audit trail (mvdb.repository.audit_store): the bucket with Object Lock in AWS
    # (AUDIT_BUCKET_NAME), or a directory laid out like it on this machine (AUDIT_DIRECTORY).
    # The history route reads it; the audit trail function writes it. Neither set: no history.
    audit_bucket_name: str = ""
    audit_directory: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table_name = env.get("TABLE_NAME", "").strip()
        if not table_name:
            raise ConfigurationError(
                "TABLE_NAME is not set: set it to the DynamoDB table that holds the movies "
                "(e.g. TABLE_NAME=mvdb-movies)."
            )
        # Powertools' Logger's own order (POWERTOOLS_LOG_LEVEL, then the legacy LOG_LEVEL): the level it
        # is made with, to which debug-log sampling returns it on every request.
        log_level = (env.get("POWERTOOLS_LOG_LEVEL") or env.get("LOG_LEVEL") or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise ConfigurationError(
                f"POWERTOOLS_LOG_LEVEL (or LOG_LEVEL) must be one of {sorted(_LOG_LEVELS)}, got {log_level!r}."
            )
        return cls(
            table_name=table_name,
            search_index_table_name=env.get("SEARCH_INDEX_TABLE_NAME", "").strip()
            or default_search_index_table_name(table_name),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", "").strip()
            or default_idempotency_table_name(table_name),
            region=env.get("REGION") or env.get("AWS_REGION") or None,
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            environment=env.get("ENVIRONMENT", "local"),
            log_level=log_level,
            max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", cls.max_body_bytes),
            read_only=_flag(env, "READ_ONLY", default=False),
            read_only_retry_after_s=_positive_int(env, "READ_ONLY_RETRY_AFTER", cls.read_only_retry_after_s),
            require_auth=_flag(env, "REQUIRE_AUTH", default=True),
            cors_allow_origins=_origins(env.get("CORS_ALLOW_ORIGINS", "")),
            token_url=_token_url(env.get("TOKEN_URL", "")) or cls.token_url,
            audit_bucket_name=env.get("AUDIT_BUCKET_NAME", "").strip(),
            audit_directory=env.get("AUDIT_DIRECTORY", "").strip(),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}.") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}.")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin == "*" or not origin.startswith(("https://", "http://localhost", "http://127.0.0.1")):
            raise ConfigurationError(
                f"CORS_ALLOW_ORIGINS takes exact https:// origins (comma-separated), never '*'; got {origin!r}."
            )
    return origins


def _token_url(raw: str) -> str:
    url = raw.strip()
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost", "/")):
        raise ConfigurationError(f"TOKEN_URL must be an https:// URL (or a path on this host), got {url!r}.")
    return url


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use and then reused."""
    return Settings.from_env()
