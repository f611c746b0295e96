"""Any change to the API function's code or configuration publishes a new version; nothing else does.

The version CloudFormation publishes is named by SAM (``MoviesFunctionVersion<hash>``): a new
logical ID is a new version, which CodeDeploy then shifts the live alias to. The deploy computes
``FunctionConfigurationSha256`` (``tools.deploy.function_version``, through
``tools.deploy.deploy_parameters --template``) and SAM names the version after it. These tests run
that computation and the SAM translation for two deploys that differ in one respect, and compare
the version's logical ID.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tools.build.sam_translate import load_sam_template, translate
from tools.deploy.function_version import configuration_hashes

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HASH_PARAMETER = "FunctionConfigurationSha256"
# A value each parameter of the function's configuration can take besides its default.
OTHER_VALUES = {
    "Environment": "staging",
    "LogLevel": "DEBUG",
    "DebugLogSampleRate": "0.1",
    "CorsAllowOrigins": "https://app.example.com",
    "TracingLayerArn": "arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-python-arm64-ver-1-32-0:1",
    "SnapStartInDev": "true",
    "ReadOnly": "true",
    # Read through the nested stacks the function takes outputs from (its table, role, log group):
    # a cut-over to a restored table must reach the live alias.
    "ActiveTableName": "mvdb-dev-restored-202611300359",
    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/mvdb-pipeline-boundary-dev",
    "LogRetentionDays": "30",
    "AlarmEmail": "ops@example.com",
    # Passed to the identity stack, whose token URL the function names (TOKEN_URL).
    "AuthDomainPrefix": "movies-example",
    "SyntheticCanary": "Enabled",
    # Passed to the audit stack, whose bucket the function names (AUDIT_BUCKET_NAME).
    "RunbookBaseUrl": "https://example.com/mvdb",
    "AuditRetentionDays": "7",
}


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    """A copy of infra/ with stand-ins for the zips `make build` writes (the hash reads their bytes)."""
    shutil.copytree(PROJECT_ROOT / "infra", tmp_path / "infra")
    (tmp_path / "build" / "lambda").mkdir(parents=True)
    (tmp_path / "build" / "lambda" / "mvdb.zip").write_bytes(b"PK first build")
    (tmp_path / "build" / "lambda" / "pre-traffic-hook.zip").write_bytes(b"PK hook")
    return tmp_path / "infra"


def _version_of(root: Path, overrides: dict[str, str]) -> str:
    """The logical ID of the API function's version in a deploy with these parameter overrides."""
    hashes = configuration_hashes(root / "template.yaml", overrides)
    values = {HASH_PARAMETER: "0" * 64, **overrides, **hashes}  # the stand-in serves a template without the hash
    translated = translate(load_sam_template(root / "template.yaml"), parameter_values=values)
    versions = [name for name, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Version"]
    (version,) = versions
    return version


def _function_parameters(root: Path) -> set[str]:
    from tools.deploy.function_version import NOT_CONFIGURATION, referenced_parameters

    template: dict[str, Any] = load_sam_template(root / "template.yaml")
    function = template["Resources"]["MoviesFunction"]["Properties"]
    configuration = {k: v for k, v in function.items() if k not in NOT_CONFIGURATION}
    return referenced_parameters([configuration, template["Globals"]["Function"]], template)


def test_a_deploy_that_changes_only_the_log_level_publishes_a_new_version(infra: Path) -> None:
    assert _version_of(infra, {"LogLevel": "INFO"}) != _version_of(infra, {"LogLevel": "DEBUG"})


@pytest.mark.parametrize("parameter", sorted(OTHER_VALUES))
def test_every_parameter_of_the_function_configuration_publishes_a_new_version(infra: Path, parameter: str) -> None:
    assert _version_of(infra, {}) != _version_of(infra, {parameter: OTHER_VALUES[parameter]})


def test_the_function_configuration_reads_exactly_the_parameters_this_test_varies(infra: Path) -> None:
    # A parameter added to the configuration must be added to OTHER_VALUES, or it goes untested.
    assert _function_parameters(infra) == set(OTHER_VALUES)


def test_a_new_artifact_publishes_a_new_version(infra: Path) -> None:
    before = _version_of(infra, {})
    (infra.parent / "build" / "lambda" / "mvdb.zip").write_bytes(b"PK second build")

    assert _version_of(infra, {}) != before


def test_a_template_edit_to_the_function_publishes_a_new_version(infra: Path) -> None:
    before = _version_of(infra, {})
    template = infra / "template.yaml"
    template.write_text(template.read_text().replace("    Timeout: 15\n", "    Timeout: 20\n"), encoding="utf-8")

    assert _version_of(infra, {}) != before


def test_a_deploy_that_changes_nothing_of_the_function_keeps_its_version(infra: Path) -> None:
    # Neither a repeated deploy nor a change elsewhere (the WAF's limit, the function's reservation) moves
    # traffic to a new version.
    unchanged = {_version_of(infra, {}), _version_of(infra, {"WafRateLimitPerIp": "5000"})}
    assert unchanged == {_version_of(infra, {}), _version_of(infra, {"ReservedConcurrency": "30"})}
    assert len(unchanged) == 1


def test_without_the_hash_a_parameter_change_publishes_nothing(infra: Path) -> None:
    # The broken fixture: SAM's own naming misses a parameter's new value.
    template = infra / "template.yaml"
    text = template.read_text()
    text = text.replace("      AutoPublishCodeSha256: !Ref FunctionConfigurationSha256\n", "")
    template.write_text(text, encoding="utf-8")

    assert _version_of(infra, {"LogLevel": "INFO"}) == _version_of(infra, {"LogLevel": "DEBUG"})


def test_make_deploy_and_deploy_artifact_pass_the_hash_of_the_template_they_deploy() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "deploy_parameters $(ENV) --template $(TEMPLATE)" in makefile  # make deploy
    assert "deploy_parameters $(ENV) --template $(PACKAGED_TEMPLATE)" in makefile  # make deploy-artifact


def test_the_version_records_the_configuration_it_was_published_with(template: Any) -> None:
    # make verify-deploy compares this description with the hash of the deployed parameters.
    _, version = template.only("AWS::Lambda::Version")
    assert version["Properties"]["Description"] == {"Fn::Sub": f"configuration ${{{HASH_PARAMETER}}}"}
