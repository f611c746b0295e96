"""The seed: a DynamoDB Local database holding the movies table loaded and indexed, built once.

Loading 4,609 movies and building their search index (about 40,000 entries, each written in a
transaction) takes DynamoDB Local a minute or more on two shared cores; every local stack and
test session would pay it again. Instead ``mvdb load`` runs once, into a DynamoDB Local on a
directory of its own, and that directory (``shared-local-instance.db``) is kept under
``.local/seed/<data file>-<fingerprint>/``. Each run then starts on a copy of it
(``DynamoDBLocal(seed=...)``): the same items ``mvdb load`` writes, in milliseconds.

The movies table is loaded without its stream, and the seed keeps it off: DynamoDB Local keeps a
record of each write to a table with a stream (the load's 4,609 if it were on), and with them
every later write to a table with a stream costs it two to three times the CPU (measured: 5.5-7
ms per PutItem instead of 2-2.5). Whoever runs on a copy switches the stream on
(``mvdb_local.table.enable_stream``) before writing anything, in the DynamoDB Local process that
takes the writes: DynamoDB Local numbers stream records on from the highest one it holds when it
starts, so a stream switched on here, after the load, would open its shard above the numbers of
the records written after a restart.

The fingerprint covers everything that decides those items: the data file, the tables'
definitions, the code that shapes movies and index entries (the models, the item and entry
builders, the index layout), the build itself and DynamoDB Local's version. A
change to any of them builds a new seed; nothing stale is ever served. Concurrent builders (two
test workers) wait on a lock, and the one that builds publishes the directory atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mvdb_local import PROJECT_ROOT
from mvdb_local.dynamodb_local import DATABASE_FILE

__all__ = ["SEED_TABLE", "seeded_database"]

SEED_TABLE = "mvdb-movies"  # the local stack's TABLE_NAME; its index table is <table>-search-index
DATA_FILE = PROJECT_ROOT / "data" / "moviedata.json"
SEED_ROOT = PROJECT_ROOT / ".local" / "seed"


def fingerprint(data_file: Path = DATA_FILE) -> str:
    """What the seed built from ``data_file`` depends on, hashed."""
    import inspect

    from mvdb import loader
    from mvdb.domain import models
    from mvdb.repository import dynamodb, index_reconciler, search_index
    from mvdb_local.dynamodb_local import find_jar
    from mvdb_local.table import movies_table_definition, search_index_table_definition

    digest = hashlib.sha256()
    digest.update(data_file.read_bytes())
    tables = [movies_table_definition(), search_index_table_definition()]
    digest.update(json.dumps(tables, sort_keys=True).encode())
    shapers = (
        models,
        search_index,
        loader.validate_records,
        dynamodb.to_item,
        index_reconciler.DynamoDBSearchIndex._entry,
        index_reconciler._manifest_item,
        _build,
    )
    for shaper in shapers:
        digest.update(inspect.getsource(shaper).encode())
    digest.update(find_jar().parent.name.encode())  # dynamodb_local_<version>
    return digest.hexdigest()[:16]


def seeded_database(data_file: Path = DATA_FILE, *, quiet: bool = False) -> Path:
    """The directory of the seed database for ``data_file``, built first if there is none yet."""
    seed = SEED_ROOT / f"{data_file.stem}-{fingerprint(data_file)}"
    if (seed / DATABASE_FILE).exists():
        return seed
    SEED_ROOT.mkdir(parents=True, exist_ok=True)
    with (SEED_ROOT / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building this very seed
        if not (seed / DATABASE_FILE).exists():
            _build(seed, data_file, quiet=quiet)
    return seed


def _build(seed: Path, data_file: Path, *, quiet: bool) -> None:
    from mvdb.cli import _client
    from mvdb.config import default_search_index_table_name
    from mvdb.loader import load_movies, read_records
    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.table import create_movies_table, create_search_index_table

    started = time.monotonic()
    if not quiet:
        print(f"building the seed database (once per data set and code version) in {seed}", file=sys.stderr)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=SEED_ROOT))
    try:
        with DynamoDBLocal(data_dir=building, heap="512m") as dynamodb:
            client = _client(dynamodb.endpoint, None)  # what `mvdb load` uses: local credentials, adaptive retries
            create_movies_table(client, SEED_TABLE, if_missing=False, stream=False)
            create_search_index_table(client, default_search_index_table_name(SEED_TABLE), if_missing=False)
            report = load_movies(client, SEED_TABLE, read_records(data_file))
            if report.invalid or report.not_indexed:
                raise RuntimeError(f"the seed's load was not clean: {report}")
        os.replace(building, seed)  # atomic: a seed directory is complete or absent
    finally:
        shutil.rmtree(building, ignore_errors=True)
    same_data = re.compile(rf"{re.escape(data_file.stem)}-[0-9a-f]{{16}}")
    for older in SEED_ROOT.iterdir():  # this data's seeds of other code: never used again
        if older != seed and same_data.fullmatch(older.name):
            shutil.rmtree(older, ignore_errors=True)
    if not quiet:
        print(
            f"seed built: {report.written} movies written and indexed in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )


def main() -> int:
    """``python -m mvdb_local.seed``: builds the seed of ``data/moviedata.json`` if it has none yet
    (a minute or so of two cores), and prints its directory. ``make test`` runs it beside the static
    checks, so that its test session does not start by waiting for it."""
    print(seeded_database())
    return 0


if __name__ == "__main__":
    sys.exit(main())
