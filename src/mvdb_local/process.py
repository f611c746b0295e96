"""The whole local stack (what ``make run`` runs) in a child process, on free ports.

For tests, fuzzing and load runs that need the real thing end to end: ``python -m mvdb_local``
with DynamoDB Local in memory, the movies loaded, the API behind the local gateway and Cognito.
A process rather than a thread: the Lambda app reads its settings once per process. The user
pool's state (client secrets, signing key) goes to the caller's ``workdir``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvdb.api.scopes import WRITE_SCOPE
from mvdb_local import PROJECT_ROOT
from mvdb_local.cognito import CLIENTS_FILE
from mvdb_local.dynamodb_local import LocalStackError, _die_with_parent, free_port

__all__ = ["RunningStack", "run_local_stack"]

START_TIMEOUT_S = 180.0  # JVM start and 4,609 movies loaded, on a busy 2-core CI machine
# Settings of the service that must come from the local run, not from whatever the calling
# process was given (test suites set some of them for their own in-process apps).
_SERVICE_SETTINGS = {
    "TABLE_NAME",
    "REGION",
    "ENVIRONMENT",
    "REQUIRE_AUTH",
    "MAX_BODY_BYTES",
    "CORS_ALLOW_ORIGINS",
    "TOKEN_URL",
    "AUDIT_BUCKET_NAME",
    "AUDIT_DIRECTORY",
    "LOG_LEVEL",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}


@dataclass(frozen=True)
class RunningStack:
    api_url: str
    dynamodb_endpoint: str
    state_dir: Path  # the local user pool's clients.json and signing key
    clients: dict[str, Any] = field(repr=False)  # the clients file: issuer, token_url, jwks_url, clients
    process_id: int = field(repr=False)  # of `python -m mvdb_local`, whose children are the stream pollers

    @property
    def token_url(self) -> str:
        return str(self.clients["token_url"])

    def client(self, scope: str) -> dict[str, Any]:
        """The first app client holding ``scope`` (its client_id, client_secret, scopes)."""
        return next(c for c in self.clients["clients"] if scope in c["scopes"])

    def access_token(self, scope: str = WRITE_SCOPE) -> str:
        """A client-credentials token from the stand-in's token endpoint, for a client holding ``scope``."""
        client = self.client(scope)
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310  # nosec B310
            self.token_url,
            data=b"grant_type=client_credentials",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # nosec B310
            return str(json.load(response)["access_token"])


@contextmanager
def run_local_stack(
    workdir: Path, extra_env: Mapping[str, str] | None = None, *, base_path: str = "", data_dir: Path | None = None
) -> Iterator[RunningStack]:
    """The stack, its API under ``base_path`` (e.g. ``/local``, as a stage's URL is under ``/dev``).

    Its tables are in memory, or in ``data_dir`` (kept, as ``make run`` keeps ``.local/dynamodb``).
    """
    api_port, dynamodb_port = free_port(), free_port()
    log_file = workdir / "server.log"  # each run's replaces the last's
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in _SERVICE_SETTINGS}
    env |= {"PYTHONUNBUFFERED": "1", **(extra_env or {})}
    storage = ["--data-dir", str(data_dir)] if data_dir is not None else ["--in-memory"]
    command = [sys.executable, "-m", "mvdb_local", *storage, "--port", str(api_port)]
    command += ["--dynamodb-port", str(dynamodb_port), "--state-dir", str(workdir)]
    command += ["--base-path", base_path] if base_path else []
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - nothing else runs in the child before exec
        )
    try:
        api_url = f"http://127.0.0.1:{api_port}{base_path}"
        _wait_until_healthy(process, api_url, log_file)
        clients = json.loads((workdir / CLIENTS_FILE).read_text())
        yield RunningStack(api_url, f"http://127.0.0.1:{dynamodb_port}", workdir, clients, process.pid)
    finally:
        _stop(process)


def _wait_until_healthy(process: subprocess.Popen[bytes], api_url: str, log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalStackError(f"the local stack exited with {process.returncode}:\n{_tail(log_file)}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    _stop(process)
    raise LocalStackError(f"the local stack was not healthy within {START_TIMEOUT_S:.0f} s:\n{_tail(log_file)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # the server stops DynamoDB Local on SIGTERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tail(log_file: Path, lines: int = 30) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
