"""DynamoDB Local's stderr is read as it comes: a child never blocks on a full pipe, and its last words are kept."""

from __future__ import annotations

import subprocess

from mvdb_local.dynamodb_local import StderrTail

# A megabyte of log, then a last line: sixteen times what a Linux pipe holds unread.
CHATTY = "head -c 1048576 /dev/zero | tr '\\0' x >&2; echo 'last words' >&2"


def test_a_child_writing_more_to_stderr_than_a_pipe_holds_runs_to_its_end() -> None:
    child = subprocess.Popen(["sh", "-c", CHATTY], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    tail = StderrTail(child.stderr, limit=100)

    assert child.wait(timeout=30) == 0
    assert tail.text().endswith("x" * 89 + "last words\n")


def test_without_a_reader_the_same_child_blocks() -> None:
    # What happened to DynamoDB Local before its stderr had a reader: the test above would hang.
    child = subprocess.Popen(["sh", "-c", CHATTY], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        child.wait(timeout=1)
        raise AssertionError("the child finished although nobody read its stderr")
    except subprocess.TimeoutExpired:
        pass
    finally:
        child.kill()
        child.communicate()
