"""Settings come from the environment, once, and a missing or bad one stops the start clearly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Logger

from mvdb.config import ConfigurationError, Settings

BASE = {"TABLE_NAME": "mvdb-movies"}
SRC = Path(__file__).resolve().parents[2] / "src"


def test_table_name_is_read_from_the_environment() -> None:
    assert Settings.from_env(BASE).table_name == "mvdb-movies"


@pytest.mark.parametrize("env", [{}, {"TABLE_NAME": ""}, {"TABLE_NAME": "   "}])
def test_missing_table_name_is_a_clear_configuration_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="TABLE_NAME is not set"):
        Settings.from_env(env)


def test_region_is_optional() -> None:
    assert Settings.from_env(BASE).region is None


def test_region_comes_from_region_first_then_aws_region() -> None:
    assert Settings.from_env({**BASE, "REGION": "eu-west-1", "AWS_REGION": "us-east-1"}).region == "eu-west-1"
    assert Settings.from_env({**BASE, "AWS_REGION": "us-east-1"}).region == "us-east-1"


def test_dynamodb_endpoint_comes_from_aws_endpoint_url_dynamodb() -> None:
    env = {**BASE, "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8001"}
    assert Settings.from_env(env).dynamodb_endpoint == "http://127.0.0.1:8001"


def test_auth_is_required_by_default() -> None:
    assert Settings.from_env(BASE).require_auth is True


@pytest.mark.parametrize("value", ["false", "FALSE", "0", "no", "off", " False "])
def test_require_auth_can_be_turned_off(value: str) -> None:
    assert Settings.from_env({**BASE, "REQUIRE_AUTH": value}).require_auth is False


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "TRUE", ""])
def test_require_auth_true_values_and_empty_mean_on(value: str) -> None:
    assert Settings.from_env({**BASE, "REQUIRE_AUTH": value}).require_auth is True


@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "disable"])
def test_unrecognised_require_auth_is_a_configuration_error(value: str) -> None:
    # A typo must not silently turn the scope checks off (or on).
    with pytest.raises(ConfigurationError, match="REQUIRE_AUTH"):
        Settings.from_env({**BASE, "REQUIRE_AUTH": value})


def test_max_body_bytes_defaults_to_64_kib() -> None:
    assert Settings.from_env(BASE).max_body_bytes == 64 * 1024


def test_max_body_bytes_is_read_from_the_environment() -> None:
    assert Settings.from_env({**BASE, "MAX_BODY_BYTES": "1024"}).max_body_bytes == 1024


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1.5"])
def test_max_body_bytes_must_be_a_positive_integer(value: str) -> None:
    with pytest.raises(ConfigurationError, match="MAX_BODY_BYTES"):
        Settings.from_env({**BASE, "MAX_BODY_BYTES": value})


@pytest.mark.parametrize(
    ("env", "level"),
    [({}, "INFO"), ({"LOG_LEVEL": "debug"}, "DEBUG"), ({"POWERTOOLS_LOG_LEVEL": "WARNING"}, "WARNING")],
)
def test_log_level_comes_from_log_level_or_powertools_log_level(env: dict[str, str], level: str) -> None:
    assert Settings.from_env({**BASE, **env}).log_level == level


def test_log_level_is_the_one_powertools_logger_starts_at_when_both_variables_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With a debug sample rate, every request starts again from the level the Logger was made with
    # (Logger.refresh_sample_rate_calculation): settings naming another held for the first request only.
    env = {"LOG_LEVEL": "DEBUG", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)  # Lambda's own log level would outrank both
    started_at = logging.getLevelName(Logger(service="mvdb-test-log-level").log_level)
    assert Settings.from_env({**BASE, **env}).log_level == started_at == "WARNING"


def test_unknown_log_level_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="LOG_LEVEL"):
        Settings.from_env({**BASE, "LOG_LEVEL": "VERBOSE"})


def test_dynamodb_timeouts_are_short_and_retries_bounded() -> None:
    # A hung table must not hold a request past API Gateway's 29 s: attempts x (connect + read).
    settings = Settings.from_env(BASE)
    worst_case_s = settings.dynamodb_max_attempts * (
        settings.dynamodb_connect_timeout_s + settings.dynamodb_read_timeout_s
    )
    assert worst_case_s < 29


@pytest.mark.slow  # a fresh interpreter: the handler module reads its settings at import
def test_lambda_entry_point_refuses_to_start_without_table_name() -> None:
    # GIVEN the Lambda environment without TABLE_NAME, WHEN the handler module is imported
    # (what a cold start does), THEN it fails at once and says which setting is missing.
    env = {name: value for name, value in os.environ.items() if name != "TABLE_NAME"}
    result = subprocess.run(
        [sys.executable, "-c", "import mvdb.app"],
        env={**env, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ConfigurationError: TABLE_NAME is not set" in result.stderr


def test_writes_are_on_unless_read_only_is_switched_on() -> None:
    assert Settings.from_env(BASE).read_only is False
    assert Settings.from_env({**BASE, "READ_ONLY": "true"}).read_only is True


def test_read_only_retry_after_defaults_to_a_minute_and_can_be_set() -> None:
    assert Settings.from_env(BASE).read_only_retry_after_s == 60
    assert Settings.from_env({**BASE, "READ_ONLY_RETRY_AFTER": "300"}).read_only_retry_after_s == 300


@pytest.mark.parametrize("env", [{"READ_ONLY": "maybe"}, {"READ_ONLY_RETRY_AFTER": "0"}])
def test_a_bad_read_only_setting_stops_the_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_env({**BASE, **env})
