"""What one local stack needs to itself: free ports to suggest when its own are taken, and its directories.

Whether a real port is free: tests/integration/test_local_stack_start.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mvdb_local.exclusive import DirectoryInUse, lock_directory, ports_to_suggest


def test_for_a_taken_api_port_the_suggestion_skips_dynamodb_locals() -> None:
    assert ports_to_suggest(8000, 8001, is_free=lambda port: port != 8000) == (8002, 8001)


def test_for_a_taken_dynamodb_port_the_suggestion_is_the_next_free_one() -> None:
    assert ports_to_suggest(8000, 8001, is_free=lambda port: port not in {8001, 8002}) == (8000, 8003)


def test_for_two_taken_ports_the_suggestion_is_two_different_free_ones() -> None:
    assert ports_to_suggest(8000, 8001, is_free=lambda port: port > 8001) == (8002, 8003)


def test_a_second_holder_of_a_directory_is_refused_with_the_first_holders_pid_and_description(tmp_path: Path) -> None:
    with (
        lock_directory(tmp_path, "mvdb on http://127.0.0.1:8000"),
        pytest.raises(DirectoryInUse) as refused,
        lock_directory(tmp_path, "mvdb on http://127.0.0.1:8080"),
    ):
        pass
    assert f"process {os.getpid()} (mvdb on http://127.0.0.1:8000)" in str(refused.value)
    assert str(tmp_path) in str(refused.value)


def test_a_directory_is_free_again_once_its_holder_lets_go(tmp_path: Path) -> None:
    with lock_directory(tmp_path, "first"):
        pass
    with lock_directory(tmp_path, "second"):
        pass
