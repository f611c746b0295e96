"""Fixtures shared by every suite: DynamoDB Local, tables built from the SAM template, the Lambda app.

DynamoDB Local runs on a throw-away copy of the seed database in RAM (``mvdb_local.seed``: the
data set loaded and indexed by ``mvdb load``, built once per data and code version), on a free
port, and only when a test asks for it: unit tests never start it. With
``--shared-dynamodb-local`` (what the Makefile passes) one instance serves every pytest-xdist
worker of the run (``tests/dynamodb_session.py``); without it each test process starts its own.
Tables are created by ``mvdb_local.table``, i.e. from the one definition of each table's shape in
``infra/stacks/data.yaml``: a movies table per test (with its search index table only where the
test asks for one), named after the worker that made it.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import dynamodb_session, lambda_build

# Test processes keep their bytecode (``__pycache__/``, git-ignored): our modules' and the test
# modules' as pytest rewrote their asserts. The Makefile exports PYTHONDONTWRITEBYTECODE for every
# command it runs; without a cache each test process (three per xdist run) compiles and rewrites
# the same modules again, ~2.5 s of CPU each. Only this process's own setting: subprocesses still
# inherit the variable (the artifact tests run the build read-only and assert it writes nothing).
sys.dont_write_bytecode = False

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        dynamodb_session.OPTION,
        action="store_true",
        help="under pytest-xdist: one DynamoDB Local for the whole run, started by the controller, not one per worker",
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config) -> None:
    dynamodb_session.start_for_the_run(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    dynamodb_session.hand_to_worker(node.config, node.workerinput)


def pytest_sessionfinish(session: pytest.Session) -> None:
    dynamodb_session.fail_a_run_that_wrote_to_the_seed(session)


def pytest_unconfigure(config: pytest.Config) -> None:
    dynamodb_session.stop_for_the_run(config)


# Markers of the tests that run longest, longest first (pyproject.toml): a contract fuzz run is a
# single call of one to two minutes, a ``slow`` test more than a few seconds.
LONGEST_FIRST = ("contract", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leaves out the ``tenfold`` tests unless the marker expression names them (``make test-tenfold``),
    and puts the modules that run longest first (``longest_modules_first``).

    Their seed takes about half an hour to build: a plain ``pytest tests/integration`` must not start it.
    """
    if "tenfold" not in (config.getoption("markexpr") or ""):
        kept = [item for item in items if item.get_closest_marker("tenfold") is None]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("tenfold")])
            items[:] = kept
    items[:] = longest_modules_first(items)


def longest_modules_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items``, the modules with a ``contract`` test first, then those with a ``slow`` test, then the rest.

    xdist (``--dist loadgroup --no-loadscope-reorder``, as the Makefile runs it) hands out the tests
    in this order, one test or one ``xdist_group`` at a time to whichever worker runs short: a long
    test handed out last runs alone while the other worker waits. Collected last, the two contract
    fuzz runs (~50 s and ~110 s) did so at the end of ``make pytest``. Otherwise the order is the
    collection's: a module's tests stay together and in their order (its module fixtures are made once
    per worker, not again when the module comes back).
    """

    def rank(item: pytest.Item) -> int:
        return next((n for n, name in enumerate(LONGEST_FIRST) if item.get_closest_marker(name)), len(LONGEST_FIRST))

    module_rank: dict[Path, int] = {}
    for item in items:
        module_rank[item.path] = min(module_rank.get(item.path, len(LONGEST_FIRST)), rank(item))
    return sorted(items, key=lambda item: module_rank[item.path])  # stable: the collection's order within a rank


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
def dynamodb_local(request: pytest.FixtureRequest, local_aws_env: dict[str, str]) -> Iterator[Any]:
    """The run's shared DynamoDB Local (``--shared-dynamodb-local`` under xdist), else one of this process's own.

    Tests use its ``endpoint`` only: they never stop or restart it. Tests that wrote to the seed's
    table fail the run (``dynamodb_session.seed_writes``).
    """
    endpoint = dynamodb_session.shared_endpoint(request.config)
    if endpoint is not None:
        yield dynamodb_session.SharedDynamoDBLocal(endpoint)
        return
    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.seed import seeded_database

    with DynamoDBLocal(heap=dynamodb_session.HEAP, seed=seeded_database()) as dynamodb:
        dynamodb_session.guard_the_seed(dynamodb.endpoint)
        yield dynamodb
        written = dynamodb_session.seed_writes(dynamodb.endpoint)
        if written:
            pytest.fail(f"tests wrote to the read-only seed table (use a table of your own): {written[:10]}")


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local: Any) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint, region_name=REGION, config=config)


def unique_table_name(purpose: str = "test") -> str:
    """A table name no other test of the run uses, naming the xdist worker that made it (``main`` without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"mvdb-{purpose}-{worker}-{uuid.uuid4().hex[:12]}"


@contextmanager
def _tables_made(dynamodb_client: Any) -> Iterator[Callable[..., str]]:
    from mvdb.config import default_idempotency_table_name, default_search_index_table_name
    from mvdb_local.table import create_idempotency_table, create_movies_table, create_search_index_table

    created: list[str] = []

    def make(*, search_index: bool = False, idempotency_records: bool = False, stream: bool = False) -> str:
        name = unique_table_name()
        # Its stream only where a test reads it: DynamoDB Local keeps a record of every write to a
        # table with a stream, for the whole run (a dropped table's too), and charges every later
        # write to such a table more the more records it holds (measured: 1.9 ms of CPU per PutItem
        # with none, 3.6-5 ms after one load of the data set). A poller on a table without one fails.
        create_movies_table(dynamodb_client, name, if_missing=False, stream=stream)
        created.append(name)
        # Each extra table costs ~25 ms of CPU to make and drop. Without its search index table the
        # API answers a search with 503 (test_storage_unavailable.py), the stream function gives up
        # its batches and a load reports every movie not indexed: a test that needs the index fails.
        if search_index:
            create_search_index_table(dynamodb_client, default_search_index_table_name(name), if_missing=False)
            created.append(default_search_index_table_name(name))
        if idempotency_records:  # only keyed requests touch it
            create_idempotency_table(dynamodb_client, default_idempotency_table_name(name), if_missing=False)
            created.append(default_idempotency_table_name(name))
        return name

    yield make
    for name in created:
        dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def make_table(dynamodb_client: Any) -> Iterator[Callable[..., str]]:
    """Creates empty movies tables from the templates (with ``search_index=True`` their search index tables, with
    ``idempotency_records=True`` their idempotency records' tables, with ``stream=True`` the movies table's
    stream, off otherwise); drops them after the test."""
    with _tables_made(dynamodb_client) as make:
        yield make


@pytest.fixture(scope="module")
def make_module_table(dynamodb_client: Any) -> Iterator[Callable[..., str]]:
    """``make_table`` for fixtures of module scope: tables filled once and then only read by the module's tests.

    Under xdist each worker that runs a test of the module makes its own. Write to them in
    the module fixture that fills them, never in a test: the next test would see the write.
    """
    with _tables_made(dynamodb_client) as make:
        yield make


@pytest.fixture
def movies_table(make_table: Callable[..., str]) -> str:
    """A fresh, empty movies table of its own for one test (without its stream: ``make_table``)."""
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


# The Lambda zips -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_lambda_zips(tmp_path_factory: pytest.TempPathFactory) -> lambda_build.LambdaZips:
    """The run's one build of the Lambda zips (``tests/lambda_build.py``), for fixtures of wider scope that only
    read them; tests take ``lambda_zips``, which also checks that they left the zips as built."""
    return lambda_build.built_once(tmp_path_factory)


@pytest.fixture
def lambda_zips(shared_lambda_zips: lambda_build.LambdaZips) -> Iterator[lambda_build.LambdaZips]:
    """The run's one build of the Lambda zips, read-only: the test fails if it changed them (alter a copy instead)."""
    yield shared_lambda_zips
    changed = shared_lambda_zips.changed()
    if changed:
        pytest.fail(f"the test changed the run's shared Lambda zips {changed}: later tests would read its edit")


# The Lambda app ------------------------------------------------------------------------------

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def build_app(local_aws_env: dict[str, str]) -> Callable[..., LambdaHandler]:
    """Returns ``build(table, endpoint=..., require_auth=False, **env)``: the Lambda handler serving ``table``.

    ``env`` sets further variables of the function's environment (e.g. ``MAX_BODY_BYTES="100"``);
    ``None`` leaves one unset. Each build is an app of its own (``create_app``), configured
    exactly as a deployment with that environment would be: nothing is shared between tests.
    """
    from mvdb.api.http_api import create_app, lambda_handler_of
    from mvdb.config import Settings

    def build(table: str, *, endpoint: str, require_auth: bool = False, **env: str | None) -> LambdaHandler:
        settings_env = {
            "TABLE_NAME": table,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "REQUIRE_AUTH": "true" if require_auth else "false",
            "ENVIRONMENT": "test",
            "REGION": REGION,
            **env,
        }
        settings = Settings.from_env({name: value for name, value in settings_env.items() if value is not None})
        return lambda_handler_of(create_app(settings))

    return build
