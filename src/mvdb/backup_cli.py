"""``mvdb backup`` and ``mvdb restore``: a table to files and back, in DynamoDB Local.

``backup`` writes every item of a table as a DynamoDB export (``mvdb.table_export``) under
``--output``; ``restore`` checks such an export (ours, or DynamoDB's own copied from S3) and
loads it into a new table created as ``infra/template.yaml`` defines it, refusing a table that
exists, then compares the new table with the export. Both talk to DynamoDB Local only: in AWS the
table is backed up by AWS Backup and point-in-time recovery, and restored as docs/operations.md
describes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

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
        print(f"error: backing up {args.table} failed: {error}", file=sys.stderr)
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
        print(f"error: restoring into {args.table} failed: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.__dict__ | {"matches": report.matches}, indent=2))
    else:
        restored = f"{report.item_count} of {report.expected_count} items"
        print(f"restored {restored} into {report.table} in {report.seconds:.2f} s")
        for check in report.checks:
            print(f"  {'PASS' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}")
    return 0 if report.matches else 1


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
