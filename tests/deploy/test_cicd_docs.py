"""Every shell command of docs/cicd.md works: checked against the Makefile, the AWS CLI, templates and size limits.

No AWS endpoint is reachable here, so each command is parsed and checked, not run:

* ``make <target>``: the target exists in the Makefile;
* ``aws <service> <operation>``: the operation exists in botocore's model of the service (the
  one the AWS CLI is built on) and every option is one of its input members or a global option;
  ``aws cloudformation deploy`` is a CLI customisation, checked against its options as the AWS
  CLI reference lists them, and: the template exists, every ``--parameter-overrides`` key is
  one of its parameters, and its size fits how it is sent. CloudFormation takes at most 51,200
  bytes of template in the request and 460,800 bytes from S3 (AWS CloudFormation quotas); with
  ``--s3-bucket`` the CLI uploads it, and the artifacts bucket refuses any upload that does not
  name its key (``--kms-key-id``);
* ``gh api .../actions/oidc/customization/sub``: the claim keys it sets produce exactly the
  ``sub`` the GitHub deploy roles match.

A command of another program fails the test until it is taught here.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.bootstrap_model import BOOTSTRAP_DIR, FIXTURE_BEFORE_SEALING, SHARED_ACCOUNT, Stack, load

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CICD = PROJECT_ROOT / "docs" / "cicd.md"
TEMPLATE_BODY_LIMIT = 51_200  # bytes in the request (AWS CloudFormation quotas)
TEMPLATE_S3_LIMIT = 460_800  # bytes of a template read from S3 (AWS CloudFormation quotas)
GLOBAL_OPTIONS = {
    "--region",
    "--query",
    "--output",
    "--profile",
    "--endpoint-url",
    "--no-cli-pager",
    "--debug",
    "--no-paginate",
    "--color",
}
# `aws cloudformation deploy` (AWS CLI reference, cloudformation deploy: synopsis).
CLOUDFORMATION_DEPLOY_OPTIONS = {
    "--template-file",
    "--stack-name",
    "--s3-bucket",
    "--force-upload",
    "--s3-prefix",
    "--kms-key-id",
    "--parameter-overrides",
    "--capabilities",
    "--no-execute-changeset",
    "--disable-rollback",
    "--no-disable-rollback",
    "--role-arn",
    "--notification-arns",
    "--fail-on-empty-changeset",
    "--no-fail-on-empty-changeset",
    "--tags",
}
CLI_SERVICE = {"deploy": "codedeploy"}  # the AWS CLI's name -> botocore's, where they differ


def shell_commands(markdown: str) -> list[list[str]]:
    """Every command of the ```bash blocks, as argv (assignments dropped, $(...) taken out as commands)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL):
        joined = re.sub(r"\\\n", " ", block)
        for full_line in joined.splitlines():
            line = full_line.split(" <<< ", 1)[0]  # a here-string is input, not words
            for inner in re.findall(r"\$\(([^)]*)\)", line):
                commands.append(shlex.split(inner, comments=True))
            words = shlex.split(re.sub(r"\$\([^)]*\)", "VALUE", line), comments=True)
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                words = words[1:]
            if words:
                commands.append(words)
    return commands


def options_of(words: list[str]) -> dict[str, list[str]]:
    """--option -> its values (several for list options such as --parameter-overrides)."""
    options: dict[str, list[str]] = {}
    current = None
    for word in words:
        if word.startswith("--"):
            current = word
            options[current] = []
        elif current is not None:
            options[current].append(word)
    return options


@cache
def make_targets() -> set[str]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*):", text, flags=re.MULTILINE))


@cache
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _check_make(words: list[str]) -> list[str]:
    targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
    return [f"make {t}: no such target in the Makefile" for t in targets if t not in make_targets()]


def _check_cloudformation_deploy(words: list[str], root: Path) -> list[str]:
    options = options_of(words)
    problems = [
        f"aws cloudformation deploy {o}: no such option"
        for o in options
        if o not in CLOUDFORMATION_DEPLOY_OPTIONS | GLOBAL_OPTIONS
    ]
    template = root / options.get("--template-file", [""])[0]
    if not template.is_file():
        return [*problems, f"aws cloudformation deploy: {template} does not exist"]
    size = template.stat().st_size
    if "--s3-bucket" not in options and size > TEMPLATE_BODY_LIMIT:
        problems.append(
            f"{template.name} is {size:,} bytes, over the {TEMPLATE_BODY_LIMIT:,} a request may carry: "
            "deploy it with --s3-bucket (and --kms-key-id)"
        )
    if "--s3-bucket" in options and "--kms-key-id" not in options:
        problems.append(f"{template.name}: --s3-bucket without --kms-key-id: the artifacts bucket refuses the upload")
    if size > TEMPLATE_S3_LIMIT:
        problems.append(f"{template.name} is {size:,} bytes, over CloudFormation's {TEMPLATE_S3_LIMIT:,}")
    parameters = set(load(template).get("Parameters", {}))
    for override in options.get("--parameter-overrides", []):
        name = override.split("=", 1)[0]
        if name not in parameters:
            problems.append(f"{template.name} has no parameter {name}")
    return problems


def _check_aws(words: list[str], root: Path) -> list[str]:
    service, operation = words[1], words[2]
    if (service, operation) == ("cloudformation", "deploy"):
        return _check_cloudformation_deploy(words, root)
    model = _model(CLI_SERVICE.get(service, service))
    name = "".join(part.capitalize() for part in operation.split("-"))
    if name not in model.operation_names:
        return [f"aws {service} {operation}: no such operation"]
    members = {m.lower() for m in model.operation_model(name).input_shape.members}
    return [
        f"aws {service} {operation} {option}: no such option"
        for option in options_of(words)
        if option not in GLOBAL_OPTIONS
        and option.removeprefix("--").removeprefix("no-").replace("-", "") not in members
    ]


def github_subject(include_claim_keys: list[str], repository: str, environment: str, workflow_ref: str) -> str:
    """The ``sub`` of a deploy job's token under a customisation template (GitHub's OIDC reference)."""
    values = {
        "repo": f"repo:{repository}",
        "context": f"environment:{environment}",
        "job_workflow_ref": f"job_workflow_ref:{workflow_ref}",
    }
    return ":".join(values[key] for key in include_claim_keys)


def _check_gh(words: list[str], markdown: str) -> list[str]:
    path = next(w for w in words if "/actions/oidc/customization/sub" in w)
    repository = path.removeprefix("repos/").split("/actions/")[0]
    body = json.loads(re.search(r"<<< '([^']*)'", markdown).group(1))  # type: ignore[union-attr]
    if body.get("use_default") is not False:
        return ["the sub customisation must set use_default to false"]
    workflow_ref = f"{repository}/.github/workflows/deploy.yml@refs/heads/main"
    environment_stack = Stack(
        load(BOOTSTRAP_DIR / "environment.yaml"),
        name="mvdb-pipeline-prod",
        account=SHARED_ACCOUNT,
        parameters={"Environment": "prod", "GitHubRepository": repository, "GitHubDeployWorkflowRef": workflow_ref},
        imports={
            "mvdb-pipeline-account-ArtifactsBucketArn": "arn:aws:s3:::b",
            "mvdb-pipeline-account-ArtifactsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/k",
        },
    )
    trust = environment_stack.resources("AWS::IAM::Role")["GitHubDeployRole"]["AssumeRolePolicyDocument"]
    expected = trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    actual = github_subject(body["include_claim_keys"], repository, "production", workflow_ref)
    return (
        [] if actual == expected else [f"the customised sub {actual!r} is not what prod's role matches: {expected!r}"]
    )


def command_problems(markdown: str, root: Path = PROJECT_ROOT) -> list[str]:
    problems = []
    for words in shell_commands(markdown):
        program = words[0]
        if program == "make":
            problems += _check_make(words)
        elif program == "aws":
            problems += _check_aws(words, root)
        elif program == "gh":
            problems += _check_gh(words, markdown)
        else:
            problems.append(f"{' '.join(words[:3])}: a command this test cannot check: teach it")
    return problems


def test_docs_cicd_has_the_bootstrap_commands() -> None:
    deployed = {
        options_of(w)["--template-file"][0]
        for w in shell_commands(CICD.read_text(encoding="utf-8"))
        if w[:3] == ["aws", "cloudformation", "deploy"]
    }
    assert deployed == {f"infra/bootstrap/{t.name}" for t in BOOTSTRAP_DIR.glob("*.yaml")}


def test_every_shell_command_of_docs_cicd_checks_out() -> None:
    assert command_problems(CICD.read_text(encoding="utf-8")) == []


# --- the checks bite ----------------------------------------------------------------------------


def test_the_size_check_catches_the_documented_command_that_could_not_work() -> None:
    # The command docs/cicd.md gave for the single-template bootstrap (58 KB) before it was split.
    old = FIXTURE_BEFORE_SEALING.relative_to(PROJECT_ROOT)
    command = f"aws cloudformation deploy --stack-name x --template-file {old} --capabilities CAPABILITY_NAMED_IAM"
    markdown = f"```bash\n{command}\n```\n"
    assert any("over the 51,200" in p for p in command_problems(markdown))


def test_an_upload_without_the_key_is_caught() -> None:
    command = "aws cloudformation deploy --stack-name x --template-file infra/bootstrap/account.yaml --s3-bucket b"
    markdown = f"```bash\n{command}\n```\n"
    assert any("--kms-key-id" in p for p in command_problems(markdown))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("make deploy-everything", "no such target"),
        ("aws cloudformation describe-stacks --stack-name x --stack-nam y", "no such option"),
        ("aws lambda update-aliases --name live", "no such operation"),
        (
            "aws cloudformation deploy --stack-name x --template-file infra/bootstrap/account.yaml "
            "--parameter-overrides Nope=1",
            "no parameter Nope",
        ),
    ],
)
def test_a_wrong_command_is_caught(command: str, expected: str) -> None:
    assert any(expected in p for p in command_problems(f"```bash\n{command}\n```\n"))


def test_a_sub_customisation_without_the_workflow_is_caught() -> None:
    markdown = (
        "```bash\ngh api --method PUT repos/acme/mvdb/actions/oidc/customization/sub \\\n"
        '  --input - <<< \'{"use_default": false, "include_claim_keys": ["repo", "context"]}\'\n```\n'
    )
    assert command_problems(markdown) != []
