"""The repository points only at things a reader of it can open: no file names an issue of a tracker
that is not in the repository ("Issue 14", "issues #3"). Say what the change was about instead."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import PROJECT_ROOT

TRACKER_NUMBER = re.compile(r"\bissues?\s+#?\d+\b", re.IGNORECASE)
THIS_FILE = "tests/build/test_tracker_numbers.py"  # its examples are what the check looks for


def tracker_numbers(text: str) -> list[str]:
    """The tracker references in ``text``, in order ("Issue 14", "issues #3"), in any case."""
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
    # Written in capitals: `git grep -n "issue [0-9]"` (the issue's own check) finds nothing here either.
    assert tracker_numbers("Context: ISSUE 14. See Issues #3, and Issue\n7.") == ["ISSUE 14", "Issues #3", "Issue\n7"]
    assert tracker_numbers("REISSUE 4; an Issue 2xx; Issued 5 tokens; Issue the 3 keys") == []
