"""``python -m mvdb_local`` (what ``make run`` runs): the whole stack on this machine.

DynamoDB Local on 127.0.0.1:8001 with its data in .local/dynamodb (kept between runs), the
movies table created if missing and loaded if empty, and the API on http://127.0.0.1:8000.
Ctrl-C stops everything; the JVM also dies with this process if it is killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from mvdb_local import PROJECT_ROOT
from mvdb_local.dynamodb_local import DynamoDBLocal, LocalStackError

LOCAL_ENV = {
    "TABLE_NAME": "mvdb-movies",
    "REGION": "us-east-1",
    "ENVIRONMENT": "local",
    "POWERTOOLS_SERVICE_NAME": "mvdb",
    "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
    # DynamoDB Local accepts any credentials; these keep boto3 from looking for real ones.
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Until the local token stand-in is wired in, the local run serves without scope checks.
    "REQUIRE_AUTH": "false",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mvdb_local", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dynamodb-port", type=int, default=8001)
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / ".local" / "dynamodb"))
    parser.add_argument("--in-memory", action="store_true", help="keep nothing between runs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    dynamodb = DynamoDBLocal(port=args.dynamodb_port, data_dir=None if args.in_memory else PROJECT_ROOT / args.data_dir)
    try:
        dynamodb.start()
    except LocalStackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        for name, value in LOCAL_ENV.items():
            os.environ.setdefault(name, value)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb.endpoint
        return _serve(args.port)
    except KeyboardInterrupt:
        return 0
    finally:
        dynamodb.stop()


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(port: int) -> int:
    import boto3

    from mvdb.loader import load_movies, read_records
    from mvdb_local.table import create_movies_table

    table = os.environ["TABLE_NAME"]
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    if create_movies_table(client, table):
        print(f"created table {table}", file=sys.stderr)
    if client.scan(TableName=table, Limit=1, Select="COUNT")["Count"] == 0:
        report = load_movies(client, table, read_records(PROJECT_ROOT / "data" / "moviedata.json"))
        print(f"loaded {report.written} movies in {report.seconds:.2f} s", file=sys.stderr)

    from mvdb.app import lambda_handler  # after the environment is set: settings are read at import
    from mvdb_local.server import make_server

    server = make_server(lambda_handler, "127.0.0.1", port)
    print(f"mvdb on http://127.0.0.1:{port} (docs: http://127.0.0.1:{port}/docs); Ctrl-C stops", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
