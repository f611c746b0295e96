"""The synthetic check, run against the local stack exactly as Synthetics would run it.

The script under test is the copy that infra/stacks/canary.yaml carries inline (what Synthetics
executes), not its source file; ``make check-infra`` keeps the two equal (tools/build/render_infra),
and the last tests show that gate failing on a stale copy. Secrets Manager's GetSecretValue, which
the canary calls for its client's id and secret, is a real boto3 client answered by a botocore
Stubber with a read-only client of the local stand-in; everything else is the local stack over HTTP
(``mvdb_local.process.run_local_stack``: DynamoDB Local, the API, the token endpoint). Starting it
takes 20-60 s on these machines, once for the module.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.build.render_infra import main as render_main
from tools.build.render_infra import render
from tools.build.sam_translate import load_sam_template

pytestmark = [pytest.mark.infra, pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("canary-script")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CANARY_TEMPLATE = PROJECT_ROOT / "infra" / "stacks" / "canary.yaml"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:mvdb-prod/canary-client-AbCdEf"


def _deployed_script() -> types.ModuleType:
    """The canary script as the template deploys it, loaded as a module named after its handler."""
    code = load_sam_template(CANARY_TEMPLATE)["Resources"]["ApiCanary"]["Properties"]["Code"]
    module = types.ModuleType(code["Handler"].split(".")[0])
    exec(compile(code["Script"], str(CANARY_TEMPLATE), "exec"), module.__dict__)  # noqa: S102 - our own script
    return module


@pytest.fixture(scope="module")
def canary() -> types.ModuleType:
    return _deployed_script()


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mvdb_local.process import run_local_stack

    with run_local_stack(tmp_path_factory.mktemp("canary-stack")) as running:
        yield running


def _config(stack: Any) -> dict[str, str]:
    return {"API_URL": stack.api_url, "TOKEN_URL": stack.token_url, "CLIENT_SECRET_ARN": SECRET_ARN}


def _secrets_manager_answering(secret_string: str) -> tuple[Any, Stubber]:
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    secretsmanager = session.client("secretsmanager")
    stubber = Stubber(secretsmanager)
    stubber.add_response(
        "get_secret_value",
        {"ARN": SECRET_ARN, "Name": "mvdb-prod/canary-client", "SecretString": secret_string},
        {"SecretId": SECRET_ARN},
    )
    stubber.activate()
    return secretsmanager, stubber


def _credentials_of(client: dict[str, Any]) -> str:
    return json.dumps({"client_id": client["client_id"], "client_secret": client["client_secret"]})


def test_the_check_passes_against_a_healthy_stack_and_logs_each_step(
    canary: types.ModuleType, local_stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    reader = local_stack.client("movies/read")
    secretsmanager, stubber = _secrets_manager_answering(_credentials_of(reader))

    outcome = canary.run_checks(
        _config(local_stack), lambda arn: canary.credentials_from_secrets_manager(arn, secretsmanager)
    )

    assert outcome == "passed"
    stubber.assert_no_pending_responses()  # the credentials came from GetSecretValue on the configured secret
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["step"], s["status"]) for s in steps] == [("health", 200), ("token", 200), ("read", 200)]
    assert all(isinstance(s["latency_ms"], int) and s["x_request_id"] for s in steps if s["step"] != "token")
    assert reader["client_secret"] not in json.dumps(steps)


def test_the_handler_reads_its_configuration_from_the_canary_environment(
    canary: types.ModuleType, local_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secretsmanager, _ = _secrets_manager_answering(_credentials_of(local_stack.client("movies/read")))
    for name, value in _config(local_stack).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "client", lambda service, *args, **kwargs: secretsmanager)

    assert canary.handler({}, None) == "passed"


def test_a_wrong_client_secret_fails_the_token_step(canary: types.ModuleType, local_stack: Any) -> None:
    reader = local_stack.client("movies/read")

    with pytest.raises(canary.CheckFailed, match=r"^token: the token endpoint answered 4\d\d"):
        canary.run_checks(_config(local_stack), lambda arn: (reader["client_id"], "not-the-secret"))


@pytest.mark.parametrize(
    "secret_string", ["not json", "[]", '{"client_id": "abc"}', '{"client_id": "", "client_secret": "s"}']
)
def test_a_secret_without_client_credentials_fails_the_run_without_echoing_it(
    canary: types.ModuleType, secret_string: str
) -> None:
    secretsmanager, _ = _secrets_manager_answering(secret_string)

    with pytest.raises(canary.CheckFailed, match=r"^credentials: ") as failure:
        canary.credentials_from_secrets_manager(SECRET_ARN, secretsmanager)
    assert secret_string not in str(failure.value)


def test_an_api_that_does_not_answer_fails_the_health_step(canary: types.ModuleType, local_stack: Any) -> None:
    from mvdb_local.dynamodb_local import free_port

    config = {**_config(local_stack), "API_URL": f"http://127.0.0.1:{free_port()}"}

    with pytest.raises(canary.CheckFailed, match=r"^health: no answer from 127\.0\.0\.1"):
        canary.run_checks(config, lambda arn: pytest.fail("no secret is needed before /health"))


def test_the_check_sends_nothing_but_https_off_the_loopback(canary: types.ModuleType) -> None:
    with pytest.raises(canary.CheckFailed, match="https only"):
        canary.call("health", "GET", "http://api.example.com/health")


def test_the_template_carries_exactly_the_script_file() -> None:
    source = (PROJECT_ROOT / "functions" / "api_canary" / "canary.py").read_text(encoding="utf-8")
    script = load_sam_template(CANARY_TEMPLATE)["Resources"]["ApiCanary"]["Properties"]["Code"]["Script"]
    assert script == source


def test_the_render_check_fails_on_a_stale_copy_and_writing_fixes_it(tmp_path: Path) -> None:
    stale = tmp_path / "canary.yaml"
    stale.write_text(CANARY_TEMPLATE.read_text().replace("TIMEOUT_S = 10.0", "TIMEOUT_S = 99.0"), encoding="utf-8")

    assert render_main(["--check", str(stale)]) == 1
    assert render_main(["--write", str(stale)]) == 0
    assert stale.read_text() == CANARY_TEMPLATE.read_text() == render(CANARY_TEMPLATE.read_text())
