"""Fail when a tracked file holds a secret-shaped string that the audited baseline does not list.

``detect-secrets scan`` finds candidates; each is matched to ``.secrets.baseline`` by file and
hashed secret, not by line, so moving code around needs no new baseline, while any new
candidate (a new string, or a known one in a new file) fails until audited
(``make secrets-baseline``, then ``detect-secrets audit .secrets.baseline``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = r"(^|/)(package-lock\.json|requirements/.*\.txt|data/moviedata\.json|\.secrets\.baseline)$"


def findings(document: dict) -> set[tuple[str, str, str]]:
    return {
        (filename, secret["type"], secret["hashed_secret"])
        for filename, secrets in document.get("results", {}).items()
        for secret in secrets
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the git work tree to scan")
    args = parser.parse_args(argv)
    root = args.root
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    scan = subprocess.run(
        [str(Path(sys.executable).with_name("detect-secrets")), "scan", "--exclude-files", EXCLUDED, *tracked],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    current = findings(json.loads(scan.stdout))
    baseline = json.loads((root / ".secrets.baseline").read_text())
    audited = findings(baseline)
    confirmed = {
        (filename, s["type"], s["hashed_secret"])
        for filename, secrets in baseline.get("results", {}).items()
        for s in secrets
        if s.get("is_secret") is not False
    }
    new = sorted(current - audited)
    for filename, kind, _ in new:
        print(f"NEW: {kind} in {filename}: not in the audited baseline")
    for filename, kind, _ in sorted(confirmed & current):
        print(f"SECRET: {kind} in {filename} is marked as a real secret: remove it")
    print(f"secrets scan: {len(tracked)} tracked files, {len(current)} candidates, {len(new)} not audited")
    return 1 if new or (confirmed & current) else 0


if __name__ == "__main__":
    sys.exit(main())
