"""``make run`` and signals, as a shell delivers them: to the whole process group.

A script's background job starts with SIGINT ignored, and the stack keeps it so (the Unix
convention); a Ctrl-C before the stack is up stops it with one line and status 130. Each test
starts one stack in a session of its own: about 5-12 s on two shared cores. A Ctrl-C while the
stack serves stops it quietly: the poller's side of that (no traceback per failed poll, a prompt
stop) is proved in tests/unit/local/test_stream_poller.py; timed here, end to end, it failed on a
loaded machine, not on the code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mvdb_local.dynamodb_local import free_port
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT_S = 120.0


def _ignore_sigint() -> None:  # pragma: no cover - runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def stack_in_its_own_group(
    tmp_path: Path, *, sigint_ignored: bool, **env: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m mvdb_local`` in memory on free ports, the leader of its own process group; killed at the end."""
    api_port = free_port()
    command = [sys.executable, "-m", "mvdb_local", "--in-memory", "--port", str(api_port)]
    command += ["--dynamodb-port", str(free_port()), "--state-dir", str(tmp_path)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TABLE_NAME"}
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment | {"PYTHONUNBUFFERED": "1"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 - nothing else runs before exec
    )
    try:
        yield process, f"http://127.0.0.1:{api_port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_line(process: subprocess.Popen[str], text: str) -> list[str]:
    """The output up to and including the first line holding ``text``."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never printed:\n{''.join(lines[-30:])}")


def rest_of_output(process: subprocess.Popen[str], timeout_s: float) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout_s)
    return process.returncode, output


def answers(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310  # nosec B310
            return bool(response.status == 200)
    except OSError:
        return False


def test_a_stack_started_with_sigint_ignored_serves_on_through_a_sigint_to_its_group(tmp_path: Path) -> None:
    # GIVEN make run as a script's background job (SIGINT ignored), serving
    with stack_in_its_own_group(tmp_path, sigint_ignored=True) as (stack, api_url):
        wait_for_line(stack, "Ctrl-C stops")
        # WHEN the script sends SIGINT to its group
        os.killpg(stack.pid, signal.SIGINT)
        time.sleep(3)  # the stack's watcher reports an ended poller within 1.5 s
        # THEN every process of it ignores it, as the shell meant: nothing ends, nothing is reported
        assert stack.poll() is None and answers(api_url)
        # and SIGTERM stops it cleanly, though it comes twice (`kill -TERM` to make's group: make passes its own on)
        os.killpg(stack.pid, signal.SIGTERM)
        time.sleep(0.005)  # as make passes it on: after the first reached this process
        os.kill(stack.pid, signal.SIGTERM)
        status, output = rest_of_output(stack, 30)

    assert status == 0, output
    assert "error:" not in output and "Traceback" not in output, output


def test_ctrl_c_before_the_stack_is_up_says_so_in_one_line_and_exits_130(tmp_path: Path) -> None:
    # A table other than the seed's is created and loaded at start: a start-up long enough to interrupt.
    with stack_in_its_own_group(tmp_path, sigint_ignored=False, TABLE_NAME="mvdb-interrupted") as (stack, _):
        wait_for_line(stack, "created table mvdb-interrupted")
        os.killpg(stack.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        status, output = rest_of_output(stack, 30)
        time.sleep(0.5)
        with pytest.raises(ProcessLookupError):  # DynamoDB Local stopped with it
            os.killpg(stack.pid, 0)

    assert status == 130, output
    assert output.strip().splitlines()[-1].startswith("interrupted while starting: stopped"), output
    assert "Traceback" not in output, output
