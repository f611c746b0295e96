"""A local stack whose stream poller ends stops, saying why, instead of serving writes nothing records.

One stack start on a throw-away copy of the seed: about 10 s on two shared cores.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from mvdb_local.process import RunningStack, run_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STOPS_WITHIN_S = 15.0


def stream_pollers(stack: RunningStack) -> dict[int, str]:
    """The stack's poller processes: pid -> command line."""
    children = Path(f"/proc/{stack.process_id}/task/{stack.process_id}/children").read_text().split()
    commands = {int(pid): Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in children}
    return {pid: command for pid, command in commands.items() if "mvdb_local.streams" in command}


def answers(stack: RunningStack) -> bool:
    try:
        with urllib.request.urlopen(f"{stack.api_url}/health", timeout=2):  # noqa: S310  # nosec B310
            return True
    except OSError:
        return False


def test_a_stack_whose_stream_poller_ends_stops_and_names_it(tmp_path: Path) -> None:
    with run_local_stack(tmp_path) as stack:
        pollers = stream_pollers(stack)
        assert len(pollers) == 2, pollers  # the search index and the audit trail
        audit_poller = next(pid for pid, command in pollers.items() if "--consumer audit-trail" in command)
        # GIVEN a running stack WHEN its audit trail's poller is interrupted on its own
        os.kill(audit_poller, signal.SIGINT)
        # THEN the API stops answering (no 201 for a write the trail would never record), saying why
        deadline = time.monotonic() + STOPS_WITHIN_S
        while answers(stack) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not answers(stack), f"the API still answered {STOPS_WITHIN_S:.0f} s after its poller ended"
    log = (tmp_path / "server.log").read_text()
    assert "error: the audit-trail stream poller ended" in log, log[-2000:]
