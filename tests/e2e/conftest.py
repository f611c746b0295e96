"""The stack under test: a deployed one (``STACK_NAME``, region from ``AWS_REGION``) or a local one.

Deployed: the outputs come from CloudFormation (``describe_stacks``), the app clients' secrets
from Cognito (``describe_user_pool_client``), tokens from the pool's token endpoint.

Local (``STACK_NAME`` unset): ``python -m mvdb_local`` in a process of its own, exactly what
``make run`` runs: DynamoDB Local in memory on a free port, the table created from the template
and loaded with the movies, the API on another free port behind the Cognito stand-in. A process
rather than a thread because the Lambda app reads its settings once per process, and other
suites in the same pytest worker configure it for their own tables. The stand-in keeps its user
pool's signing key in the run's state directory, so the tests can mint an expired token it trusts.

Either way the tests see one ``StackUnderTest``; they branch on ``stack.on_aws`` only where a
check has no local equivalent or AWS answers differently, each time saying why.

A production stack (its name ends in ``-prod``, or ``DEPLOYED_TESTS_READ_ONLY=1``) is tested
read-only: prod's table takes no test writes, so the tests that create movies are skipped and
the movie the read tests need is one the table already holds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mvdb.api.scopes import WRITE_SCOPE
from tests.e2e.support import (
    BROWSER_ORIGIN,
    EXPECTED_OUTPUTS,
    TEST_YEAR,
    Api,
    ClientCredentials,
    MovieJanitor,
    MovieRef,
    StackUnderTest,
    Tokens,
    fetch_token,
    forge_token,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_REGION = "us-east-1"
LOCAL_STAGE = "/local"  # the local API answers under a stage's base path, as an execute-api URL does


def _stack_name() -> str:
    return os.environ.get("STACK_NAME", "").strip()


def read_only() -> bool:
    """Whether the stack under test takes no test writes (production)."""
    return _stack_name().endswith("-prod") or os.environ.get("DEPLOYED_TESTS_READ_ONLY") == "1"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackUnderTest]:
    name = _stack_name()
    if name:
        yield _deployed_stack(name)
        return
    with _local_stack(tmp_path_factory.mktemp("local-stack")) as local:
        yield local


# -- a stack deployed on AWS ---------------------------------------------------------------------


def _deployed_stack(stack_name: str) -> StackUnderTest:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        pytest.fail(f"STACK_NAME={stack_name} is set but AWS_REGION is not: set the region the stack is deployed in.")
    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    status = described["StackStatus"]
    if status not in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
        pytest.fail(f"stack {stack_name} is {status}: the deployed tests need a stack whose last deploy completed.")
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    missing = [key for key in EXPECTED_OUTPUTS if key not in outputs]
    if missing:
        pytest.fail(f"stack {stack_name} lacks the outputs {missing}: is it a stack of infra/template.yaml?")

    cognito = boto3.client("cognito-idp", region_name=region)

    def credentials(client_id: str) -> ClientCredentials:
        client = cognito.describe_user_pool_client(UserPoolId=outputs["UserPoolId"], ClientId=client_id)
        return ClientCredentials(client_id, client["UserPoolClient"]["ClientSecret"])

    issuer = f"https://cognito-idp.{region}.amazonaws.com/{outputs['UserPoolId']}"
    machine = credentials(outputs["MachineClientId"])
    return StackUnderTest(
        name=stack_name,
        outputs=outputs,
        machine=machine,
        readonly=credentials(outputs["ReadOnlyClientId"]),
        auditor=credentials(outputs["AuditorClientId"]),
        on_aws=True,
        region=region,
        issuer=issuer,
        # Cognito's key signs only live tokens (an access token lives 5 minutes at least), so
        # the expired token is forged: the authorizer must refuse it on either ground.
        expired_token=forge_token(issuer, machine.client_id, expires_in_s=-3600),
    )


# -- the local stack -------------------------------------------------------------------------------


@contextmanager
def _local_stack(workdir: Path) -> Iterator[StackUnderTest]:
    from mvdb_local.__main__ import LOCAL_ENV
    from mvdb_local.cognito import AUDITOR_CLIENT_ID, MACHINE_CLIENT_ID, READONLY_CLIENT_ID, USER_POOL_ID, LocalCognito
    from mvdb_local.dynamodb_local import LocalStackError
    from mvdb_local.process import run_local_stack

    # As deployed: auth on, CORS for one browser origin, the API under a stage's base path.
    env = {"CORS_ALLOW_ORIGINS": BROWSER_ORIGIN}
    try:
        with run_local_stack(workdir, env, base_path=LOCAL_STAGE) as running:
            # The stand-in's own user pool, from the state it keeps: its key signs the expired token.
            cognito = LocalCognito.from_state(running.state_dir, running.clients["issuer"])
            by_id = {c.client_id: c for c in cognito.clients}
            outputs = {
                "ApiUrl": running.api_url,
                "TokenUrl": running.token_url,
                "TableName": LOCAL_ENV["TABLE_NAME"],
                "UserPoolId": USER_POOL_ID,
                "MachineClientId": MACHINE_CLIENT_ID,
                "ReadOnlyClientId": READONLY_CLIENT_ID,
                "Region": LOCAL_REGION,
            }
            yield StackUnderTest(
                name="local",
                outputs=outputs,
                machine=ClientCredentials(MACHINE_CLIENT_ID, by_id[MACHINE_CLIENT_ID].client_secret),
                readonly=ClientCredentials(READONLY_CLIENT_ID, by_id[READONLY_CLIENT_ID].client_secret),
                on_aws=False,
                region=LOCAL_REGION,
                issuer=cognito.issuer,
                expired_token=cognito.issue_token(MACHINE_CLIENT_ID, issued_at=time.time() - 7200),
                dynamodb_endpoint=running.dynamodb_endpoint,
                auditor=ClientCredentials(AUDITOR_CLIENT_ID, by_id[AUDITOR_CLIENT_ID].client_secret),
            )
            _assert_no_test_movies_left(running.api_url, cognito.issue_token(MACHINE_CLIENT_ID))
    except LocalStackError as error:
        pytest.fail(str(error))


def _assert_no_test_movies_left(api_url: str, token: str) -> None:
    # Every test cleans up after itself; here, where nothing else writes, that is checked.
    # (On AWS other runs may be writing to the same table: no such check there.)
    response = requests.get(
        f"{api_url}/movies?year={TEST_YEAR}&limit=100", headers={"Authorization": f"Bearer {token}"}, timeout=20
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["items"] == [], f"test movies left behind: {response.text[:500]}"


# -- callers, tokens and movies -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def api(stack: StackUnderTest) -> Iterator[Api]:
    client = Api(stack.api_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def tokens(stack: StackUnderTest) -> Tokens:
    return Tokens(
        read=fetch_token(stack.token_url, stack.readonly),
        write=fetch_token(stack.token_url, stack.machine, scope=WRITE_SCOPE),
        full=fetch_token(stack.token_url, stack.machine),
    )


@pytest.fixture
def movies(api: Api, tokens: Tokens) -> Iterator[MovieJanitor]:
    """Creates movies for one test and deletes them afterwards, even when the test failed."""
    if read_only():
        pytest.skip("a production stack is tested read-only: its table takes no test writes")
    janitor = MovieJanitor(api, tokens.full)
    yield janitor
    janitor.delete_all()


@pytest.fixture(scope="session")
def existing_movie(api: Api, tokens: Tokens) -> Iterator[MovieRef]:
    """One movie for the whole session to read (never changed), deleted at the end.

    Read-only (production): the first movie the table already holds; none, and the reads are skipped.
    """
    if read_only():
        page = api.call("GET", "/movies?limit=1", token=tokens.read)
        assert page.status_code == 200, page.text[:300]
        items = page.json()["items"]
        if not items:
            pytest.skip("the production table holds no movie to read")
        yield MovieRef(int(items[0]["year"]), str(items[0]["title"]))
        return
    janitor = MovieJanitor(api, tokens.full)
    movie = janitor.create("catalog", {"plot": "Read by the auth matrix.", "genres": ["Documentary"], "rating": 7.1})
    yield movie
    janitor.delete_all()
