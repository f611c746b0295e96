"""``mvdb``: operator commands.

``mvdb load`` puts the movie data set into a table and indexes it for search; ``mvdb reindex``
builds or repairs the search index of a table; ``mvdb create-table`` creates an empty movies
table and its search index table in DynamoDB Local, shaped as the templates define them (in AWS
the stack owns its tables). A local endpoint (``--endpoint http://127.0.0.1:8001``) needs no AWS region or
credentials: DynamoDB Local accepts any, so placeholders are used unless the environment has some.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["main"]

_DEFAULT_FILE = Path("data/moviedata.json")
# For DynamoDB Local, which accepts any region and credentials (the local stack runs it -sharedDb).
LOCAL_REGION = "us-east-1"
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def is_local_endpoint(endpoint: str | None) -> bool:
    """Whether ``endpoint`` is on this machine (localhost or a loopback address), i.e. DynamoDB Local."""
    host = urlsplit(endpoint or "").hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What to do when the AWS SDK finds no region or no credentials: the likeliest cause is a command
# meant for the local stack run without its endpoint.
_AWS_SETUP_HINT = (
    "For the local stack (make run), pass --endpoint http://127.0.0.1:8001 (its DynamoDB Local); "
    "for AWS, set AWS_REGION (or --region) and credentials (e.g. AWS_PROFILE)."
)


def describe_aws_error(error: Exception) -> str:
    """``error`` in one line, with what to do when it is the AWS set-up that is missing.

    botocore's NoRegionError ("You must specify a region."), NoCredentialsError ("Unable to locate
    credentials") and PartialCredentialsError get ``_AWS_SETUP_HINT``; anything else is ``str(error)``.
    """
    from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError

    if isinstance(error, NoRegionError | NoCredentialsError | PartialCredentialsError):
        return f"{error} {_AWS_SETUP_HINT}"
    return str(error)


def _client(endpoint: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # More connections than loader threads, and adaptive retries for a bulk write.
    config = Config(max_pool_connections=32, retries={"max_attempts": 10, "mode": "adaptive"})
    local: dict[str, str] = {}
    if is_local_endpoint(endpoint):
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or LOCAL_REGION
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            local = _LOCAL_CREDENTIALS
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, config=config, **local)


def stack_output(stack: str, region: str | None, key: str) -> str:
    """The value of the output ``key`` of the CloudFormation stack ``stack``."""
    import boto3

    outputs = (
        boto3.client("cloudformation", region_name=region)
        .describe_stacks(StackName=stack)["Stacks"][0]
        .get("Outputs", [])
    )
    for output in outputs:
        if output["OutputKey"] == key:
            return str(output["OutputValue"])
    raise SystemExit(f"error: stack {stack} has no {key} output")


def table_from_stack(stack: str, region: str | None) -> str:
    return stack_output(stack, region, "TableName")


def _tables(args: argparse.Namespace) -> tuple[str, str] | None:
    """The movies table and its search index table that ``--table``/``--stack``/the environment name."""
    from mvdb.config import default_search_index_table_name

    region = args.region or os.environ.get("REGION") or None
    if args.stack:
        return table_from_stack(args.stack, region), stack_output(args.stack, region, "SearchIndexTableName")
    table = args.table or os.environ.get("TABLE_NAME")
    if not table:
        return None
    named = args.index_table or os.environ.get("SEARCH_INDEX_TABLE_NAME")
    return table, named or default_search_index_table_name(table)


def _load(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from tqdm import tqdm

    from mvdb.loader import load_movies, read_records

    region = args.region or os.environ.get("REGION") or None
    tables = _tables(args)
    if tables is None:
        print("error: name the table with --table, --stack or TABLE_NAME", file=sys.stderr)
        return 2
    table, index_table = tables
    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    try:
        records = read_records(args.file)
    except (OSError, ValueError) as error:
        print(f"error: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    try:
        quiet = args.quiet or None
        with (
            tqdm(total=len(records), unit="movie", desc="written", disable=quiet, file=sys.stderr) as written,
            tqdm(total=len(records), unit="movie", desc="indexed", disable=quiet, file=sys.stderr) as indexed,
        ):
            report = load_movies(
                _client(endpoint, region),
                table,
                records,
                index_table=index_table,
                skip_invalid=args.skip_invalid,
                workers=args.workers,
                on_progress=written.update,
                on_indexed=indexed.update,
            )
    except (BotoCoreError, ClientError) as error:
        # e.g. a misspelt table, no credentials, throttling past the retries: one line, no traceback.
        print(f"error: loading into {table} failed: {describe_aws_error(error)}", file=sys.stderr)
        print("the load is idempotent: fix the cause and run it again", file=sys.stderr)
        return 1
    for bad in report.invalid:
        print(f"invalid record {bad.index}: {bad.reason}", file=sys.stderr)
    if report.invalid and not args.skip_invalid:
        print(
            f"{len(report.invalid)} invalid record(s): nothing written (use --skip-invalid to load the rest)",
            file=sys.stderr,
        )
        return 1
    print(
        f"loaded {report.written} of {report.total} movies into {table} "
        f"({len(report.invalid)} skipped) in {report.seconds:.2f} s ({report.items_per_second:.0f} items/s)"
    )
    print(f"indexed {report.indexed} movies into {index_table} in {report.index_seconds:.2f} s")
    if report.not_indexed:
        print(
            f"error: {len(report.not_indexed)} movie(s) could not be indexed (DynamoDB kept refusing): "
            "run `mvdb reindex` to finish",
            file=sys.stderr,
        )
        return 1
    return 0


def _reindex(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from tqdm import tqdm

    from mvdb.reindex import reindex

    region = args.region or os.environ.get("REGION") or None
    tables = _tables(args)
    if tables is None:
        print("error: name the table with --table, --stack or TABLE_NAME", file=sys.stderr)
        return 2
    table, index_table = tables
    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    client = _client(endpoint, region)
    try:
        # DescribeTable's ItemCount is refreshed about every six hours: the bar's total is an estimate.
        estimate = int(client.describe_table(TableName=table)["Table"].get("ItemCount", 0)) or None
        with tqdm(total=estimate, unit="movie", desc="checked", disable=args.quiet or None, file=sys.stderr) as bar:
            report = reindex(
                client, table, index_table, workers=args.workers, restart=args.restart, on_progress=bar.update
            )
    except (BotoCoreError, ClientError) as error:
        print(f"error: reindexing {table} into {index_table} failed: {describe_aws_error(error)}", file=sys.stderr)
        print("reindex resumes after the last year it finished: fix the cause and run it again", file=sys.stderr)
        return 1
    if report.resumed_from_year is not None:
        print(f"resumed at year {report.resumed_from_year} (counts include the earlier run)")
    print(
        f"reindexed {table} into {index_table}: {report.checked} movies checked, {report.in_step} already in step, "
        f"{report.reconciled} reconciled, {report.removed} removed, {len(report.failed)} failed "
        f"in {report.seconds:.2f} s"
    )
    if report.failed:
        print(f"error: {len(report.failed)} movie(s) not reconciled: run `mvdb reindex` again", file=sys.stderr)
        return 1
    return 0


def _create_table(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    if not is_local_endpoint(endpoint):
        print(
            "error: create-table is for DynamoDB Local: give --endpoint http://127.0.0.1:<port>. In AWS the "
            "stack creates and owns its table (make deploy), with its encryption, backups and protection.",
            file=sys.stderr,
        )
        return 2
    from mvdb.config import default_search_index_table_name
    from mvdb_local.table import create_tables  # reads infra/template.yaml: run from a checkout

    index_table = args.index_table or default_search_index_table_name(args.table)
    try:
        created = create_tables(_client(endpoint, args.region), args.table, index_table)
    except (BotoCoreError, ClientError) as error:
        print(f"error: creating {args.table} at {endpoint} failed: {describe_aws_error(error)}", file=sys.stderr)
        return 1
    for name, new in zip((args.table, index_table), created, strict=True):
        print(f"{'created' if new else 'exists already:'} table {name} at {endpoint}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-table", help="search index table (default: $SEARCH_INDEX_TABLE_NAME, else <table>-search-index)"
    )
    parser.add_argument(
        "--endpoint", help="DynamoDB endpoint, e.g. http://127.0.0.1:8001 (default: $AWS_ENDPOINT_URL_DYNAMODB)"
    )
    parser.add_argument(
        "--region",
        help=f"AWS region (default: $REGION, then the AWS configuration; {LOCAL_REGION} for a local endpoint)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mvdb", description="mvdb operator commands")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load movies from a JSON file into a DynamoDB table")
    load.add_argument("--file", type=Path, default=_DEFAULT_FILE, help="JSON array of movies (default: %(default)s)")
    target = load.add_mutually_exclusive_group()
    target.add_argument("--table", help="table name (default: $TABLE_NAME)")
    target.add_argument("--stack", help="read both table names from this CloudFormation stack's outputs")
    _add_target_arguments(load)
    load.add_argument("--skip-invalid", action="store_true", help="load the valid records even if some are invalid")
    load.add_argument("--workers", type=_positive_int, default=8, help="parallel writers (default: %(default)s)")
    load.add_argument("--quiet", action="store_true", help="no progress bars")
    load.set_defaults(handler=_load)

    reindex = commands.add_parser(
        "reindex",
        help="build or repair the search index of a movies table (idempotent; resumes after a kill)",
        description="Reconcile the search index with the movies table, year by year; movies already in step cost "
        "one read. A killed run resumes after the last year it finished.",
    )
    target = reindex.add_mutually_exclusive_group()
    target.add_argument("--table", help="table name (default: $TABLE_NAME)")
    target.add_argument("--stack", help="read both table names from this CloudFormation stack's outputs")
    _add_target_arguments(reindex)
    reindex.add_argument("--workers", type=_positive_int, default=8, help="parallel reconcilers (default: %(default)s)")
    reindex.add_argument("--restart", action="store_true", help="start from the first year, not where a run stopped")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")
    reindex.set_defaults(handler=_reindex)

    create = commands.add_parser(
        "create-table",
        help="create an empty movies table and its search index table in DynamoDB Local, as the templates define them",
    )
    create.add_argument("--table", required=True, help="table name, e.g. mvdb-movies")
    create.add_argument("--index-table", help="search index table name (default: <table>-search-index)")
    create.add_argument(
        "--endpoint", help="DynamoDB Local, e.g. http://127.0.0.1:8001 (default: $AWS_ENDPOINT_URL_DYNAMODB)"
    )
    create.add_argument("--region", help=f"region (default: {LOCAL_REGION}: DynamoDB Local accepts any)")
    create.set_defaults(handler=_create_table)

    from mvdb.backup_cli import add_backup_commands

    add_backup_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (NoRegionError, NoCredentialsError, PartialCredentialsError) as error:  # outside a command's own handling
        print(f"error: {describe_aws_error(error)}", file=sys.stderr)  # e.g. --stack: a CloudFormation call
        return 1


if __name__ == "__main__":
    sys.exit(main())
