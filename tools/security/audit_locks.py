"""Audit hashed lock files against an OSV advisory database on disk (offline pip-audit).

pip-audit needs PyPI's or OSV's online service; where those are out of reach this reads the
PyPA advisory database (OSV YAML, one file per advisory, one folder per package) instead. A clean
result proves only "no advisory known to this data on its date", so the report names the date
(the newest ``modified`` of any advisory in it) and which databases it holds, and says that it is
not a clean bill; the online audit in the pipelines (``make audit-online``) is the gate.

Exit 0 when no locked version is affected (or each finding has an unexpired, documented
exception in tools/security/audit-exceptions.toml), 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


@dataclass(frozen=True)
class Finding:
    lock: str
    package: str
    version: str
    advisory: str
    fixed: str
    aliases: str


def read_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _affected(version: str, entry: dict) -> tuple[bool, str]:
    if version in {str(v) for v in entry.get("versions", [])}:
        return True, _fixed_of(entry)
    try:
        current = Version(version)
    except InvalidVersion:
        return False, ""
    for span in entry.get("ranges", []):
        if span.get("type") != "ECOSYSTEM":
            continue
        # Events are ordered: each "introduced" opens an affected interval, "fixed" (exclusive)
        # or "last_affected" (inclusive) closes it. A version in any open interval is affected.
        affected = False
        for event in span.get("events", []):
            if "introduced" in event:
                affected = affected or current >= Version(str(event["introduced"]))
            elif ("fixed" in event and affected and current >= Version(str(event["fixed"]))) or (
                "last_affected" in event and affected and current > Version(str(event["last_affected"]))
            ):
                affected = False
        if affected:
            return True, _fixed_of(entry)
    return False, ""


def _fixed_of(entry: dict) -> str:
    fixed = [
        str(e["fixed"])
        for r in entry.get("ranges", [])
        if r.get("type") == "ECOSYSTEM"
        for e in r.get("events", [])
        if "fixed" in e
    ]
    return ", ".join(fixed) or "none"


def audit(locks: list[Path], database: Path) -> list[Finding]:
    findings = []
    for lock in locks:
        for package, version in sorted(read_pins(lock).items()):
            folder = database / package
            for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
                advisory = yaml.safe_load(path.read_text())
                if advisory.get("withdrawn"):
                    continue  # retracted by its publisher, as OSV clients treat it
                for entry in advisory.get("affected", []):
                    if canonicalize_name(entry.get("package", {}).get("name", "")) != package:
                        continue
                    hit, fixed = _affected(version, entry)
                    if hit:
                        aliases = ", ".join(advisory.get("aliases", []))
                        findings.append(Finding(lock.name, package, version, advisory["id"], fixed, aliases))
    return findings


@dataclass(frozen=True)
class DatabaseInfo:
    """What an advisory snapshot can vouch for: its date, its size, and the databases it holds."""

    as_of: str
    advisories: int
    sources: tuple[str, ...]


def describe(database: Path) -> DatabaseInfo:
    """The newest ``modified`` date (YYYY-MM-DD) and the ID prefixes (PYSEC, GHSA, ...) of a snapshot."""
    newest, sources, count = "", set(), 0
    for path in database.glob("*/*.yaml"):
        count += 1
        sources.add(path.stem.split("-", 1)[0])
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("modified:"):
                newest = max(newest, line.split(":", 1)[1].strip().strip("'\"")[:10])
                break
    return DatabaseInfo(newest or "unknown", count, tuple(sorted(sources)))


def load_exceptions(path: Path, today: dt.date) -> tuple[dict[tuple[str, str], str], list[str]]:
    """Accepted findings by (package, advisory id), and problems with the exceptions file."""
    if not path.exists():
        return {}, []
    accepted, problems = {}, []
    for item in tomllib.loads(path.read_text()).get("exception", []):
        key = (canonicalize_name(item["package"]), item["id"])
        expires = item["expires"] if isinstance(item["expires"], dt.date) else dt.date.fromisoformat(item["expires"])
        if not item.get("reason"):
            problems.append(f"exception {key} has no reason")
        elif expires < today:
            problems.append(f"exception {key} expired on {expires}: fix the dependency or renew with a new reason")
        else:
            accepted[key] = f"accepted until {expires}: {item['reason']}"
    return accepted, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("locks", nargs="+", type=Path)
    parser.add_argument(
        "--database", type=Path, required=True, help="folder with one sub-folder of OSV YAML per package"
    )
    parser.add_argument("--exceptions", type=Path, default=Path(__file__).with_name("audit-exceptions.toml"))
    args = parser.parse_args(argv)
    if not args.database.is_dir():
        print(f"error: advisory database {args.database} not found", file=sys.stderr)
        return 2
    accepted, problems = load_exceptions(args.exceptions, dt.date.today())
    findings = audit(args.locks, args.database)
    failing = 0
    for f in findings:
        note = accepted.get((f.package, f.advisory))
        status = f"ACCEPTED ({note})" if note else "VULNERABLE"
        failing += note is None
        print(f"{status}: {f.package}=={f.version} in {f.lock}: {f.advisory} [{f.aliases}] fixed in {f.fixed}")
    for problem in problems:
        print(f"ERROR: {problem}")
    packages = sum(len(read_pins(lock)) for lock in args.locks)
    data = describe(args.database)
    print(
        f"offline audit: {packages} locked packages in {len(args.locks)} lock file(s), {len(findings)} finding(s), "
        f"{failing} unaccepted, against {args.database}: {data.advisories} advisories "
        f"({', '.join(data.sources) or 'none'}) as of {data.as_of}."
    )
    print(
        f"offline audit: NOT a clean bill: advisories published after {data.as_of}, or only in other databases, "
        "are unknown to this data; the pipelines' `make audit-online` is the gate."
    )
    return 1 if failing or problems else 0


if __name__ == "__main__":
    sys.exit(main())
