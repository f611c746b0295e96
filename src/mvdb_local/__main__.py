"""``python -m mvdb_local`` (what ``make run`` runs): the whole stack on this machine.

DynamoDB Local on 127.0.0.1:8001 with its data in .local/dynamodb (kept between runs; the first
run starts from a copy of the seed database, ``mvdb_local.seed``: the movies loaded and indexed),
the tables created if missing, the API on http://127.0.0.1:8000, and the stream's consumers (the
search index function, the audit trail function) each fed the movies table's stream by a poller
process (``mvdb_local.streams``), as Lambda feeds them in AWS. The audit trail goes to
.local/audit, a directory laid out like the audit bucket; the history route reads it.
``--port``/``--dynamodb-port`` (``make run PORT=... DYNAMODB_PORT=...``) pick other ports (a
taken one is refused with ports free now to run on), the data and state directories are held by
one stack at a time (``mvdb_local.exclusive``), and
``--base-path /dev`` serves the API under a path, as a stage's URL or a custom domain's base path
does in AWS (the token endpoint stays at the host's root, as Cognito's is on a host of its own).
Ctrl-C (or SIGTERM) stops everything, DynamoDB Local last (it ignores the terminal's Ctrl-C, and
also dies with this process if it is killed); before the stack is up, with one line and status
130 (143). A SIGINT ignored at the start (a script's background job) stays ignored, here and in
the stream pollers.

Auth works as deployed: the API sits behind a stand-in for API Gateway built from
infra/template.yaml (its routes, their Cognito authorizer scopes, its gateway responses), which
verifies RS256 access tokens against the key set of a stand-in Cognito user pool, and the
service checks scopes itself (REQUIRE_AUTH=true). Three app clients, ``mvdb-local-machine``
(movies/read movies/write), ``mvdb-local-readonly`` (movies/read) and the auditors' (movies/audit),
are printed at start-up (never their secrets: those are kept in .local/clients.json, readable by
you only); the secrets and the signing key stay the same across restarts until ``--rotate-secrets``.
Get a token from the local token endpoint, then call the API with it (the start-up lines
and README.md show how, the secret read from that file).

``--no-auth`` serves without any tokens (no token endpoint, no authorizer, REQUIRE_AUTH=false),
for curl without tokens: ``.venv/bin/python -m mvdb_local --no-auth``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import subprocess
import sys
import threading
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from mvdb_local import PROJECT_ROOT
from mvdb_local.dynamodb_local import DATABASE_FILE, DynamoDBLocal, LocalStackError

if TYPE_CHECKING:
    from mvdb_local.cognito import LocalCognito

STREAM_CHECKPOINTS = "stream-checkpoints"  # in the data directory: each stream consumer's checkpoint
LOCAL_ENV = {
    "TABLE_NAME": "mvdb-movies",
    "REGION": "us-east-1",
    "ENVIRONMENT": "local",
    "POWERTOOLS_SERVICE_NAME": "mvdb",
    "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
    "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as infra/template.yaml's Globals give every function
    # DynamoDB Local accepts any credentials; these keep boto3 from looking for real ones.
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mvdb_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=_port, default=8000, help="the API's port (default: %(default)s)")
    parser.add_argument(
        "--dynamodb-port", type=_port, default=8001, help="DynamoDB Local's port (default: %(default)s)"
    )
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / ".local" / "dynamodb"))
    parser.add_argument("--in-memory", action="store_true", help="keep no table data between runs")
    parser.add_argument("--no-auth", action="store_true", help="no tokens needed: no authorizer, REQUIRE_AUTH=false")
    parser.add_argument(
        "--state-dir",
        default=str(PROJECT_ROOT / ".local"),
        help="where the app clients' secrets and the token signing key are kept (default: %(default)s)",
    )
    parser.add_argument("--rotate-secrets", action="store_true", help="new client secrets and a new signing key")
    parser.add_argument(
        "--base-path",
        default="",
        help="serve the API under this path, as a stage (/dev) or a custom domain's base path does",
    )
    args = parser.parse_args(argv)
    if args.port == args.dynamodb_port:
        parser.error(
            f"the API and DynamoDB Local cannot share port {args.port}: give them two different ports "
            f"(make run PORT={args.port} DYNAMODB_PORT={args.port + 1 if args.port < 65535 else args.port - 1})"
        )
    try:
        return _hold_and_run(args)
    except KeyboardInterrupt as stop:  # before anything was started (_run handles its own)
        return _stopped_while_starting(stop)


def _stopped_while_starting(stop: KeyboardInterrupt) -> int:
    """One line, no traceback; the exit status of a process ended by that signal, as shells report it (128+n).

    What was cut short is never trusted by the next start (the seed and the data directory's copy
    of it are made whole or not at all), so it begins again.
    """
    terminated = isinstance(stop, _Terminated)
    print(
        f"{'terminated' if terminated else 'interrupted'} while starting: stopped; nothing half-made is kept, "
        "the next start begins again",
        file=sys.stderr,
    )
    return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def _port(text: str) -> int:
    """A TCP port for argparse: 1-65535 (0 would be any port; bind() refuses the rest)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: a port is 1-65535")
    return port


def _hold_and_run(args: argparse.Namespace) -> int:
    from mvdb_local.exclusive import DirectoryInUse, lock_directory, ports_to_suggest

    # First, before anything starts: the directories (a stack of this clone is the likeliest clash,
    # and other ports would only lead to it), then the ports.
    holder = f"mvdb on http://127.0.0.1:{args.port}, DynamoDB Local on port {args.dynamodb_port}"
    held = [PROJECT_ROOT / args.state_dir] + ([] if args.in_memory else [PROJECT_ROOT / args.data_dir])
    with ExitStack() as locks:
        try:
            for directory in held:
                locks.enter_context(lock_directory(directory, holder))
        except DirectoryInUse as error:
            print(f"error: {error}.", file=sys.stderr)
            return 1
        free = ports_to_suggest(args.port, args.dynamodb_port)
        if free != (args.port, args.dynamodb_port):
            print(_ports_taken(args.port, args.dynamodb_port, free), file=sys.stderr)
            return 1
        return _run(args)


def _ports_taken(port: int, dynamodb_port: int, free: tuple[int, int]) -> str:
    asked = ((port, "the API", free[0]), (dynamodb_port, "DynamoDB Local", free[1]))
    taken = [f"{wanted} ({what})" for wanted, what, instead in asked if wanted != instead]
    verb = "ports {} are" if len(taken) > 1 else "port {} is"
    return (
        f"error: {verb.format(' and '.join(taken))} already in use: is mvdb already running? Stop it, or run on "
        f"ports free now: make run PORT={free[0]} DYNAMODB_PORT={free[1]} "
        f"(.venv/bin/python -m mvdb_local --port {free[0]} --dynamodb-port {free[1]})."
    )


def _run(args: argparse.Namespace) -> int:
    """The stack, its ports found free and its directories held."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored at the start: left so (a background job)
        signal.signal(signal.SIGINT, _stop_on_sigint)

    for name, value in LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    # The audit trail: the audit consumer writes it, the history route reads it, laid out like the
    # bucket (mvdb.repository.audit_store). Kept with the data; emptied with a table in memory.
    audit_directory = PROJECT_ROOT / args.state_dir / "audit"
    if args.in_memory:
        import shutil

        shutil.rmtree(audit_directory, ignore_errors=True)
    os.environ.setdefault("AUDIT_DIRECTORY", str(audit_directory))
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{args.dynamodb_port}"
    # Both lines of defence on or both off: the service alone would refuse every request.
    os.environ["REQUIRE_AUTH"] = "false" if args.no_auth else "true"
    host_url = f"http://127.0.0.1:{args.port}"
    base_path = "/" + args.base_path.strip("/") if args.base_path.strip("/") else ""
    api_url = host_url + base_path
    cognito = None
    if not args.no_auth:
        from mvdb_local.cognito import TOKEN_PATH, USER_POOL_ID, LocalCognito
        from mvdb_local.private_files import UnsafeFileError

        try:
            cognito = LocalCognito.from_state(
                PROJECT_ROOT / args.state_dir, f"{host_url}/{USER_POOL_ID}", rotate=args.rotate_secrets
            )
        except (UnsafeFileError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    state_dir = PROJECT_ROOT / args.state_dir
    server: ThreadingHTTPServer | None = None
    dynamodb: DynamoDBLocal | None = None
    pollers: list[subprocess.Popen[bytes]] = []
    stopping, ended = threading.Event(), list[str]()
    serving = False
    try:
        try:
            server = _server(args.port, cognito, base_path)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:  # taken since main() found it free
                raise
            from mvdb_local.exclusive import ports_to_suggest

            print(
                _ports_taken(args.port, args.dynamodb_port, ports_to_suggest(args.port, args.dynamodb_port)),
                file=sys.stderr,
            )
            return 1
        data_dir = None if args.in_memory else PROJECT_ROOT / args.data_dir
        dynamodb = _dynamodb_local(args.dynamodb_port, data_dir)
        dynamodb.start()
        _prepare_tables()
        pollers = _stream_pollers(state_dir, None if data_dir is None else data_dir / STREAM_CHECKPOINTS)
        if cognito is not None:
            cognito.save(PROJECT_ROOT / args.state_dir, api_url=api_url, token_url=host_url + TOKEN_PATH)
            _print_clients(cognito, host_url + TOKEN_PATH, PROJECT_ROOT / args.state_dir)
        else:
            print("auth is off (--no-auth): no tokens needed, no scope checks", file=sys.stderr)
        serving = True  # from the line saying so, a Ctrl-C is the way to stop
        print(_serving_banner(api_url, dynamodb.endpoint), file=sys.stderr)
        threading.Thread(target=_stop_when_a_poller_ends, args=(pollers, server, stopping, ended), daemon=True).start()
        server.serve_forever()
        if ended:
            print(f"error: {ended[0]}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (_stop_on_sigterm)
        # Stopped as asked; before the stack was up (a seed being built, tables being loaded), saying so.
        return 0 if serving else _stopped_while_starting(stop)
    except LocalStackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stopping.set()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):  # a second one must not cut the clean-up short
            signal.signal(stop_signal, signal.SIG_IGN)
        if server is not None:
            server.server_close()
        for poller in pollers:
            _stop(poller)
        if dynamodb is not None:
            dynamodb.stop()


class _Terminated(KeyboardInterrupt):
    """SIGTERM, stopping the stack as a Ctrl-C does."""


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    # The first one stops the stack; the rest are ignored: `kill -TERM` to make's group reaches this
    # process twice (make passes its own on), and the second would cut the clean-up short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated


def _stop_on_sigint(_signum: int, _frame: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as above: one Ctrl-C stops, a second cannot break the clean-up
    raise KeyboardInterrupt


def _stop_when_a_poller_ends(
    pollers: list[subprocess.Popen[bytes]], server: ThreadingHTTPServer, stopping: threading.Event, ended: list[str]
) -> None:
    """Shut the API down, with the reason in ``ended``, when a stream poller ends while the stack runs.

    Without its pollers the stack would go on answering writes with 201 and ``/health`` with ok while
    none of them reached the audit trail or the search index. A Ctrl-C reaches the pollers and the
    server together: ``stopping`` is set by then (within the grace second), and nothing is reported.
    """
    while not stopping.wait(0.5):
        finished = [poller for poller in pollers if poller.poll() is not None]
        if finished and not stopping.wait(1.0):
            poller = finished[0]
            command = [str(part) for part in poller.args] if isinstance(poller.args, list) else []
            consumer = command[command.index("--consumer") + 1] if "--consumer" in command else "?"
            ended.append(
                f"the {consumer} stream poller ended ({_how_it_ended(poller.returncode)}): the stack stops, "
                "as its writes would no longer reach the audit trail and the search index"
            )
            server.shutdown()
            return


def _how_it_ended(returncode: int) -> str:
    """A poller's end in words: stopped (it exits 0 when asked to stop), killed by a signal, or failed."""
    if returncode == 0:
        return "it was stopped: exit status 0"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"it failed: exit status {returncode}; its output is above"


def _server(port: int, cognito: LocalCognito | None, base_path: str) -> ThreadingHTTPServer:
    from mvdb_local.cognito import TOKEN_PATH

    if cognito is not None:
        # The OpenAPI document's token URL (Swagger UI's Authorize): in AWS the Cognito domain's.
        os.environ.setdefault("TOKEN_URL", f"http://127.0.0.1:{port}{TOKEN_PATH}")
    from mvdb.app import lambda_handler  # after the environment is set: settings are read at import
    from mvdb_local.gateway import CognitoAuthorizer, LocalGateway
    from mvdb_local.server import make_server

    # The template passes its CorsAllowOrigins parameter to the function as CORS_ALLOW_ORIGINS; here
    # the setting comes first, and the gateway's own responses follow it as a stack's would.
    parameters = {"CorsAllowOrigins": os.environ.get("CORS_ALLOW_ORIGINS", "")}
    if cognito is None:
        gateway = LocalGateway.from_template(authorizer=None, base_path=base_path, parameters=parameters)
        return make_server(lambda_handler, "127.0.0.1", port, gateway=gateway)

    # The routes, scopes and refusals of infra/template.yaml; tokens verified against the pool's JWKS.
    authorizer = CognitoAuthorizer(cognito.issuer)
    gateway = LocalGateway.from_template(authorizer, base_path=base_path, parameters=parameters)
    endpoints = {TOKEN_PATH: cognito.token_endpoint, cognito.jwks_path: cognito.jwks_endpoint}
    return make_server(lambda_handler, "127.0.0.1", port, gateway=gateway, endpoints=endpoints)


def _dynamodb_local(port: int, data_dir: Path | None) -> DynamoDBLocal:
    """DynamoDB Local on ``data_dir`` (a new one starts as a copy of the seed), or on a throw-away copy of the seed."""
    from mvdb_local.seed import SEED_TABLE, seeded_database

    if os.environ["TABLE_NAME"] != SEED_TABLE:  # another table: created and loaded by _prepare_tables
        return DynamoDBLocal(port=port, data_dir=data_dir)
    if data_dir is None:
        return DynamoDBLocal(port=port, seed=seeded_database())
    if not (data_dir / DATABASE_FILE).exists():
        copy_seed(seeded_database(), data_dir)
    return DynamoDBLocal(port=port, data_dir=data_dir)


def copy_seed(seed: Path, data_dir: Path) -> None:
    """Copy the seed's files into ``data_dir``, the database last, each whole or not at all.

    A start trusts a data directory that holds the database: a copy cut short (Ctrl-C) must not
    leave one there. Each file is copied under a temporary name and renamed (atomic) into place.
    """
    import shutil

    data_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted(seed.iterdir(), key=lambda path: path.name == DATABASE_FILE):
        partial = data_dir / f".{source.name}.copying"
        try:
            shutil.copy2(source, partial)
            os.replace(partial, data_dir / source.name)
        finally:
            partial.unlink(missing_ok=True)


def _prepare_tables() -> None:
    """Create what is missing (tables, the stream), then load or reindex.

    The stream is switched on before anything is written, as the seed asks (``mvdb_local.seed``: it
    has none). A seed's table is indexed already; only a search index table created here is filled.
    """
    import boto3

    from mvdb.config import get_settings
    from mvdb.loader import load_movies, read_records
    from mvdb.reindex import reindex
    from mvdb_local.table import create_idempotency_table, create_tables, enable_stream

    settings = get_settings()
    table, index_table = settings.table_name, settings.search_index_table_name
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    created_table, created_index = create_tables(client, table, index_table)
    created_records = create_idempotency_table(client, settings.idempotency_table_name)
    for name, created in (
        (table, created_table),
        (index_table, created_index),
        (settings.idempotency_table_name, created_records),
    ):
        if created:
            print(f"created table {name}", file=sys.stderr)
    enable_stream(client, table)
    if client.scan(TableName=table, Limit=1, Select="COUNT")["Count"] == 0:
        report = load_movies(client, table, read_records(PROJECT_ROOT / "data" / "moviedata.json"))
        print(
            f"loaded and indexed {report.written} movies in {report.seconds + report.index_seconds:.2f} s",
            file=sys.stderr,
        )
    elif created_index:  # a data directory from before the search index
        print(f"indexing the movies of {table} for search (once)...", file=sys.stderr)
        reindexed = reindex(client, table, index_table)
        print(f"indexed {reindexed.reconciled} movies in {reindexed.seconds:.2f} s", file=sys.stderr)


def _stream_pollers(state_dir: Path, checkpoint_dir: Path | None) -> list[subprocess.Popen[bytes]]:
    """One poller process per consumer of the movies table's stream (``mvdb_local.streams.CONSUMERS``).

    Each calls its consumer's Lambda handler as its event source mapping does in AWS, in a process
    of its own as a function of its own would run; it dies with this one. Returns once every
    poller has its starting position, so no write made after this is missed.

    A consumer resumes after its checkpoint in ``checkpoint_dir`` (kept with the table data), as a
    mapping does after it is disabled and enabled again; one without a checkpoint starts at LATEST:
    what the stream already holds is a load or reindex just done (the seed's load left no records:
    its stream was off), or what an earlier run's consumers processed, none of it a client's write
    to record or index again.
    """
    import tempfile
    import time

    from mvdb_local.dynamodb_local import _die_with_parent
    from mvdb_local.streams import CONSUMERS

    ready_dir = Path(tempfile.mkdtemp(prefix="mvdb-pollers-"))
    pollers = []
    for consumer in CONSUMERS:
        command = [sys.executable, "-m", "mvdb_local.streams", "--consumer", consumer]
        command += ["--starting-position", "LATEST", "--ready-file", str(ready_dir / consumer)]
        command += ["--checkpoint-dir", str(checkpoint_dir)] if checkpoint_dir is not None else []
        command += ["--dead-letters", str(state_dir / "stream-dead-letters.jsonl")]
        env = {**os.environ, "POWERTOOLS_SERVICE_NAME": f"mvdb-{consumer}"}
        pollers.append(subprocess.Popen(command, env=env, preexec_fn=_die_with_parent))  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while not all((ready_dir / consumer).exists() for consumer in CONSUMERS):
        if time.monotonic() > deadline or any(p.poll() is not None for p in pollers):
            for poller in pollers:
                _stop(poller)
            raise LocalStackError("a stream poller did not start; its output is above")
        time.sleep(0.05)
    for consumer in CONSUMERS:
        (ready_dir / consumer).unlink()
    ready_dir.rmdir()
    return pollers


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# Prints one client's secret from the clients file (argv: the file, the client ID), for $(...).
_CLIENT_FILE_LOOKUP = (
    'import json,sys; print(next(c["client_secret"] for c in json.load(open(sys.argv[1]))["clients"] '
    'if c["client_id"] == sys.argv[2]))'
)


def _serving_banner(api_url: str, dynamodb_endpoint: str) -> str:
    """The lines saying the stack is up: DynamoDB Local's endpoint (every ``mvdb`` command against this
    stack takes it as ``--endpoint``; it moves with DYNAMODB_PORT), then the API's, last."""
    return (
        f"DynamoDB Local on {dynamodb_endpoint} (the mvdb commands' --endpoint {dynamodb_endpoint})\n"
        f"mvdb on {api_url} (docs: {api_url}/docs); Ctrl-C stops"
    )


def _print_clients(cognito: LocalCognito, token_url: str, state_dir: Path) -> None:
    """The app clients and how to get a token; never a secret (a terminal is scrolled back, shared, logged).

    The secrets stay in the clients file (0600); the printed commands read one from it.
    """
    import shlex

    from mvdb_local.cognito import CLIENTS_FILE

    clients_file = state_dir / CLIENTS_FILE
    print(
        f"tokens: POST {token_url} (client credentials); the clients' secrets are in {clients_file} "
        "(readable by you only; new ones with --rotate-secrets)",
        file=sys.stderr,
    )
    for client in cognito.clients:
        print(f"  {client.client_id:<20} {' '.join(client.scopes)}", file=sys.stderr)
    machine = cognito.clients[0]
    read_secret = shlex.join(["python3", "-c", _CLIENT_FILE_LOOKUP, str(clients_file), machine.client_id])
    print(f"  SECRET=$({read_secret})", file=sys.stderr)
    print(f'  curl -s -u "{machine.client_id}:$SECRET" -d grant_type=client_credentials {token_url}', file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
