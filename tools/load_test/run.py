"""``make load-test``: 50 simulated clients for 60 s against the local stack, then the figures.

Starts the local stack exactly as ``make run`` does (``python -m mvdb_local``, in memory, on
free ports, auth on), fetches a client-credentials token from its token endpoint, runs the
Locust scenario headless and prints throughput, error rate and p50/p95/p99 per request type.
Exits non-zero if any request failed.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    from mvdb_local.process import run_local_stack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="60s")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mvdb-load-"))
    with run_local_stack(work) as stack:
        prefix = work / "stats"
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "tools" / "load" / "locustfile.py"), "--headless",
             "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.duration,
             "--host", stack.api_url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
            cwd=ROOT, env={**os.environ, "MVDB_TOKEN": stack.access_token()}, capture_output=True, text=True,
            check=False,  # its exit status is judged from the statistics below
        )  # fmt: skip
        return _report(prefix, args, locust)


def _report(prefix: Path, args: argparse.Namespace, locust: subprocess.CompletedProcess[str]) -> int:
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        print(locust.stdout[-3000:], locust.stderr[-3000:], sep="\n")
        return 1
    rows = list(csv.DictReader(stats_file.open()))
    print(f"# Load: {args.users} users for {args.duration} against the local stack (auth on), {os.cpu_count()} cores")
    print(f"{'request':34s} {'count':>7s} {'fail':>5s} {'rps':>7s} {'p50':>6s} {'p95':>6s} {'p99':>6s}  (ms)")
    total = None
    for row in rows:
        line = (
            f"{row['Name']:34s} {row['Request Count']:>7s} {row['Failure Count']:>5s} "
            f"{float(row['Requests/s']):7.1f} {row['50%']:>6s} {row['95%']:>6s} {row['99%']:>6s}"
        )
        print(line)
        if row["Name"] == "Aggregated":
            total = row
    if total is None:
        return 1
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    print(
        f"throughput {float(total['Requests/s']):.1f} req/s; error rate {failures / max(requests, 1):.2%} ({failures})"
    )
    failures_file = Path(f"{prefix}_failures.csv")
    if failures and failures_file.exists():
        print(failures_file.read_text()[:2000])
    return 1 if failures or requests == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
