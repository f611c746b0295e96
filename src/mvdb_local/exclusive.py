"""What one local stack needs to itself: its two ports, and its data and state directories.

Ports: when one is taken, the stack suggests ports that are free now, never one the stack itself
uses (the API's default neighbour, 8001, is DynamoDB Local's). A port counts as free when it can
be bound on every interface, as DynamoDB Local binds it.

Directories: two stacks on one data directory would run two DynamoDB Locals on one SQLite file
and two sets of stream consumers on one checkpoint; on one state directory they would share the
audit trail (an in-memory run empties it) and rewrite each other's clients file. A stack holds an
exclusive ``flock(2)`` on ``<directory>/.mvdb-local.lock`` while it runs; the kernel drops it
when the process ends, however it ends, so a stale lock cannot outlive its holder. The file says
who holds it (process ID and what it serves), for the refusal's message.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_FILE", "DirectoryInUse", "lock_directory", "port_is_free", "ports_to_suggest"]

LOCK_FILE = ".mvdb-local.lock"
_HIGHEST_PORT = 65535


class DirectoryInUse(RuntimeError):
    """Another process holds the directory; the message names it."""


def port_is_free(port: int) -> bool:
    """True if ``port`` can be bound on every interface now (SO_REUSEADDR, as the servers bind)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True


def ports_to_suggest(
    port: int, dynamodb_port: int, *, is_free: Callable[[int], bool] = port_is_free
) -> tuple[int, int]:
    """(API port, DynamoDB Local port) to run on: each kept when free, else the next free port above it.

    A replacement is never either of the two asked for, nor the other replacement.
    """
    chosen: list[int] = []
    for wanted in (port, dynamodb_port):
        if is_free(wanted) and wanted not in chosen:
            chosen.append(wanted)
            continue
        candidate = wanted + 1
        while candidate <= _HIGHEST_PORT and (candidate in (port, dynamodb_port, *chosen) or not is_free(candidate)):
            candidate += 1
        if candidate > _HIGHEST_PORT:  # nothing free above it: any port the system has free
            from mvdb_local.dynamodb_local import free_port

            candidate = free_port()
        chosen.append(candidate)
    return chosen[0], chosen[1]


@contextmanager
def lock_directory(directory: Path, holder: str) -> Iterator[None]:
    """Hold ``directory`` (created if missing) for this process while in the block; ``holder`` says what for.

    Raises DirectoryInUse, naming the holding process, when another process (or another block of
    this one) holds it.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            held_by = os.pread(descriptor, 4096, 0).decode(errors="replace").strip() or "another process"
            raise DirectoryInUse(
                f"{directory} is in use by {held_by}: stop that one first, or give this one "
                "other directories (--state-dir, and --data-dir or --in-memory)"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"process {os.getpid()} ({holder})\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock
