"""The deploy path's own IAM: every AWS call of `make package` and `make deploy-artifact` is allowed to the deploy role.

`make package` and `make deploy-artifact` run for real (the SAM CLI, offline) against the
recording stand-in (tools/deploy/recording_endpoint.py): the calls they make, headers included,
are turned into IAM requests (tests/deploy/aws_calls.py) and each is evaluated against that
environment's deploy role, the artifacts bucket's policy and the artifacts key's policy, as the
bootstrap deploys them (tests/deploy/bootstrap_model.py). Whatever `sam package` uploads (the
zips, the signed copies, the nested applications' templates) is recorded and judged the same way.
What CloudFormation then does for the nested stacks of the packaged root (create each one, as
the same service role, from its uploaded template) is judged against the execution role.

The classes of deploy-time failure this catches: an upload the bucket policy refuses (the SAM
CLI's default AES256 header), a read the deploy role lacks (GetObjectTagging for signing), an
unsigned artifact reaching an environment that enforces code signing. Each gate is also shown
to fail: on the bootstrap as it was before sealing, on an upload without the key's header, on a
packaged template whose code is not the signed copy.

Slow: two SAM CLI runs per environment (about 25 s each on a quiet machine), made once per test
run and shared by every test and every xdist worker (tests/shared_output.py).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.deploy.aws_calls import (
    IamRequest,
    RecordedCall,
    iam_requests,
    nested_stack_requests,
    operation_of,
    read_recording,
    s3_object,
)
from tests.deploy.bootstrap_model import APP, FIXTURE_BEFORE_SEALING, Account, Role, bootstrap_accounts
from tests.infra.iam_evaluation import Decision
from tests.shared_output import produced_once

pytestmark = [pytest.mark.infra, pytest.mark.slow, pytest.mark.xdist_group("deploy-path")]

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

    @property
    def change_set(self) -> dict[str, str]:
        return next(c.form for c in self.calls if c.form.get("Action") == "CreateChangeSet")

    def nested_stack_requests(self) -> list[IamRequest]:
        """What the change set's service role is asked while CloudFormation creates the nested stacks."""
        return nested_stack_requests(
            self.packaged,
            stack_name=self.change_set["StackName"],
            role_arn=self.change_set["RoleARN"],
            region=REGION,
            account=self.account.number,
            artifacts_key=self.artifacts_key,
        )


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


def build_if_missing(_: Path) -> None:
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


def record_deploy(env: str, tmp: Path) -> None:
    """`make package` then `make deploy-artifact` for ``env``, against a fresh recording stand-in.

    Writes the recorded calls to ``tmp/calls-<env>.jsonl`` and the packaged template to
    ``tmp/<env>/packaged.yaml`` (``load_deploy_run`` reads them back).
    """
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
            "SIGNING_PROFILE_NAME": environment["SigningProfileName"],
        }
        deploy = _make(
            "deploy-artifact",
            {**common, "CFN_EXECUTION_ROLE_ARN": environment["CloudFormationExecutionRoleArn"]},
            deploy_env,
        )
        assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:]
    finally:
        stand_in.communicate(timeout=30)  # closing stdin stops it


def load_deploy_run(env: str, tmp: Path) -> DeployRun:
    account = bootstrap_accounts("shared")[env]
    packaged = tmp / env / "packaged.yaml"
    return DeployRun(
        env,
        account,
        read_recording(tmp / f"calls-{env}.jsonl"),
        yaml_parse(packaged.read_text(encoding="utf-8")),
        packaged,
        account.exports()[f"{APP}-pipeline-account-ArtifactsKeyArn"],
    )


@pytest.fixture(scope="module", params=["dev", "prod"])
def deploy_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DeployRun:
    env = request.param
    produced_once(tmp_path_factory, "lambda-build", build_if_missing)
    return load_deploy_run(env, produced_once(tmp_path_factory, f"deploy-path-{env}", lambda d: record_deploy(env, d)))


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


def uploads(run: DeployRun) -> list[RecordedCall]:
    """The deploy path's own requests that create an object: a PutObject, or the start of a multipart upload.

    (The zip of the API function is large enough for the SAM CLI to upload it in parts; S3 takes
    the encryption headers on the request that starts the upload, not on each part.)
    """
    return [
        c
        for c in run.calls
        if c.service == "s3" and not c.on_behalf_of and operation_of(c)[0] in ("PutObject", "CreateMultipartUpload")
    ]


def test_uploads_name_the_artifacts_key(deploy_run: DeployRun) -> None:
    uploads_ = uploads(deploy_run)
    assert uploads_, "nothing was uploaded"
    for upload in uploads_:
        assert upload.headers.get("x-amz-server-side-encryption") == "aws:kms", upload.path
        assert upload.headers.get("x-amz-server-side-encryption-aws-kms-key-id") == deploy_run.artifacts_key


def test_uploads_stay_in_the_environments_own_prefix(deploy_run: DeployRun) -> None:
    keys = {c.path.split("/", 2)[2] for c in deploy_run.calls if c.service == "s3"}
    assert keys and all(k.startswith(f"{APP}/{deploy_run.env}/") for k in keys), keys


def test_the_change_set_acknowledges_the_transform_and_the_nested_applications(deploy_run: DeployRun) -> None:
    capabilities = {v for k, v in deploy_run.change_set.items() if k.startswith("Capabilities.member.")}
    assert capabilities == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}


def nested_locations(packaged: dict[str, Any]) -> dict[str, str]:
    """Logical ID -> location of every nested application of a packaged template."""
    return {
        logical_id: resource["Properties"]["Location"]
        for logical_id, resource in packaged["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Application"
    }


def test_every_nested_template_is_uploaded_into_the_environments_prefix(deploy_run: DeployRun) -> None:
    uploaded = {tuple(c.path.split("/", 2)[1:]) for c in uploads(deploy_run)}
    locations = nested_locations(deploy_run.packaged)
    assert len(locations) == len(list((PROJECT_ROOT / "infra" / "stacks").glob("*.yaml")))
    for logical_id, url in locations.items():
        bucket, key, _ = s3_object(url)  # an S3 URL: `sam deploy` takes it as it is
        assert (bucket, key) in uploaded, logical_id
        assert key.startswith(f"{APP}/{deploy_run.env}/") and key.endswith(".template"), (logical_id, key)


def refused_nested(run: DeployRun, role: Role) -> list[str]:
    return [
        f"{r.call}: {r.action} on {r.resource} ({decision.value})"
        for r in run.nested_stack_requests()
        if (decision := run.account.evaluate(role, r.action, r.resource, r.context)) is not Decision.ALLOW
    ]


def test_the_execution_role_creates_each_nested_stack_from_its_uploaded_template(deploy_run: DeployRun) -> None:
    # CloudFormation builds the nested stacks with the change set's service role, reading each
    # nested template from the artifacts bucket with it (hence s3:GetObject and kms:Decrypt).
    role = deploy_run.account.role(f"{APP}-cfn-exec-{deploy_run.env}")
    assert deploy_run.change_set["RoleARN"] == role.arn
    reads = [r for r in deploy_run.nested_stack_requests() if r.action == "s3:GetObject"]
    assert len(reads) == len(nested_locations(deploy_run.packaged))
    assert refused_nested(deploy_run, role) == []


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
    upload = next(c for c in uploads(deploy_run) if operation_of(c)[0] == "PutObject")
    default_headers = {k: v for k, v in upload.headers.items() if not k.startswith("x-amz-server-side-encryption")}
    aes256 = replace(upload, headers={**default_headers, "x-amz-server-side-encryption": "AES256"})
    account = deploy_run.account
    role = account.role(f"{APP}-github-deploy-{deploy_run.env}")
    requests = iam_requests(aes256, account=account.number, artifacts_key=deploy_run.artifacts_key)
    put = next(r for r in requests if r.action == "s3:PutObject")
    assert account.evaluate(role, put.action, put.resource, put.context) is Decision.EXPLICIT_DENY


def test_an_execution_role_without_the_artifacts_read_cannot_build_the_nested_stacks(deploy_run: DeployRun) -> None:
    role = deploy_run.account.role(f"{APP}-cfn-exec-{deploy_run.env}")
    policies = [
        {**document, "Statement": [s for s in document["Statement"] if s.get("Sid") != "ReadThisEnvironmentsArtifacts"]}
        for document in role.policies
    ]
    problems = refused_nested(deploy_run, replace(role, policies=policies))
    nested = nested_locations(deploy_run.packaged)
    assert [p for p in problems if "s3:GetObject" in p and p.endswith(".template (implicit deny)")], problems
    assert len([p for p in problems if "s3:GetObject" in p]) == len(nested), problems


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
