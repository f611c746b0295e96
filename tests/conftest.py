"""Fixtures shared by every suite: DynamoDB Local, tables built from the SAM template, the Lambda app.

DynamoDB Local is started once per test process (each pytest-xdist worker gets its own, on a
throw-away copy of the seed database in RAM, on a free port) and only when a test asks for it:
unit tests never start it. The seed (``mvdb_local.seed``) holds the data set loaded and indexed
by ``mvdb load``, built once per data and code version. Tables are created by
``mvdb_local.table.create_tables``, i.e. from the one definition of each table's shape in
``infra/stacks/data.yaml``: the movies table and its search index table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_FILE = PROJECT_ROOT / "data" / "moviedata.json"
MOVIE_COUNT = 4609
REGION = "us-east-1"

# DynamoDB Local accepts any credentials; fixed dummy ones keep botocore from searching for
# real ones (config files, instance metadata: network calls that would slow every test down).
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
_UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "TABLE_NAME")


@pytest.fixture(scope="session")
def local_aws_env() -> Iterator[dict[str, str]]:
    """Dummy credentials and region for the whole session; never real AWS settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _UNSET_AWS_ENV:
            patch.delenv(name, raising=False)
        for name, value in LOCAL_AWS_ENV.items():
            patch.setenv(name, value)
        yield LOCAL_AWS_ENV


@pytest.fixture(scope="session")
def dynamodb_local(local_aws_env: dict[str, str]) -> Iterator[Any]:
    """One DynamoDB Local on a free port for this test process, starting from a copy of the seed."""
    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.seed import seeded_database

    # A heap big enough for several loaded copies of the data set (the loader tests make a few).
    with DynamoDBLocal(heap="512m", seed=seeded_database()) as dynamodb:
        yield dynamodb


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local: Any) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name=REGION, config=config)


def unique_table_name(purpose: str = "test") -> str:
    return f"mvdb-{purpose}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_table(dynamodb_client: Any) -> Iterator[Callable[[], str]]:
    """Creates empty movies tables (and their search index tables) from the templates; drops them after the test."""
    from mvdb.config import default_search_index_table_name
    from mvdb_local.table import create_tables

    created: list[str] = []

    def make() -> str:
        name = unique_table_name()
        create_tables(dynamodb_client, name, if_missing=False)
        created.append(name)
        return name

    yield make
    for name in created:
        dynamodb_client.delete_table(TableName=name)
        dynamodb_client.delete_table(TableName=default_search_index_table_name(name))


@pytest.fixture
def movies_table(make_table: Callable[[], str]) -> str:
    """A fresh, empty movies table of its own for one test."""
    return make_table()


@pytest.fixture(scope="session")
def movie_records() -> list[dict[str, Any]]:
    """The 4,609 movies of ``data/moviedata.json``. Shared: copy before changing anything."""
    records: list[dict[str, Any]] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert len(records) == MOVIE_COUNT
    return records


@pytest.fixture(scope="session")
def loaded_table(dynamodb_client: Any) -> str:
    """The seed's table: the whole data set as ``mvdb load`` leaves it, indexed. Read-only: never write to it."""
    from mvdb_local.seed import SEED_TABLE

    count = dynamodb_client.scan(TableName=SEED_TABLE, Select="COUNT", ConsistentRead=True)
    while "LastEvaluatedKey" in count:  # a COUNT scan pages by the data it reads
        page = dynamodb_client.scan(
            TableName=SEED_TABLE, Select="COUNT", ConsistentRead=True, ExclusiveStartKey=count["LastEvaluatedKey"]
        )
        count = {**page, "Count": count["Count"] + page["Count"]}
    assert count["Count"] == MOVIE_COUNT
    return SEED_TABLE


@pytest.fixture
def stream_indexer(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, dynamodb_client: Any
) -> Iterator[Callable[..., Any]]:
    """Returns ``indexer(table, **settings)``: the search index function fed ``table``'s stream, as in AWS.

    A ``mvdb_local.streams.LocalStreamPoller`` (from the stream's start) calling the Lambda
    handler ``mvdb.streams.search_indexer.lambda_handler`` configured for ``table``;
    ``settings`` are its event source mapping's (``StreamConsumer``). Call ``.drain()`` to
    process everything written so far, or ``.start()`` to poll in the background; batches it
    gave up on are in ``.given_up``.
    """
    import boto3

    from mvdb.config import get_settings
    from mvdb.streams.search_indexer import lambda_handler, search_index
    from mvdb_local.streams import LocalStreamPoller, StreamConsumer

    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name=REGION)
    pollers: list[Any] = []

    def clear_caches() -> None:
        get_settings.cache_clear()
        search_index.cache_clear()

    def make(table: str, **settings: Any) -> Any:
        monkeypatch.setenv("TABLE_NAME", table)
        monkeypatch.delenv("SEARCH_INDEX_TABLE_NAME", raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)
        clear_caches()
        consumer = StreamConsumer("search-indexer", lambda_handler, **settings)
        poller = LocalStreamPoller(dynamodb_client, streams, table, [consumer], on_failure=lambda *_: None)
        pollers.append(poller)
        return poller

    yield make
    for poller in pollers:
        poller.stop()
    clear_caches()


# The Lambda app ------------------------------------------------------------------------------

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def build_app(monkeypatch: pytest.MonkeyPatch, local_aws_env: dict[str, str]) -> Iterator[Callable[..., LambdaHandler]]:
    """Returns ``build(table, endpoint=..., require_auth=False, **env)``: the Lambda handler serving ``table``.

    ``env`` sets further variables (e.g. ``MAX_BODY_BYTES="100"``); ``None`` unsets one.

    ``mvdb.app`` reads its settings once, at import, and ``mvdb.dependencies.movie_service`` is a
    per-process singleton, as in a Lambda container. Each build sets the environment a
    deployment would, clears both caches and re-reads the settings the app module holds, so a
    test gets the app it asked for whatever ran before it.
    """
    from mvdb.config import get_settings
    from mvdb.dependencies import movie_service

    def clear_caches() -> None:
        get_settings.cache_clear()
        movie_service.cache_clear()

    def build(table: str, *, endpoint: str, require_auth: bool = False, **env: str | None) -> LambdaHandler:
        settings_env = {
            "TABLE_NAME": table,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "REQUIRE_AUTH": "true" if require_auth else "false",
            "ENVIRONMENT": "test",
            "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
            "POWERTOOLS_SERVICE_NAME": "mvdb",
            **env,
        }
        for name, value in settings_env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        clear_caches()
        import mvdb.app

        monkeypatch.setattr(mvdb.app, "settings", get_settings())
        assert mvdb.app.settings.table_name == table
        return mvdb.app.lambda_handler

    yield build
    clear_caches()
