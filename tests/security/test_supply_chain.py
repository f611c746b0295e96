"""The supply-chain gates bite: a vulnerable pin, an expired exception, a disallowed licence
or a new secret each make the check fail. Run on temporary copies, never on the real files."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools.security.check_licences import _allowed

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "tools" / "security" / "audit_locks.py"
LICENCE_POLICY = ROOT / "tools" / "security" / "licences.toml"
# Vulnerable by advisories the offline snapshot does not hold (GHSA or later than its date).
KNOWN_VULNERABLE_LATER = ("requests==2.31.0", "urllib3==2.2.1", "cryptography==42.0.0")
SHARED_DB = ROOT.parent / "shared" / "advisories" / "pypa-vulns"

_ADVISORY = """\
id: PYSEC-2018-28
aliases: [CVE-2018-18074]
affected:
- package: {name: requests, ecosystem: PyPI}
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 2.20.0
"""


def run_audit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(AUDIT), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def advisory_db(tmp_path: Path) -> Path:
    folder = tmp_path / "db" / "requests"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2018-28.yaml").write_text(_ADVISORY)
    return tmp_path / "db"


def lock_with(tmp_path: Path, line: str) -> Path:
    lock = tmp_path / "lambda.txt"
    lock.write_text((ROOT / "requirements" / "lambda.txt").read_text() + f"{line} \\\n    --hash=sha256:{'0' * 64}\n")
    return lock


def test_audit_fails_on_a_known_vulnerable_pin(tmp_path: Path, advisory_db: Path) -> None:
    result = run_audit(lock_with(tmp_path, "requests==2.19.0"), "--database", advisory_db)
    assert result.returncode == 1
    assert "VULNERABLE: requests==2.19.0" in result.stdout
    assert "CVE-2018-18074" in result.stdout


def test_audit_passes_a_fixed_version(tmp_path: Path, advisory_db: Path) -> None:
    result = run_audit(lock_with(tmp_path, "requests==2.20.0"), "--database", advisory_db)
    assert result.returncode == 0, result.stdout


def test_audit_accepts_a_finding_with_a_documented_unexpired_exception(tmp_path: Path, advisory_db: Path) -> None:
    exceptions = tmp_path / "exceptions.toml"
    expires = dt.date.today() + dt.timedelta(days=30)
    exceptions.write_text(
        f'[[exception]]\npackage = "requests"\nid = "PYSEC-2018-28"\nreason = "test"\nexpires = {expires}\n'
    )
    result = run_audit(lock_with(tmp_path, "requests==2.19.0"), "--database", advisory_db, "--exceptions", exceptions)
    assert result.returncode == 0, result.stdout
    assert "ACCEPTED" in result.stdout


def test_audit_fails_when_an_exception_has_expired(tmp_path: Path, advisory_db: Path) -> None:
    exceptions = tmp_path / "exceptions.toml"
    exceptions.write_text(
        '[[exception]]\npackage = "requests"\nid = "PYSEC-2018-28"\nreason = "old"\nexpires = 2020-01-01\n'
    )
    result = run_audit(lock_with(tmp_path, "requests==2.19.0"), "--database", advisory_db, "--exceptions", exceptions)
    assert result.returncode == 1
    assert "expired" in result.stdout


@pytest.mark.skipif(not SHARED_DB.is_dir(), reason="the dated PyPA advisory snapshot is not beside this clone")
def test_committed_locks_have_no_advisory_in_the_offline_snapshot() -> None:
    locks = sorted((ROOT / "requirements").glob("*.txt"))
    result = run_audit(*locks, "--database", SHARED_DB)
    assert result.returncode == 0, result.stdout


@pytest.mark.skipif(not SHARED_DB.is_dir(), reason="the dated PyPA advisory snapshot is not beside this clone")
def test_offline_snapshot_flags_a_real_vulnerable_pin(tmp_path: Path) -> None:
    result = run_audit(lock_with(tmp_path, "urllib3==1.26.4"), "--database", SHARED_DB)
    assert result.returncode == 1
    assert "VULNERABLE: urllib3==1.26.4" in result.stdout


@pytest.mark.skipif(not SHARED_DB.is_dir(), reason="the dated PyPA advisory snapshot is not beside this clone")
def test_offline_snapshot_misses_later_advisories_so_it_says_it_is_no_clean_bill(tmp_path: Path) -> None:
    """requests 2.31.0 (CVE-2024-35195), urllib3 2.2.1 (CVE-2024-37891), cryptography 42.0.0 (CVE-2024-26130)."""
    lock = tmp_path / "vulnerable.txt"
    lock.write_text("".join(f"{pin} \\\n    --hash=sha256:{'0' * 64}\n" for pin in KNOWN_VULNERABLE_LATER))
    result = run_audit(lock, "--database", SHARED_DB)
    assert result.returncode == 0, result.stdout
    assert "0 finding(s)" in result.stdout
    assert "NOT a clean bill: advisories published after" in result.stdout


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("MIT License", True),
        ("Apache-2.0 OR BSD-2-Clause", True),
        ("MIT AND PSF-2.0", True),
        ("GPL-3.0-only", False),
        ("MIT AND GPL-3.0-only", False),
        ("GNU General Public License v3 (GPLv3)", False),
        ("UNKNOWN", False),
    ],
)
def test_licence_policy_allows_only_listed_licences(expression: str, allowed: bool) -> None:
    policy = tomllib.loads(LICENCE_POLICY.read_text())
    assert _allowed(expression, set(policy["allowed"]), policy["aliases"]) is allowed


CHECK_SECRETS = ROOT / "tools" / "security" / "check_secrets.py"
# Assembled at run time so that this test file itself holds no secret-shaped string.
LEAKED = 'AWS_SECRET_ACCESS_KEY = "' + "wJalrXUtnFEMI/K7MDENG/" + 'bPxRfiCYEXAMPLEKEY9x"\n'


def git_repo_with(tmp_path: Path, text: str) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "settings.py").write_text(text)
    subprocess.run(["git", "-C", str(tmp_path), "add", "settings.py"], check=True)
    return tmp_path


def audit_everything(repo: Path) -> None:
    """What `make secrets-baseline` and an audit that marks every finding a false positive produce."""
    scan = subprocess.run(
        [str(Path(sys.executable).with_name("detect-secrets")), "scan", "settings.py"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    baseline = json.loads(scan.stdout)
    for secrets in baseline["results"].values():
        for secret in secrets:
            secret["is_secret"] = False
    (repo / ".secrets.baseline").write_text(json.dumps(baseline))


def check_secrets(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK_SECRETS), "--root", str(repo)], capture_output=True, text=True)


def test_secret_scan_fails_on_a_secret_the_baseline_does_not_list(tmp_path: Path) -> None:
    repo = git_repo_with(tmp_path, "x = 1\n")
    audit_everything(repo)
    (repo / "settings.py").write_text(LEAKED)
    result = check_secrets(repo)
    assert result.returncode == 1
    assert "NEW: Secret Keyword in settings.py" in result.stdout


def test_secret_scan_accepts_an_audited_finding_wherever_its_line_moves(tmp_path: Path) -> None:
    repo = git_repo_with(tmp_path, LEAKED)
    audit_everything(repo)
    (repo / "settings.py").write_text("# a new first line\n\n" + LEAKED)
    result = check_secrets(repo)
    assert result.returncode == 0, result.stdout
