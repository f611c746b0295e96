"""The online audit fails closed: a finding fails it, and so does a service that cannot be reached
or answers with an error; only a clean answer from every service passes.

pip-audit runs for real (``.tools/audit``) against an OSV-compatible endpoint served here on a
free port (``--service osv --osv-url``): a stand-in for the service's answers, so each answer
can be chosen. The Makefile-level tests block the real endpoints instead: every HTTPS request
goes to a proxy port that refuses connections, and npm's registry is such a port too.
``make test`` installs .tools/audit beforehand, with its other installs; run alone on a fresh
clone, the first test installs it (18.8 s of the module's setup in CI when the test run did it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# One worker runs the whole module, so its expensive module-scoped fixture is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("online-audit")]

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = ROOT / ".tools" / "audit" / "bin" / "pip-audit"
SHARED_DB = ROOT.parent / "shared" / "advisories" / "pypa-vulns"
LOCK = ROOT / "requirements" / "build.txt"  # one package (setuptools): a quick audit
CI_MARKERS = ("CI", "GITHUB_ACTIONS", "BITBUCKET_BUILD_NUMBER")

SETUPTOOLS_ADVISORY = {
    "id": "GHSA-5rjg-fvgr-3xxf",
    "aliases": ["CVE-2025-47273"],
    "summary": "setuptools has a path traversal vulnerability in PackageIndex.download",
    "affected": [
        {
            "package": {"name": "setuptools", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0.0"}]}],
        }
    ],
}


class AdvisoryService(ThreadingHTTPServer):
    """Answers OSV's POST /v1/query with ``answer`` (status, JSON body)."""

    answer: tuple[int, dict[str, Any]] = (200, {})


class _Handler(BaseHTTPRequestHandler):
    server: AdvisoryService

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.server.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pip_audit_installed() -> Path:
    subprocess.run(["make", "--no-print-directory", ".tools/audit/.installed"], cwd=ROOT, check=True)
    return PIP_AUDIT


@pytest.fixture
def advisory_service() -> Iterator[AdvisoryService]:
    server = AdvisoryService(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but never listening: every connection to it is refused, for as long as the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    return {**env, **extra}


def audit_online(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.security.audit_online", "--pip-audit", str(PIP_AUDIT), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env or clean_env())


def against(service: AdvisoryService, *args: str) -> subprocess.CompletedProcess[str]:
    url = f"http://127.0.0.1:{service.server_address[1]}/v1/query"
    return audit_online("--locks", str(LOCK), "--service", "osv", "--osv-url", url, *args)


def test_a_clean_answer_passes(pip_audit_installed: Path, advisory_service: AdvisoryService) -> None:
    result = against(advisory_service)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"online audit of {dt.date.today()}: 0 finding(s), 0 unaccepted" in result.stdout


def test_a_reported_vulnerability_fails(pip_audit_installed: Path, advisory_service: AdvisoryService) -> None:
    advisory_service.answer = (200, {"vulns": [SETUPTOOLS_ADVISORY]})
    result = against(advisory_service)
    assert result.returncode == 1, result.stdout + result.stderr
    finding = next(line for line in result.stdout.splitlines() if line.startswith("VULNERABLE:"))
    assert finding.startswith("VULNERABLE: setuptools 80.9.0 in requirements/build.txt: ")
    assert "GHSA-5rjg-fvgr-3xxf" in finding
    assert "CVE-2025-47273" in finding


def test_an_unexpired_exception_for_an_alias_accepts_the_finding(
    pip_audit_installed: Path, advisory_service: AdvisoryService, tmp_path: Path
) -> None:
    advisory_service.answer = (200, {"vulns": [SETUPTOOLS_ADVISORY]})
    exceptions = tmp_path / "exceptions.toml"
    expires = dt.date.today() + dt.timedelta(days=30)
    exceptions.write_text(
        f'[[exception]]\npackage = "setuptools"\nid = "CVE-2025-47273"\nreason = "build only"\nexpires = {expires}\n'
    )
    result = against(advisory_service, "--exceptions", str(exceptions))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACCEPTED (accepted until" in result.stdout


def test_a_service_error_fails_closed(pip_audit_installed: Path, advisory_service: AdvisoryService) -> None:
    advisory_service.answer = (503, {"error": "maintenance"})
    result = against(advisory_service)
    assert result.returncode == 2
    assert "error: the online audit did NOT run: OSV's vulnerability API" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unreachable_service_fails_closed_in_one_clear_line(pip_audit_installed: Path, refusing_port: int) -> None:
    url = f"http://127.0.0.1:{refusing_port}/v1/query"
    result = audit_online("--locks", str(LOCK), "--service", "osv", "--osv-url", url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "did NOT run" in result.stderr
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_noting_an_unreachable_service_still_fails_on_a_finding(
    pip_audit_installed: Path, advisory_service: AdvisoryService, refusing_port: int
) -> None:
    """--unreachable note forgives a service that is down, never a vulnerability another one found."""
    advisory_service.answer = (200, {"vulns": [SETUPTOOLS_ADVISORY]})
    env = clean_env(npm_config_registry=f"http://127.0.0.1:{refusing_port}/")
    url = f"http://127.0.0.1:{advisory_service.server_address[1]}/v1/query"
    args = ("--locks", str(LOCK), "--service", "osv", "--osv-url", url, "--npm", "--unreachable", "note")
    result = audit_online(*args, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VULNERABLE: setuptools" in result.stdout
    assert "audit: NOT RUN: the npm registry's audit endpoint" in result.stdout


# The Makefile targets, with the real endpoints blocked.
def blocked_env(port: int, **extra: str) -> dict[str, str]:
    proxy = f"http://127.0.0.1:{port}"
    return clean_env(
        HTTPS_PROXY=proxy, https_proxy=proxy, NO_PROXY="", no_proxy="", npm_config_registry=f"{proxy}/", **extra
    )


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_make_audit_online_fails_when_the_services_cannot_be_reached(
    pip_audit_installed: Path, refusing_port: int
) -> None:
    result = make("audit-online", env=blocked_env(refusing_port))
    assert result.returncode != 0
    assert "error: the online audit did NOT run: PyPI's vulnerability API" in result.stderr
    assert "error: the online audit did NOT run: the npm registry's audit endpoint" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("pipeline", ["GITHUB_ACTIONS", "BITBUCKET_BUILD_NUMBER"])
def test_make_npm_audit_fails_in_a_pipeline_when_the_endpoint_cannot_be_reached(
    refusing_port: int, pipeline: str
) -> None:
    result = make("npm-audit", env=blocked_env(refusing_port, **{pipeline: "1"}))
    assert result.returncode != 0
    assert "did NOT run" in result.stderr


def test_make_npm_audit_elsewhere_says_it_did_not_run_and_why(refusing_port: int) -> None:
    result = make("npm-audit", env=blocked_env(refusing_port))
    assert result.returncode == 0
    assert "audit: NOT RUN: the npm registry's audit endpoint" in result.stdout
    assert "`make audit-online` is the gate" in result.stdout


def test_make_audit_from_a_clone_alone_offline_says_in_one_line_what_to_do(
    pip_audit_installed: Path, refusing_port: int, tmp_path: Path
) -> None:
    """A clone without ../shared, and no network: no traceback, one line naming the ways forward."""
    result = make("audit", f"AUDIT_DB={tmp_path / 'missing'}", env=blocked_env(refusing_port))
    assert result.returncode == 0, result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines() if "NOT RUN" in line]
    assert len(said) == 1
    assert "AUDIT_DB" in said[0]
    assert "https://github.com/pypa/advisory-database" in said[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_make_audit_on_a_ci_machine_without_advisory_data_fails(
    pip_audit_installed: Path, refusing_port: int, tmp_path: Path
) -> None:
    result = make("audit", f"AUDIT_DB={tmp_path / 'missing'}", env=blocked_env(refusing_port, CI="true"))
    assert result.returncode != 0
    assert "did NOT run" in result.stderr


@pytest.mark.skipif(not SHARED_DB.is_dir(), reason="the dated PyPA advisory snapshot is not beside this clone")
def test_make_audit_with_the_offline_data_names_its_date_and_is_no_clean_bill() -> None:
    newest = max(
        line.split(":", 1)[1].strip()[:10]
        for advisory in SHARED_DB.rglob("*.yaml")
        for line in advisory.read_text().splitlines()
        if line.startswith("modified:")
    )
    result = make("audit", env=clean_env(CI="true"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"as of {newest}" in result.stdout
    assert "NOT a clean bill" in result.stdout
