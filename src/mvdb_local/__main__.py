"""``python -m mvdb_local`` (what ``make run`` runs): the whole stack on this machine.

DynamoDB Local on 127.0.0.1:8001 with its data in .local/dynamodb (kept between runs), the
movies table created if missing and loaded if empty, and the API on http://127.0.0.1:8000.
Ctrl-C stops everything; the JVM also dies with this process if it is killed.

Auth works as deployed: the API sits behind a stand-in for API Gateway built from
infra/template.yaml (its routes, their Cognito authorizer scopes, its gateway responses) and
the service checks scopes itself (REQUIRE_AUTH=true). Two app clients get new secrets at every
start, printed at start-up and written to .local/clients.json (readable by you only):
``mvdb-local-machine`` (movies/read movies/write) and ``mvdb-local-readonly`` (movies/read).
Get a token from the local token endpoint, then call the API with it:

    TOKEN=$(curl -s -u mvdb-local-machine:SECRET -d grant_type=client_credentials \
        http://127.0.0.1:8000/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8000/movies?year=2013'

``--no-auth`` serves without any of this (no token endpoint, no gateway, REQUIRE_AUTH=false),
for curl without tokens: ``.venv/bin/python -m mvdb_local --no-auth``. Tokens are signed with
a key made at start-up, or the hex key in MVDB_LOCAL_SIGNING_KEY (the tests set it so they
can mint expired tokens the server trusts).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mvdb_local import PROJECT_ROOT
from mvdb_local.dynamodb_local import DynamoDBLocal, LocalStackError

if TYPE_CHECKING:
    from mvdb_local.auth import LocalCognito

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
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mvdb_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dynamodb-port", type=int, default=8001)
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / ".local" / "dynamodb"))
    parser.add_argument("--in-memory", action="store_true", help="keep nothing between runs")
    parser.add_argument("--no-auth", action="store_true", help="no tokens needed: no authorizer, REQUIRE_AUTH=false")
    parser.add_argument("--clients-file", default=str(PROJECT_ROOT / ".local" / "clients.json"))
    parser.add_argument(
        "--base-path",
        default="",
        help="serve the API under this path, as a stage (/dev) or a custom domain's base path does",
    )
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
        # Both lines of defence on or both off: the service alone would refuse every request.
        os.environ["REQUIRE_AUTH"] = "false" if args.no_auth else "true"
        base_path = "/" + args.base_path.strip("/") if args.base_path.strip("/") else ""
        return _serve(
            args.port, auth=not args.no_auth, clients_file=PROJECT_ROOT / args.clients_file, base_path=base_path
        )
    except KeyboardInterrupt:
        return 0
    finally:
        dynamodb.stop()


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(port: int, *, auth: bool, clients_file: Path, base_path: str = "") -> int:
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

    host_url = f"http://127.0.0.1:{port}"
    # The token endpoint is the user pool's, on a host of its own in AWS: here, the host's root.
    os.environ.setdefault("TOKEN_URL", host_url + "/oauth2/token")
    from mvdb.app import lambda_handler  # after the environment is set: settings are read at import
    from mvdb_local.auth import TOKEN_PATH, LocalCognito, LocalGateway, signing_key_from_env
    from mvdb_local.server import make_server

    api_url = host_url + base_path
    if auth:
        cognito = LocalCognito.with_new_clients(issuer=host_url, signing_key=signing_key_from_env())
        gateway = LocalGateway.from_template(cognito)  # the routes, scopes and refusals of infra/template.yaml
        server = make_server(
            lambda_handler,
            "127.0.0.1",
            port,
            authorizer=gateway.authorizer,
            endpoints={TOKEN_PATH: cognito.token_endpoint},
            base_path=base_path,
        )
        cognito.write_clients_file(clients_file, api_url=api_url, token_url=host_url + TOKEN_PATH)
        _print_clients(cognito, host_url + TOKEN_PATH, clients_file)
    else:
        server = make_server(lambda_handler, "127.0.0.1", port, base_path=base_path)
        print("auth is off (--no-auth): no tokens needed, no scope checks", file=sys.stderr)
    print(f"mvdb on {api_url} (docs: {api_url}/docs); Ctrl-C stops", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _print_clients(cognito: LocalCognito, token_url: str, clients_file: Path) -> None:
    print(f"tokens: POST {token_url} (client credentials; also in {clients_file})", file=sys.stderr)
    for client in cognito.clients:
        print(f"  {client.client_id:<20} {' '.join(client.scopes):<26} secret {client.client_secret}", file=sys.stderr)
    machine = cognito.clients[0]
    print(
        f"  curl -s -u {machine.client_id}:{machine.client_secret} -d grant_type=client_credentials {token_url}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
