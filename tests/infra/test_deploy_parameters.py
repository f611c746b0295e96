"""Per-account parameters are merged into samconfig's, never replace them."""

from __future__ import annotations

import pytest

from tools.deploy.deploy_parameters import overrides

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
