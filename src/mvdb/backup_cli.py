"""``mvdb backup`` and ``mvdb restore``: a table to files and back, in DynamoDB Local; ``mvdb verify``:
the restore drill's checks against any table, read-only (a restored table before a cut-over).

``backup`` writes every item of a table as a DynamoDB export (``mvdb.table_export``) under
``--output``; ``restore`` checks such an export (ours, or DynamoDB's own copied from S3) and
loads it into a new table created as ``infra/template.yaml`` defines it, refusing a table that
exists, then compares the new table with the export. Both talk to DynamoDB Local only: in AWS the
table is backed up by AWS Backup and point-in-time recovery, and restored as docs/operations.md
describes.

``verify`` runs what the restore validation function runs (``mvdb.verification``): the table checks
and the API's read-only checks through its own handler, serving that table read-only. It reads
and never writes, in AWS (with the caller's credentials) as in DynamoDB Local.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from mvdb.cli import describe_aws_error

__all__ = ["add_backup_commands"]

_LOCAL_ONLY = (
    "error: {command} works against DynamoDB Local: give --endpoint http://127.0.0.1:<port>. In AWS, "
    "back up and restore with AWS Backup and point-in-time recovery (docs/operations.md, restoring the table)."
)


def _local_client(args: argparse.Namespace, command: str) -> Any:
    from mvdb.cli import _client, is_local_endpoint

    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    if not is_local_endpoint(endpoint):
        print(_LOCAL_ONLY.format(command=command), file=sys.stderr)
        return None
    return _client(endpoint, args.region)


def _backup(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mvdb.table_export import back_up_table

    client = _local_client(args, "backup")
    if client is None:
        return 2
    try:
        report = back_up_table(client, args.table, args.output)
    except (BotoCoreError, ClientError, OSError) as error:
        print(f"error: backing up {args.table} failed: {describe_aws_error(error)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    print(f"backed up {report.item_count} items of {report.table} in {report.seconds:.2f} s to {report.directory}")
    print(f"content sha256 {report.content_sha256}")
    for data_file in report.files:
        print(f"  {data_file.key}: {data_file.item_count} items, sha256 {data_file.sha256}, md5 {data_file.md5_base64}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mvdb.table_export import ExportInvalid, TableExists, restore_into_new_table
    from mvdb_local.table import create_movies_table  # reads infra/template.yaml: run from a checkout

    client = _local_client(args, "restore")
    if client is None:
        return 2
    try:
        report = restore_into_new_table(
            client, args.source, args.table, create_table=lambda c, name: create_movies_table(c, name, if_missing=False)
        )
    except (ExportInvalid, TableExists) as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, OSError) as error:
        print(f"error: restoring into {args.table} failed: {describe_aws_error(error)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.__dict__ | {"matches": report.matches}, indent=2))
    else:
        restored = f"{report.item_count} of {report.expected_count} items"
        print(f"restored {restored} into {report.table} in {report.seconds:.2f} s")
        for check in report.checks:
            print(f"  {'PASS' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}")
    return 0 if report.matches else 1


def _verify(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mvdb.cli import _LOCAL_CREDENTIALS, LOCAL_REGION, _client, is_local_endpoint
    from mvdb.verification.in_process import HandlerReadApi, serve_table
    from mvdb.verification.read_checks import run_read_checks
    from mvdb.verification.table_checks import inspect_table, table_results

    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    # The API's own client (below) reads its configuration from the environment, as in Lambda.
    if endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    if args.region:
        os.environ["REGION"] = args.region
    if is_local_endpoint(endpoint):  # DynamoDB Local accepts any region and credentials
        os.environ.setdefault("REGION", LOCAL_REGION)
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            os.environ.update({name.upper(): value for name, value in _LOCAL_CREDENTIALS.items()})
    # The in-process API logs each request (its metrics are discarded: serve_table); the verdict is the output here.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        report = inspect_table(_client(endpoint, args.region), args.table)
        results = table_results(report, expected_count=args.expect_count, minimum_count=1)
        if report.item_count:
            results += run_read_checks(HandlerReadApi(serve_table(args.table)))
    except (BotoCoreError, ClientError) as error:
        print(f"error: verifying {args.table} failed: {describe_aws_error(error)}", file=sys.stderr)
        return 1
    passed = all(result.passed for result in results)
    if args.json:
        checks = [result.__dict__ for result in results]
        print(json.dumps({"table": report.as_dict(), "checks": checks, "passed": passed}, indent=2))
    else:
        print(f"{args.table}: {report.item_count} items, content sha256 {report.content_sha256} ({report.seconds} s)")
        for result in results:
            print(f"  {'PASS' if result.passed else 'FAIL'} {result.name}: {result.detail}")
    return 0 if passed else 1


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint", help="DynamoDB Local, e.g. http://127.0.0.1:8001 (default: $AWS_ENDPOINT_URL_DYNAMODB)"
    )
    parser.add_argument("--region", help="region (default: us-east-1: DynamoDB Local accepts any)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def add_backup_commands(commands: Any) -> None:
    """Add ``backup`` and ``restore`` to the ``mvdb`` command's subparsers."""
    backup = commands.add_parser("backup", help="back a DynamoDB Local table up to files (a DynamoDB export)")
    backup.add_argument("--table", required=True, help="the table to back up, e.g. mvdb-movies")
    backup.add_argument(
        "--output", type=Path, default=Path("backups"), help="where AWSDynamoDB/<export id>/ goes (default: backups)"
    )
    _common(backup)
    backup.set_defaults(handler=_backup)

    restore = commands.add_parser(
        "restore", help="restore a backup (or a DynamoDB export) into a new DynamoDB Local table"
    )
    restore.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        help="the export's directory, the one holding manifest-summary.json (backups/AWSDynamoDB/<export id>)",
    )
    restore.add_argument("--table", required=True, help="the NEW table to create; an existing table is refused")
    _common(restore)
    restore.set_defaults(handler=_restore)

    verify = commands.add_parser(
        "verify", help="run the restore drill's checks against a table, read-only (e.g. a restored table)"
    )
    verify.add_argument("--table", required=True, help="the table to check, e.g. mvdb-prod-restored-202611300400")
    verify.add_argument("--expect-count", type=int, help="the item count it must hold (default: at least 1)")
    verify.add_argument(
        "--endpoint", help="DynamoDB endpoint, e.g. DynamoDB Local (default: $AWS_ENDPOINT_URL_DYNAMODB, else AWS)"
    )
    verify.add_argument("--region", help="AWS region (default: the AWS configuration)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_verify)
