"""Fail when an installed third-party package's licence is not on the allow-list.

Reads what pip-licenses reports for the current environment (the project's .venv, which holds
the Lambda's dependencies and every tool) and checks each licence expression against
tools/security/licences.toml. ``A OR B`` passes if either is allowed, ``A AND B`` only if both are;
a package listing several classifiers passes if any of them is allowed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_OWN = {"mvdb"}


def _spdx(term: str, aliases: dict[str, str]) -> str:
    term = term.strip()
    return aliases.get(term, aliases.get(term.strip("()"), term.strip("()")))


def _allowed(expression: str, allowed: set[str], aliases: dict[str, str]) -> bool:
    alternatives = [part.strip() for part in expression.split(";") if part.strip()]
    for alternative in alternatives:
        options = re.split(r"\s+OR\s+", alternative)
        for option in options:
            terms = [_spdx(t, aliases) for t in re.split(r"\s+AND\s+", option)]
            terms = [t for t in terms if t]
            if terms and all(t in allowed for t in terms):
                return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policy", type=Path, default=Path(__file__).resolve().with_name("licences.toml"))
    args = parser.parse_args(argv)
    policy = tomllib.loads(args.policy.read_text())
    allowed, aliases, reviewed = set(policy["allowed"]), policy.get("aliases", {}), policy.get("reviewed", {})
    report = subprocess.run(
        [sys.executable, "-m", "piplicenses", "--format=json", "--from=mixed", "--with-system"],
        capture_output=True,
        text=True,
        check=True,
    )
    packages = json.loads(report.stdout)
    refused = []
    for package in packages:
        name, licence = package["Name"], package["License"]
        if name.lower() in _OWN or name in reviewed:
            continue
        if not _allowed(licence, allowed, aliases):
            refused.append(f"{name} {package['Version']}: {licence}")
    for line in refused:
        print(f"NOT ALLOWED: {line}")
    shown = args.policy.relative_to(ROOT) if args.policy.is_relative_to(ROOT) else args.policy
    print(f"licence check: {len(packages)} packages, {len(refused)} not on the allow-list ({shown})")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
