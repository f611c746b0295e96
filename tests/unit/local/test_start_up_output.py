"""What ``make run`` prints at start: how to get a token, without the clients' secrets (kept in a private file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mvdb_local.__main__ import _print_clients, _serving_banner
from mvdb_local.cognito import CLIENTS_FILE, TOKEN_PATH, LocalCognito

TOKEN_URL = f"http://127.0.0.1:8000{TOKEN_PATH}"


def test_no_client_secret_is_printed(cognito: LocalCognito, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _print_clients(cognito, TOKEN_URL, tmp_path)

    printed = capsys.readouterr()
    assert [c.client_secret for c in cognito.clients if c.client_secret in printed.out + printed.err] == []


def test_the_file_holding_the_secrets_and_every_client_are_named(
    cognito: LocalCognito, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_clients(cognito, TOKEN_URL, tmp_path)

    printed = capsys.readouterr().err
    assert str(tmp_path / CLIENTS_FILE) in printed
    assert all(client.client_id in printed for client in cognito.clients)


def test_the_printed_secret_command_reads_the_machine_clients_secret_from_the_file(
    cognito: LocalCognito, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cognito.save(tmp_path, api_url="http://127.0.0.1:8000", token_url=TOKEN_URL)
    _print_clients(cognito, TOKEN_URL, tmp_path)
    [command] = [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip().startswith("SECRET=")]

    shell = subprocess.run(["bash", "-c", f'{command}; printf %s "$SECRET"'], capture_output=True, text=True)

    machine = next(c for c in cognito.clients if c.client_id == "mvdb-local-machine")
    assert (shell.returncode, shell.stdout) == (0, machine.client_secret), shell.stderr


def test_the_stack_names_dynamodb_locals_endpoint_for_the_mvdb_commands_before_saying_it_is_up() -> None:
    banner = _serving_banner("http://127.0.0.1:18241", "http://127.0.0.1:18242")

    assert "--endpoint http://127.0.0.1:18242" in banner.splitlines()[0]
    assert banner.splitlines()[-1] == "mvdb on http://127.0.0.1:18241 (docs: http://127.0.0.1:18241/docs); Ctrl-C stops"
