"""Per-account parameters are merged into samconfig's, never replace them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.deploy.deploy_parameters import overrides, with_function_versions

pytestmark = pytest.mark.infra


def test_samconfig_parameters_are_kept_when_account_values_are_added() -> None:
    merged = overrides("prod", {"ALARM_EMAIL": "ops@example.com", "TRUSTED_SIGNING_PROFILE_VERSION_ARN": "arn:x"})
    assert merged.startswith('Environment="prod" ')
    assert 'ReservedConcurrency="100"' in merged
    assert merged.endswith('AlarmEmail="ops@example.com" TrustedSigningProfileVersionArn="arn:x"')


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
