"""Audit against today's advisories, online: pip-audit on every hashed lock, npm audit on
package-lock.json. It fails closed:

* exit 0: every service answered, and nothing it reported lacks an unexpired exception in
  tools/security/audit-exceptions.toml;
* exit 1: a locked version has a known vulnerability;
* exit 2: a service could not be reached or did not answer as expected. The audit did not run,
  and an audit that did not run passes nothing.

The pipelines run this as a step of its own (``make audit-online``). On a developer's machine,
where pip-audit's services or npm's audit endpoint may be out of reach, ``--unreachable note``
turns exit 2 into one line saying the audit did NOT run and what would make it run, and exit 0
(``make audit`` without the offline advisory data, ``make npm-audit``); a real finding still
fails. pip-audit's default service (``pypi``, PyPI's JSON API) also checks every locked hash
against the hashes PyPI publishes.

Usage: ``python -m tools.security.audit_online --pip-audit .tools/audit/bin/pip-audit
--locks requirements/*.txt --npm [--unreachable fail|note]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tools.security.audit_locks import load_exceptions

ROOT = Path(__file__).resolve().parents[2]
EXCEPTIONS = Path(__file__).resolve().with_name("audit-exceptions.toml")
SERVICES = {
    "pypi": "PyPI's vulnerability API (https://pypi.org/pypi/<name>/<version>/json)",
    "osv": "OSV's vulnerability API",
}
NPM_ENDPOINT = "the npm registry's audit endpoint (/-/npm/v1/security/advisories/bulk)"
# How this tool exits; see the module docstring.
CLEAN, VULNERABLE, NOT_RUN = 0, 1, 2


class ServiceUnreachable(Exception):
    """The audit could not run: its service did not answer, or not as expected."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service} failed: {reason}")
        self.service = service
        self.reason = reason


@dataclass(frozen=True)
class Finding:
    source: str
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed: str


def _last_error_line(stderr: str) -> str:
    """The one line of a failed run that says why: the final exception or ERROR log line, with a
    connection error reduced to its root cause (``ProxyError: [Errno 111] Connection refused (host/url)``)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith(("WARNING:", "File ", "^", "~"))]
    line = re.sub(r"^ERROR:[\w.]+:", "", (errors or lines or ["no output"])[-1]).strip()
    exception = re.match(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)$", line)
    if exception:
        kind, text = exception.groups()
        causes = re.findall(r"\[Errno -?\d+\] [^'\")\]]+", text)
        request = re.search(r"host='([^']+)'.*?url: (\S+)", text)
        line = f"{kind}: {causes[-1] if causes else text}" + (f" ({request[1]}{request[2]})" if request else "")
    return line if len(line) <= 300 else line[:297] + "..."


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else path.as_posix()


def pip_audit(executable: Path, lock: Path, service: str, osv_url: str | None) -> list[Finding]:
    """Findings of pip-audit for one hashed lock; raises ServiceUnreachable if it could not run."""
    command = [
        str(executable), "--strict", "--require-hashes", "--disable-pip", "--progress-spinner", "off",
        "--format", "json", "--vulnerability-service", service, "--requirement", str(lock),
    ]  # fmt: skip
    if osv_url:
        command += ["--osv-url", osv_url]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
        dependencies = report["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        # --strict: a package the service does not know (PyPI's JSON API answering 404 for a
        # locked wheel), a refused connection or a server error all end here, with no report.
        raise ServiceUnreachable(SERVICES.get(service, service), _last_error_line(result.stderr)) from None
    return [
        Finding(
            _shown(lock),
            canonicalize_name(dependency["name"]),
            dependency["version"],
            vuln["id"],
            tuple(vuln.get("aliases", [])),
            ", ".join(vuln.get("fix_versions", [])) or "none",
        )
        for dependency in dependencies
        for vuln in dependency.get("vulns", [])
    ]


def npm_audit(project: Path) -> list[Finding]:
    """Findings of ``npm audit`` for package-lock.json; raises ServiceUnreachable if it could not run."""
    npm = shutil.which("npm")
    if npm is None:
        raise ServiceUnreachable(NPM_ENDPOINT, "npm is not installed (Debian: apt-get install npm)")
    result = subprocess.run([npm, "audit", "--json"], capture_output=True, text=True, cwd=project, check=False)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ServiceUnreachable(NPM_ENDPOINT, _last_error_line(result.stderr)) from None
    if "auditReportVersion" not in report:
        reason = report.get("message") or _last_error_line(result.stderr)
        raise ServiceUnreachable(NPM_ENDPOINT, str(reason))
    findings = []
    for name, entry in sorted(report.get("vulnerabilities", {}).items()):
        for via in entry.get("via", []):
            if isinstance(via, dict):  # a string names another vulnerable package, reported on its own
                advisory = str(via.get("url", "")).rsplit("/", 1)[-1] or str(via.get("source", "?"))
                fixed = "yes" if entry.get("fixAvailable") else "none"
                version = str(via.get("range", "?"))
                findings.append(Finding("package-lock.json", canonicalize_name(name), version, advisory, (), fixed))
    return findings


def report(findings: list[Finding], accepted: dict[tuple[str, str], str]) -> int:
    """Print each finding; the number without an unexpired exception."""
    failing = 0
    for f in findings:
        note = next((accepted[(f.package, i)] for i in (f.advisory, *f.aliases) if (f.package, i) in accepted), None)
        failing += note is None
        status = f"ACCEPTED ({note})" if note else "VULNERABLE"
        aliases = f" [{', '.join(f.aliases)}]" if f.aliases else ""
        print(f"{status}: {f.package} {f.version} in {f.source}: {f.advisory}{aliases} fixed in {f.fixed}")
    return failing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pip-audit", type=Path, default=ROOT / ".tools" / "audit" / "bin" / "pip-audit")
    parser.add_argument("--locks", type=Path, nargs="*", default=[], help="hashed lock files for pip-audit")
    parser.add_argument("--npm", action="store_true", help="also run npm audit on package-lock.json")
    parser.add_argument("--service", choices=sorted(SERVICES), default="pypi", help="pip-audit's service")
    parser.add_argument("--osv-url", help="another OSV-compatible endpoint (with --service osv)")
    parser.add_argument(
        "--unreachable",
        choices=["fail", "note"],
        default="fail",
        help="when a service does not answer: fail (exit 2; the pipelines) or note it in one line (exit 0)",
    )
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS)
    args = parser.parse_args(argv)
    if not args.locks and not args.npm:
        parser.error("nothing to audit: give --locks and/or --npm")

    accepted, problems = load_exceptions(args.exceptions, dt.date.today())
    findings: list[Finding] = []
    audited: list[str] = []
    not_run: list[ServiceUnreachable] = []
    try:
        if args.locks and not args.pip_audit.exists():
            raise ServiceUnreachable("pip-audit", f"{args.pip_audit} is missing: run make .tools/audit/.installed")
        for lock in args.locks:
            findings += pip_audit(args.pip_audit, lock, args.service, args.osv_url)
            audited.append(_shown(lock))
    except ServiceUnreachable as unreachable:
        not_run.append(unreachable)  # the other locks would ask the same service
    if args.npm:
        try:
            findings += npm_audit(ROOT)
            audited.append("package-lock.json (npm audit)")
        except ServiceUnreachable as unreachable:
            not_run.append(unreachable)

    failing = report(findings, accepted)
    for problem in problems:
        print(f"ERROR: {problem}")
    if audited:
        print(
            f"online audit of {dt.date.today()}: {len(findings)} finding(s), {failing} unaccepted, "
            f"in {', '.join(audited)}"
        )
    for gap in not_run:
        _say_not_run(gap, args.unreachable)
    if failing or problems:
        return VULNERABLE
    return NOT_RUN if not_run and args.unreachable == "fail" else CLEAN


def _say_not_run(unreachable: ServiceUnreachable, mode: str) -> None:
    if mode == "fail":
        print(
            f"error: the online audit did NOT run: {unreachable}. An audit that cannot reach its service "
            "passes nothing, so this fails; run it again once the service answers.",
            file=sys.stderr,
        )
        return
    way_forward = (
        "npm has no offline advisory data"
        if unreachable.service == NPM_ENDPOINT
        else "with no offline advisory data either (AUDIT_DB), nothing was audited: run where pypi.org answers, "
        "or point AUDIT_DB at the vulns/ folder of a copy of https://github.com/pypa/advisory-database"
    )
    tool = "npm audit" if unreachable.service == NPM_ENDPOINT else "pip-audit"
    print(f"{tool}: NOT RUN: {unreachable}; {way_forward}. The pipelines' `make audit-online` is the gate.")


if __name__ == "__main__":
    sys.exit(main())
