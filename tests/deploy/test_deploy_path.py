"""The deploy path's own IAM: every AWS call of `make package` and `make deploy-artifact` is allowed to the deploy role.

`make package` and `make deploy-artifact` run for real (the SAM CLI, offline) against the
recording stand-in (tools/deploy/recording_endpoint.py): the calls they make, headers included,
are turned into IAM requests (tests/deploy/aws_calls.py) and each is evaluated against that
environment's deploy role, the artifacts bucket's policy and the artifacts key's policy, as the
bootstrap deploys them (tests/deploy/bootstrap_model.py). Nothing here depends on how the
application template is laid out: whatever `sam package` uploads (nested templates included)
is recorded and judged the same way.

The classes of deploy-time failure this catches: an upload the bucket policy refuses (the SAM
CLI's default AES256 header), a read the deploy role lacks (GetObjectTagging for signing), an
unsigned artifact reaching an environment that enforces code signing. Each gate is also shown
to fail: on the bootstrap as it was before sealing, on an upload without the key's header, on a
packaged template whose code is not the signed copy.

Slow: two SAM CLI runs per environment (about 40 s each on this machine).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.deploy.aws_calls import IamRequest, RecordedCall, iam_requests, read_recording
from tests.deploy.bootstrap_model import APP, FIXTURE_BEFORE_SEALING, Account, bootstrap_accounts
from tests.infra.iam_evaluation import Decision

pytestmark = [pytest.mark.infra, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_TOOLS_PYTHON = PROJECT_ROOT / ".tools" / "deploy" / "bin" / "python"
LAMBDA_ARTIFACTS = [
    PROJECT_ROOT / "build" / "lambda" / "mvdb.zip",
    PROJECT_ROOT / "build" / "lambda" / "pre-traffic-hook.zip",
]
REGION = "eu-west-1"
MAKE_TIMEOUT_S = 600


@dataclass(frozen=True)
class DeployRun:
    env: str
    account: Account
    calls: list[RecordedCall]
    packaged: dict[str, Any]
    packaged_path: Path
    artifacts_key: str

    def requests(self) -> list[IamRequest]:
        templates = {c.form["TemplateURL"]: self.packaged for c in self.calls if "TemplateURL" in c.form}
        return [
            request
            for call in self.calls
            for request in iam_requests(
                call, account=self.account.number, artifacts_key=self.artifacts_key, templates=templates
            )
        ]


def _outputs(account: Account, stack_name: str) -> dict[str, str]:
    return next(stack.outputs() for stack in account.stacks if stack.name == stack_name)


def _aws_env(endpoint: str) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALARM_", "CORS_", "TRUSTED_", "SIGNING_"))
    }
    return {
        **keep,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "ASIAPIPELINEEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "offline",
        "AWS_SESSION_TOKEN": "offline",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
    }


def _make(target: str, variables: dict[str, str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=MAKE_TIMEOUT_S, check=False
    )


@pytest.fixture(scope="module")
def built() -> None:
    if not all(zip_file.exists() for zip_file in LAMBDA_ARTIFACTS):
        result = subprocess.run(
            ["make", "--no-print-directory", "build"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def record_deploy(env: str, tmp: Path) -> DeployRun:
    """`make package` then `make deploy-artifact` for ``env``, against a fresh recording stand-in."""
    assert DEPLOY_TOOLS_PYTHON.exists(), "run `make .tools/deploy/.installed` (the recording stand-in's environment)"
    account = bootstrap_accounts("shared")[env]
    exports = account.exports()
    bucket = exports[f"{APP}-pipeline-account-ArtifactsBucketName"]
    environment = _outputs(account, f"{APP}-pipeline-{env}")
    record = tmp / f"calls-{env}.jsonl"
    stand_in = subprocess.Popen(
        [
            str(DEPLOY_TOOLS_PYTHON),
            "-m",
            "tools.deploy.recording_endpoint",
            "--record",
            str(record),
            "--bucket",
            bucket,
            "--region",
            REGION,
        ],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert stand_in.stdout is not None
        endpoint = stand_in.stdout.readline().strip()
        assert endpoint.startswith("http://"), "the recording stand-in did not start"
        packaged = tmp / env / "packaged.yaml"
        common = {
            "ENV": env,
            "ARTIFACTS_BUCKET": bucket,
            "ARTIFACTS_KEY_ARN": exports[f"{APP}-pipeline-account-ArtifactsKeyArn"],
            "PACKAGED_TEMPLATE": str(packaged),
        }
        aws = _aws_env(endpoint)
        package = _make("package", {**common, "SIGNING_PROFILE_NAME": environment["SigningProfileName"]}, aws)
        assert package.returncode == 0, package.stdout[-4000:] + package.stderr[-4000:]
        deploy_env = {
            **aws,
            "TRUSTED_SIGNING_PROFILE_VERSION_ARN": environment["SigningProfileVersionArn"],
            "PERMISSIONS_BOUNDARY_ARN": environment["PermissionsBoundaryArn"],
        }
        deploy = _make(
            "deploy-artifact",
            {**common, "CFN_EXECUTION_ROLE_ARN": environment["CloudFormationExecutionRoleArn"]},
            deploy_env,
        )
        assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:]
    finally:
        stand_in.communicate(timeout=30)  # closing stdin stops it
    return DeployRun(
        env,
        account,
        read_recording(record),
        yaml_parse(packaged.read_text(encoding="utf-8")),
        packaged,
        common["ARTIFACTS_KEY_ARN"],
    )


@pytest.fixture(scope="module", params=["dev", "prod"])
def deploy_run(
    request: pytest.FixtureRequest, built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployRun]:
    yield record_deploy(request.param, tmp_path_factory.mktemp(f"deploy-path-{request.param}"))


def refused(run: DeployRun, account: Account, role_name: str) -> list[str]:
    role = account.role(role_name)
    return [
        f"{r.call}: {r.action} on {r.resource} ({decision.value})"
        for r in run.requests()
        if (decision := account.evaluate(role, r.action, r.resource, r.context)) is not Decision.ALLOW
    ]


# --- what the deploy path does ------------------------------------------------------------------


def test_make_package_and_deploy_artifact_run_offline_against_the_stand_in(deploy_run: DeployRun) -> None:
    operations = {(c.service, c.method, (c.form or {}).get("Action")) for c in deploy_run.calls}
    assert ("s3", "PUT", None) in operations
    assert ("cloudformation", "POST", "ExecuteChangeSet") in operations
    assert deploy_run.packaged_path.exists()


@pytest.mark.parametrize("ci", ["github", "bitbucket"])
def test_every_call_of_the_deploy_path_is_allowed_to_the_environments_deploy_role(
    deploy_run: DeployRun, ci: str
) -> None:
    assert refused(deploy_run, deploy_run.account, f"{APP}-{ci}-deploy-{deploy_run.env}") == []


def test_uploads_name_the_artifacts_key(deploy_run: DeployRun) -> None:
    uploads = [c for c in deploy_run.calls if c.service == "s3" and c.method == "PUT" and not c.on_behalf_of]
    assert uploads, "nothing was uploaded"
    for upload in uploads:
        assert upload.headers.get("x-amz-server-side-encryption") == "aws:kms", upload.path
        assert upload.headers.get("x-amz-server-side-encryption-aws-kms-key-id") == deploy_run.artifacts_key


def test_uploads_stay_in_the_environments_own_prefix(deploy_run: DeployRun) -> None:
    keys = {c.path.split("/", 2)[2] for c in deploy_run.calls if c.service == "s3"}
    assert keys and all(k.startswith(f"{APP}/{deploy_run.env}/") for k in keys), keys


def unsigned_functions(packaged: dict[str, Any]) -> list[str]:
    """Functions of a packaged template whose code is not the copy AWS Signer wrote (signed_<job id>.zip)."""
    unsigned = []
    for logical_id, resource in packaged.get("Resources", {}).items():
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        properties = resource.get("Properties", {})
        code = properties.get("CodeUri") or properties.get("Code", {})
        key = code if isinstance(code, str) else code.get("S3Key", "")
        if not str(key).rsplit("/", 1)[-1].startswith("signed_"):
            unsigned.append(logical_id)
    return unsigned


def test_every_function_deploys_its_signed_copy(deploy_run: DeployRun) -> None:
    assert unsigned_functions(deploy_run.packaged) == []


# --- the gates bite -----------------------------------------------------------------------------


def test_the_signing_check_catches_an_unsigned_function(deploy_run: DeployRun) -> None:
    text = deploy_run.packaged_path.read_text(encoding="utf-8").replace("signed_", "", 1)
    assert len(unsigned_functions(yaml_parse(text))) == 1


def test_an_upload_with_the_sam_clis_default_encryption_is_refused(deploy_run: DeployRun) -> None:
    # Without --kms-key-id the SAM CLI sends x-amz-server-side-encryption: AES256.
    upload = next(c for c in deploy_run.calls if c.service == "s3" and c.method == "PUT" and not c.on_behalf_of)
    default_headers = {k: v for k, v in upload.headers.items() if not k.startswith("x-amz-server-side-encryption")}
    aes256 = replace(upload, headers={**default_headers, "x-amz-server-side-encryption": "AES256"})
    account = deploy_run.account
    role = account.role(f"{APP}-github-deploy-{deploy_run.env}")
    requests = iam_requests(aes256, account=account.number, artifacts_key=deploy_run.artifacts_key)
    put = next(r for r in requests if r.action == "s3:PutObject")
    assert account.evaluate(role, put.action, put.resource, put.context) is Decision.EXPLICIT_DENY


def test_the_bootstrap_before_sealing_refuses_signed_packaging(deploy_run: DeployRun) -> None:
    # Its deploy policy had no s3:GetObjectTagging, which `sam package --signing-profiles` needs
    # to read the uploaded object's version: signed packaging, hence prod, could not deploy.
    old = bootstrap_accounts("shared", source=FIXTURE_BEFORE_SEALING)[deploy_run.env]
    old_bucket, old_key = (
        next(a for a in old.resource_policies if a.startswith(prefix) and "accesslogs" not in a)
        for prefix in ("arn:aws:s3:::", "arn:aws:kms:")
    )
    new_bucket = deploy_run.account.exports()[f"{APP}-pipeline-account-ArtifactsBucketName"]
    calls = [
        replace(c, path=c.path.replace(new_bucket, old_bucket.removeprefix("arn:aws:s3:::"))) for c in deploy_run.calls
    ]
    before = DeployRun(deploy_run.env, old, calls, deploy_run.packaged, deploy_run.packaged_path, old_key)
    problems = refused(before, old, f"{APP}-github-deploy-{deploy_run.env}")
    assert any("s3:GetObjectTagging" in p for p in problems), problems
