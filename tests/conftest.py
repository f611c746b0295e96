"""Fixtures shared by every suite: DynamoDB Local, tables built from the SAM template, the Lambda app.

DynamoDB Local runs in memory on a free port, and only when a test asks for it: unit tests never
start it. With ``--shared-dynamodb-local`` (what the Makefile passes) one instance serves every
pytest-xdist worker of the run (``tests/dynamodb_session.py``); without it each test process
starts its own. Tables are created by ``mvdb_local.table.create_movies_table``, i.e. from the one
definition of the table's shape in ``infra/stacks/data.yaml``, one per test, named after the
worker that made it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import dynamodb_session
from tests.shared_output import produced_once

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


def pytest_unconfigure(config: pytest.Config) -> None:
    dynamodb_session.stop_for_the_run(config)


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

    Tests use its ``endpoint`` only: they never stop or restart it.
    """
    endpoint = dynamodb_session.shared_endpoint(request.config)
    if endpoint is not None:
        yield dynamodb_session.SharedDynamoDBLocal(endpoint)
        return
    from mvdb_local.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal(heap=dynamodb_session.HEAP) as dynamodb:
        yield dynamodb


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


@pytest.fixture
def make_table(dynamodb_client: Any) -> Iterator[Callable[[], str]]:
    """Creates empty movies tables from the template's definition; drops them after the test."""
    from mvdb_local.table import create_movies_table

    created: list[str] = []

    def make() -> str:
        name = unique_table_name()
        create_movies_table(dynamodb_client, name, if_missing=False)
        created.append(name)
        return name

    yield make
    for name in created:
        dynamodb_client.delete_table(TableName=name)


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
def loaded_table(
    dynamodb_local: Any,
    dynamodb_client: Any,
    movie_records: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A table holding the whole data set, loaded once per DynamoDB Local. Read-only: never write to it.

    On the run's shared DynamoDB Local the first worker that asks loads it and the others wait
    for that load and use the same table.
    """
    from mvdb.loader import load_movies
    from mvdb_local.table import create_movies_table

    def load(directory: Path) -> None:
        name = unique_table_name("catalog")
        create_movies_table(dynamodb_client, name, if_missing=False)
        report = load_movies(dynamodb_client, name, movie_records)
        assert (report.written, report.invalid) == (MOVIE_COUNT, [])
        (directory / "table-name").write_text(name)

    if isinstance(dynamodb_local, dynamodb_session.SharedDynamoDBLocal):
        return (produced_once(tmp_path_factory, "catalog-table", load) / "table-name").read_text()
    own = tmp_path_factory.mktemp("catalog-table")
    load(own)
    return (own / "table-name").read_text()


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
