"""The repository points only at things a reader of it can open: no file names an issue of a tracker
that is not in the repository ("issue 14", "Issues #3"). Say what the change was about instead."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import PROJECT_ROOT

TRACKER_NUMBER = re.compile(r"\bissues?\s+#?\d+\b", re.IGNORECASE)
THIS_FILE = "tests/build/test_tracker_numbers.py"  # its examples are what the check looks for


def tracker_numbers(text: str) -> list[str]:
    """The tracker references in ``text``, in order ("issue 14", "Issues #3")."""
    return TRACKER_NUMBER.findall(text)


def test_no_tracked_file_names_a_tracker_issue() -> None:
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    found = {
        name: numbers
        for name in tracked
        if name and name != THIS_FILE and (PROJECT_ROOT / name).is_file()
        if (numbers := tracker_numbers((PROJECT_ROOT / name).read_bytes().decode("utf-8", "replace")))
    }
    assert found == {}


def test_the_check_finds_tracker_numbers_and_nothing_else() -> None:
    assert tracker_numbers("Context: issue 14. See Issues #3, and issue\n7.") == ["issue 14", "Issues #3", "issue\n7"]
    assert tracker_numbers("reissue 4; an issue 2xx; issued 5 tokens; issue the 3 keys") == []
