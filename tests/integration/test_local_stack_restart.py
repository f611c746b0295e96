"""A local stack stopped and started again on its data directory, as ``make run`` is day after day.

Its stream consumers resume after their checkpoints: the restart replays nothing, so the seed's
4,609 loads never become audit history and no write is recorded twice. Two stack starts on a copy
of the seed: about 15 s on two shared cores.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from mvdb_local.process import RunningStack, run_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECORDS_WITHIN_S = 30.0


def create(stack: RunningStack, title: str) -> None:
    request = urllib.request.Request(  # noqa: S310  # nosec B310 - the local stack's URL
        f"{stack.api_url}/movies",
        data=json.dumps({"year": 2031, "title": title, "info": {}}).encode(),
        headers={"Authorization": f"Bearer {stack.access_token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310  # nosec B310
        assert response.status == 201


def audit_records(state_dir: Path, at_least: int) -> int:
    """How many audit records the stack's trail holds, once it holds ``at_least`` (or the wait is over)."""
    deadline = time.monotonic() + RECORDS_WITHIN_S
    while True:
        count = sum(1 for _ in (state_dir / "audit").rglob("*.json"))
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def test_a_restarted_stack_records_each_write_once_and_the_seed_never(tmp_path: Path) -> None:
    data_dir = tmp_path / "dynamodb"
    with run_local_stack(tmp_path, data_dir=data_dir) as first_run:
        create(first_run, "Before The Restart")
        assert audit_records(tmp_path, at_least=1) == 1

    with run_local_stack(tmp_path, data_dir=data_dir) as second_run:
        create(second_run, "After The Restart")
        assert audit_records(tmp_path, at_least=2) == 2
