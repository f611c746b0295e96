"""Files only this user may read, for the local stack's secrets (client secrets, the token signing key).

Written atomically through a new file of mode 0600 that replaces the old one, so a symlink
planted at the path is replaced, never written through, and no reader sees half a file. Read
without following a symlink; an existing file readable by others is narrowed to 0600 first.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["PRIVATE_MODE", "UnsafeFileError", "read_private_file", "write_private_file"]

PRIVATE_MODE = 0o600
_PRIVATE_DIRECTORY_MODE = 0o700


class UnsafeFileError(OSError):
    """The path is a symlink, not a regular file, or someone else's file: it is not used."""


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable and writable by this user only (0600)."""
    path.parent.mkdir(mode=_PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    # mkstemp creates the file with O_EXCL and mode 0600: nothing can be waiting at that name.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # rename(2) replaces a symlink at ``path`` itself
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_private_file(path: Path) -> bytes | None:
    """The file's bytes, or None when there is none. Raises UnsafeFileError for a symlink or a foreign file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            message = "is a symlink; remove it, the local stack will write a file"
            raise UnsafeFileError(errno.ELOOP, message, str(path)) from None
        raise
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeFileError(errno.EINVAL, "is not a regular file", str(path))
        if status.st_uid != os.getuid():
            raise UnsafeFileError(errno.EPERM, "belongs to another user", str(path))
        if stat.S_IMODE(status.st_mode) != PRIVATE_MODE:
            os.fchmod(file.fileno(), PRIVATE_MODE)
        return file.read()
