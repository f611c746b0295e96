"""``python -m mvdb_local`` (``make run``) refuses to start beside what it would clash with, and says what to do.

Each case stops before DynamoDB Local starts: a second or so for the process to import.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mvdb_local.dynamodb_local import free_port
from mvdb_local.exclusive import lock_directory, port_is_free
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration


def start_stack(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mvdb_local", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_port_something_listens_on_is_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_is_free(listener.getsockname()[1])


@pytest.mark.slow
def test_a_taken_api_port_is_refused_with_a_make_run_line_of_ports_free_now(tmp_path: Path) -> None:
    dynamodb_port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        result = start_stack(
            "--port", str(taken), "--dynamodb-port", str(dynamodb_port), "--in-memory", "--state-dir", str(tmp_path)
        )

    assert result.returncode == 1
    suggested = re.search(r"make run PORT=(\d+) DYNAMODB_PORT=(\d+)", result.stderr)
    assert suggested is not None, result.stderr
    api_port = int(suggested[1])
    assert (api_port != taken, int(suggested[2])) == (True, dynamodb_port)
    assert api_port != dynamodb_port and port_is_free(api_port)


@pytest.mark.slow
def test_a_second_stack_on_a_held_data_directory_is_refused_and_told_who_holds_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "dynamodb"
    ports = ("--port", str(free_port()), "--dynamodb-port", str(free_port()))
    with lock_directory(data_dir, "the first stack"):
        result = start_stack(*ports, "--data-dir", str(data_dir), "--state-dir", str(tmp_path / "state"))

    assert result.returncode == 1
    assert f"{data_dir} is in use by process {os.getpid()} (the first stack)" in result.stderr
    assert not (data_dir / "shared-local-instance.db").exists()  # nothing was copied into it


@pytest.mark.slow
def test_a_second_stack_of_the_same_clone_is_told_who_holds_it_before_any_other_ports(tmp_path: Path) -> None:
    # Other ports would only lead to the held directory: the holder is the answer.
    state_dir = tmp_path / "state"
    with socket.socket() as listener, lock_directory(state_dir, "the first stack"):
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = str(listener.getsockname()[1])
        result = start_stack(
            "--port", taken, "--dynamodb-port", str(free_port()), "--in-memory", "--state-dir", str(state_dir)
        )

    assert result.returncode == 1
    assert f"in use by process {os.getpid()} (the first stack)" in result.stderr
    assert "make run PORT=" not in result.stderr
