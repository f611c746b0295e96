"""``mvdb load``: what it refuses before it touches any table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvdb.cli import is_local_endpoint, main


@pytest.fixture
def no_table_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TABLE_NAME", "AWS_ENDPOINT_URL_DYNAMODB", "REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")


def write_records(tmp_path: Path, records: object) -> Path:
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(records))
    return path


@pytest.mark.usefixtures("no_table_env")
def test_load_without_a_table_name_exits_2_and_says_how_to_name_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_records(tmp_path, [{"year": 2013, "title": "Rush"}])
    assert main(["load", "--file", str(path), "--quiet"]) == 2
    assert "--table, --stack or TABLE_NAME" in capsys.readouterr().err


@pytest.mark.usefixtures("no_table_env")
def test_load_of_an_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--file", str(tmp_path / "missing.json"), "--table", "mvdb-t", "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.usefixtures("no_table_env")
def test_load_with_invalid_records_exits_1_lists_each_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The endpoint is unreachable (and sockets are disabled): any write attempt would fail loudly.
    path = write_records(tmp_path, [{"year": 2013, "title": "Rush"}, {"year": 1, "title": "x"}, {"title": ""}])
    argv = [
        "load",
        "--file",
        str(path),
        "--table",
        "mvdb-t",
        "--endpoint",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
    ]
    assert main([*argv, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "invalid record 1: year:" in err
    assert "invalid record 2:" in err
    assert "2 invalid record(s): nothing written (use --skip-invalid to load the rest)" in err


def test_load_requires_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_table_and_stack_cannot_both_be_given(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["load", "--table", "a", "--stack", "b"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_one_is_a_usage_error(workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["load", "--table", "mvdb-t", "--workers", workers])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("http://127.0.0.1:8001", True),
        ("http://localhost:8001", True),
        ("http://[::1]:8001", True),
        ("http://127.1.2.3:8001", True),
        ("https://dynamodb.eu-west-1.amazonaws.com", False),
        ("http://10.0.0.5:8001", False),
        ("http://localhost.example.com:8001", False),
        (None, False),
        ("", False),
    ],
)
def test_only_loopback_endpoints_count_as_local(endpoint: str | None, local: bool) -> None:
    assert is_local_endpoint(endpoint) is local


@pytest.mark.usefixtures("no_table_env")
@pytest.mark.parametrize("endpoint", [[], ["--endpoint", "https://dynamodb.eu-west-1.amazonaws.com"]])
def test_create_table_outside_dynamodb_local_is_refused(
    endpoint: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create-table", "--table", "mvdb-movies", *endpoint]) == 2
    assert "In AWS the stack creates and owns its table" in capsys.readouterr().err


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine where nothing configures AWS: no region, no credentials, no endpoint."""
    import os

    for name in [name for name in os.environ if name.startswith("AWS_")] + ["REGION", "TABLE_NAME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new process's: no credentials an earlier test resolved


AWS_SETUP_HINT = "pass --endpoint http://127.0.0.1:8001"


@pytest.mark.usefixtures("no_aws_configuration")
@pytest.mark.parametrize(
    "command",
    [
        ["load", "--table", "mvdb-movies", "--quiet"],
        ["reindex", "--table", "mvdb-movies", "--quiet"],
        ["reindex", "--stack", "mvdb-dev", "--quiet"],
        ["verify", "--table", "mvdb-movies"],
    ],
)
def test_a_command_run_without_a_region_says_how_to_point_it_at_the_local_stack_or_aws(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "You must specify a region." in err
    assert AWS_SETUP_HINT in err and "set AWS_REGION" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("no_aws_configuration")
def test_a_command_run_without_credentials_says_how_to_point_it_at_the_local_stack_or_aws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["reindex", "--table", "mvdb-movies", "--region", "eu-west-1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Unable to locate credentials" in err
    assert AWS_SETUP_HINT in err
