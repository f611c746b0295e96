"""Per-account parameters are merged into samconfig's, never replace them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.deploy.deploy_parameters import overrides, with_function_versions

pytestmark = pytest.mark.infra


PROD_PROFILE = "SigningProfile_pr0d"
PROD_PROFILE_VERSION = f"arn:aws:signer:eu-west-1:333333333333:/signing-profiles/{PROD_PROFILE}/AbCdE12345"
DEV_PROFILE_VERSION = "arn:aws:signer:eu-west-1:111111111111:/signing-profiles/SigningProfile_d3v/FgHiJ67890"
BOUNDARY = "arn:aws:iam::333333333333:policy/mvdb-pipeline-boundary-prod"
PROD = {"TRUSTED_SIGNING_PROFILE_VERSION_ARN": PROD_PROFILE_VERSION, "SIGNING_PROFILE_NAME": PROD_PROFILE}


def test_samconfig_parameters_are_kept_when_account_values_are_added() -> None:
    merged = overrides("prod", {"ALARM_EMAIL": "ops@example.com", **PROD})
    assert merged.startswith('Environment="prod" ')
    assert 'ReservedConcurrency="100"' in merged
    assert merged.endswith(f'AlarmEmail="ops@example.com" TrustedSigningProfileVersionArn="{PROD_PROFILE_VERSION}"')


@pytest.mark.parametrize("missing", ["TRUSTED_SIGNING_PROFILE_VERSION_ARN", "SIGNING_PROFILE_NAME"])
def test_prod_is_refused_without_its_signing_values(missing: str) -> None:
    with pytest.raises(SystemExit, match=f"error: .*{missing}"):
        overrides("prod", {k: v for k, v in PROD.items() if k != missing})


def test_prod_is_refused_when_it_would_trust_another_profile_than_it_signs_with() -> None:
    # The old instructions: prod trusting the dev stack's profile version.
    with pytest.raises(SystemExit, match="trusts the profile SigningProfile_d3v but the zips are signed with"):
        overrides("prod", {**PROD, "TRUSTED_SIGNING_PROFILE_VERSION_ARN": DEV_PROFILE_VERSION})


def test_a_deploy_through_the_execution_role_is_refused_without_the_boundary() -> None:
    with pytest.raises(SystemExit, match="error: PERMISSIONS_BOUNDARY_ARN is required"):
        overrides("dev", {}, through_execution_role=True)
    assert 'PermissionsBoundaryArn="' in overrides(
        "prod", {**PROD, "PERMISSIONS_BOUNDARY_ARN": BOUNDARY}, through_execution_role=True
    )


def test_a_personal_dev_deploy_needs_neither_boundary_nor_signing_values() -> None:
    assert overrides("dev", {}).startswith('Environment="dev" ')


def test_unset_or_blank_account_values_are_left_to_the_template_defaults() -> None:
    assert "AlarmEmail" not in overrides("dev", {"ALARM_EMAIL": "  "})


def test_a_value_that_would_break_the_quoting_is_refused() -> None:
    with pytest.raises(SystemExit):
        overrides("dev", {"CORS_ALLOW_ORIGINS": 'https://a" Environment="prod'})


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(SystemExit):
        overrides("qa", {})


def test_with_the_template_the_overrides_carry_the_function_configuration_hash(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Parameters:\n"
        "  LogLevel: {Type: String, Default: INFO}\n"
        "  Sha: {Type: String}\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: s3://bucket/key\n"
        "      AutoPublishCodeSha256: !Ref Sha\n"
        "      Environment: {Variables: {LEVEL: !Ref LogLevel}}\n"
    )
    quiet = with_function_versions('LogLevel="INFO"', template)
    loud = with_function_versions('LogLevel="DEBUG"', template)

    assert quiet.startswith('LogLevel="INFO" Sha="') and len(quiet.split('Sha="')[1]) == 65
    assert quiet.split("Sha=")[1] != loud.split("Sha=")[1]
