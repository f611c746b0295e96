"""The search index stays exactly right: through the API and the stream function, whatever the stream does.

Writes go through the Lambda handler (or the repository); the stream is DynamoDB Local's, fed to
the search index function's own Lambda handler by the local poller (``stream_indexer``), as
Lambda's event source mapping feeds it in AWS. ``assert_index_exact`` compares the whole index
with what the movies table holds.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities.parser.models.dynamodb import DynamoDBStreamLambdaOnFailureDestinationModel

from mvdb.domain.errors import StorageUnavailable
from mvdb.domain.models import compute_etag
from mvdb.domain.query import MovieKey
from mvdb.repository.dynamodb import DynamoDBMovieRepository
from mvdb.repository.index_reconciler import DynamoDBSearchIndex
from mvdb_local.server import LambdaContext
from mvdb_local.streams import LocalStreamPoller, StreamConsumer
from tests.integration.index_truth import assert_index_exact
from tests.integration.lambda_client import LambdaClient, movie_path

pytestmark = pytest.mark.integration

# A reindex reads two partitions of every year from 1870 to 2100, however few movies there are:
# ~460 requests, seconds on two shared cores. Its tests run in make test (make pytest), not the inner loop.
slow_reindex = pytest.mark.slow


@pytest.fixture
def movies_table(make_table: Any) -> str:
    """A fresh, empty movies table with its search index table: every test here writes or reads the index."""
    return str(make_table(search_index=True, stream=True))


HEIST = {
    "year": 2031,
    "title": "The Index Job",
    "info": {
        "genres": ["Heist", "Comedy"],
        "actors": ["Ana Lopez", "Ben Okoro"],
        "directors": ["Cy Dunn"],
        "rating": 7.4,
    },
}


def found(api: LambdaClient, **params: Any) -> list[tuple[int, str]]:
    items, _ = api.follow_pages(f"/movies?{urlencode({**params, 'limit': 3})}")
    return [(item["year"], item["title"]) for item in items]


def create(api: LambdaClient, document: dict[str, Any]) -> str:
    response = api.post("/movies", json_body=document)
    assert response.status == 201, response.body
    return str(response.etag)


KEY = (HEIST["year"], HEIST["title"])


# -- writes through the API, reflected in search -------------------------------------------------


def test_a_created_movie_is_found_by_each_of_its_terms(
    api: LambdaClient, movies_table: str, stream_indexer: Any
) -> None:
    indexer = stream_indexer(movies_table)
    create(api, HEIST)
    indexer.drain()
    for params in (
        {"genre": "Heist"},
        {"genre": "Comedy", "year": 2031},
        {"actor": "Ben Okoro"},
        {"director": "Cy Dunn", "year": 2031, "title_prefix": "The I"},
        {"min_rating": 7.4},
        {"min_rating": 7, "year": 2031},
        {"actor": "Ana Lopez", "genre": "Heist", "min_rating": 5},
    ):
        assert found(api, **params) == [KEY], params
    assert found(api, min_rating=7.5) == found(api, genre="Heist", min_rating=8) == []


def test_a_replaced_movie_is_found_by_its_new_terms_only(
    api: LambdaClient, movies_table: str, stream_indexer: Any, dynamodb_client: Any
) -> None:
    indexer = stream_indexer(movies_table)
    etag = create(api, HEIST)
    info = {"genres": ["Noir"], "actors": ["Cleo Park"], "rating": 9.1}
    response = api.put(movie_path(*KEY), json_body={"info": info}, headers={"If-Match": etag})
    assert response.status == 200, response.body
    indexer.drain()
    assert found(api, genre="Noir") == found(api, actor="Cleo Park") == found(api, min_rating=9) == [KEY]
    assert found(api, genre="Heist") == found(api, director="Cy Dunn") == []
    # The entry carries the new version of the movie, ETag included.
    assert api.get("/movies?genre=Noir").json()["items"][0]["info"] == info
    assert_index_exact(dynamodb_client, movies_table)


def test_a_patched_movie_is_found_by_its_changed_genres_and_actors(
    api: LambdaClient, movies_table: str, stream_indexer: Any, dynamodb_client: Any
) -> None:
    indexer = stream_indexer(movies_table)
    etag = create(api, HEIST)
    patch = {"info": {"genres": ["Heist", "Thriller"], "actors": ["Ana Lopez", "Dev Rao"], "rating": None}}
    response = api.patch(
        movie_path(*KEY), json_body=patch, headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"}
    )
    assert response.status == 200, response.body
    indexer.drain()
    assert found(api, genre="Thriller") == found(api, actor="Dev Rao") == found(api, genre="Heist") == [KEY]
    assert found(api, genre="Comedy") == found(api, actor="Ben Okoro") == found(api, min_rating=0) == []
    assert_index_exact(dynamodb_client, movies_table)


def test_a_deleted_movie_is_found_no_more_and_leaves_nothing_in_the_index(
    api: LambdaClient, movies_table: str, stream_indexer: Any, dynamodb_client: Any
) -> None:
    indexer = stream_indexer(movies_table)
    etag = create(api, HEIST)
    indexer.drain()
    assert api.delete(movie_path(*KEY), headers={"If-Match": etag}).status == 204
    indexer.drain()
    assert found(api, genre="Heist") == found(api, min_rating=0) == found(api, year=2031, min_rating=0) == []
    assert list(_index_items(dynamodb_client, movies_table)) == []


def test_search_reflects_a_write_within_a_second_of_the_poller_seeing_it(
    api: LambdaClient, movies_table: str, stream_indexer: Any
) -> None:
    # The poller polls every 0.1 s and a reconcile takes a few milliseconds: the window locally.
    stream_indexer(movies_table).start()
    create(api, HEIST)
    deadline = time.monotonic() + 5
    while found(api, genre="Heist") != [KEY]:
        assert time.monotonic() < deadline, "not found within 5 s"
        time.sleep(0.05)


# -- whatever the stream delivers ----------------------------------------------------------------


def _records(dynamodb_client: Any, movies_table: str, streams: Any) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, as Lambda puts them in events (nothing processed)."""
    seen: list[dict[str, Any]] = []
    recorder = StreamConsumer("recorder", lambda event, _context: seen.extend(event["Records"]))
    LocalStreamPoller(dynamodb_client, streams, movies_table, [recorder]).drain()
    return seen


@pytest.fixture
def streams(dynamodb_local: Any) -> Any:
    import boto3

    return boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint, region_name="us-east-1")


def test_redelivered_and_reordered_records_leave_the_index_exactly_right(
    api: LambdaClient, movies_table: str, stream_indexer: Any, dynamodb_client: Any, streams: Any
) -> None:
    from mvdb.streams.search_indexer import lambda_handler

    stream_indexer(movies_table)  # the handler configured for this table
    etag = create(api, HEIST)
    for genre in ("Western", "Musical"):
        etag = api.put(movie_path(*KEY), json_body={"info": {"genres": [genre]}}, headers={"If-Match": etag}).etag
    insert, first_change, last_change = _records(dynamodb_client, movies_table, streams)
    # GIVEN the records of the three writes, newest first, some twice
    batch = [last_change, insert, first_change, insert, last_change, first_change]
    # WHEN the function is handed them
    response = lambda_handler({"Records": batch}, LambdaContext())
    # THEN it indexed the movie as it is now, whatever order the records said
    assert response == {"batchItemFailures": []}
    assert found(api, genre="Musical") == [KEY]
    assert found(api, genre="Western") == found(api, genre="Heist") == []
    assert_index_exact(dynamodb_client, movies_table)
    # AND a stale record delivered after the movie is gone brings nothing back
    assert api.delete(movie_path(*KEY), headers={"If-Match": etag}).status == 204
    lambda_handler({"Records": [insert]}, LambdaContext())
    assert found(api, genre="Heist") == found(api, genre="Musical") == []
    assert_index_exact(dynamodb_client, movies_table)


def test_a_failure_half_way_through_a_batch_is_reported_and_retried_from_that_record(
    api: LambdaClient,
    movies_table: str,
    stream_indexer: Any,
    dynamodb_client: Any,
    streams: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mvdb.streams.search_indexer import lambda_handler

    indexer = stream_indexer(movies_table)
    for n in range(6):
        create(api, {"year": 2031, "title": f"Batch {n}", "info": {"genres": ["Batch"]}})
    records = _records(dynamodb_client, movies_table, streams)
    failing = MovieKey(2031, "Batch 3")
    original = DynamoDBSearchIndex.reconcile
    failures = {"left": 1}

    def flaky(self: DynamoDBSearchIndex, key: MovieKey) -> Any:
        if key == failing and failures["left"]:
            failures["left"] -= 1
            raise StorageUnavailable()
        return original(self, key)

    monkeypatch.setattr(DynamoDBSearchIndex, "reconcile", flaky)
    # WHEN the fourth record of the batch fails
    response = lambda_handler({"Records": records}, LambdaContext())
    # THEN the response names exactly that record, and the others are indexed
    assert response == {"batchItemFailures": [{"itemIdentifier": records[3]["dynamodb"]["SequenceNumber"]}]}
    assert len(found(api, genre="Batch")) == 5
    # AND the event source mapping retries from it: everything ends up indexed, nothing given up
    failures["left"] = 1
    indexer.drain()
    assert indexer.given_up == []
    assert len(found(api, genre="Batch")) == 6
    assert_index_exact(dynamodb_client, movies_table)


@slow_reindex
def test_a_record_that_keeps_failing_goes_to_the_dead_letter_queue_and_reindex_repairs_it(
    api: LambdaClient, movies_table: str, stream_indexer: Any, dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mvdb.reindex import reindex

    indexer = stream_indexer(movies_table, maximum_retry_attempts=2)
    for n in range(4):
        create(api, {"year": 2031, "title": f"Poison {n}", "info": {"genres": ["Poison"]}})
    original = DynamoDBSearchIndex.reconcile

    def broken_for_one(self: DynamoDBSearchIndex, key: MovieKey) -> Any:
        if key == MovieKey(2031, "Poison 2"):
            raise StorageUnavailable()
        return original(self, key)

    monkeypatch.setattr(DynamoDBSearchIndex, "reconcile", broken_for_one)
    indexer.drain()
    # THEN after the retries the rest of the batch, from the bad record on, is given up (the
    # records before it were checkpointed; the one after it was indexed on the first try: the
    # function processes every record of a batch), with the record Lambda sends its on-failure destination
    [(consumer, record)] = indexer.given_up
    failure = DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(record)
    assert (consumer, failure.request_context.condition, failure.ddb_stream_batch_info.batch_size) == (
        "search-indexer",
        "RetryAttemptsExhausted",
        2,
    )
    assert sorted(title for _, title in found(api, genre="Poison")) == ["Poison 0", "Poison 1", "Poison 3"]
    # AND once the cause is gone, mvdb reindex repairs what was dropped
    monkeypatch.setattr(DynamoDBSearchIndex, "reconcile", original)
    report = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    assert (report.reconciled, report.failed) == (1, [])
    assert_index_exact(dynamodb_client, movies_table)


# -- racing writers ------------------------------------------------------------------------------


# Three writers, the stream function and two reindex runs for half a minute or more on two shared
# cores: a stress of the races, run by make test (make pytest), not in the inner loop.
@pytest.mark.slow
def test_a_reindex_racing_live_writes_and_the_stream_leaves_the_index_exactly_right(
    movies_table: str, stream_indexer: Any, dynamodb_client: Any
) -> None:
    from mvdb.reindex import reindex

    repository = DynamoDBMovieRepository(dynamodb_client, movies_table)
    keys = [MovieKey(2031, f"Race {n:02}") for n in range(40)]
    genres, actors = ["Drama", "Comedy", "Horror", "Sport"], ["Ana", "Ben", "Cleo", "Dev", "Eve"]

    def document(key: MovieKey, rng: random.Random) -> dict[str, Any]:
        info = {"genres": rng.sample(genres, 2), "actors": rng.sample(actors, 3), "rating": rng.choice([5.5, 7.25, 9])}
        return {"year": key.year, "title": key.title, "info": info}

    for key in keys[:30]:
        doc = document(key, random.Random(key.title))
        repository.create(doc, compute_etag(doc))
    indexer = stream_indexer(movies_table).start()
    stop = threading.Event()

    def write_at_random(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(80):
            if stop.is_set():
                return
            key = rng.choice(keys)
            doc = document(key, rng)
            try:
                if rng.random() < 0.2:
                    repository.delete(key, if_match="*")
                elif repository.get(key) is None:
                    repository.create(doc, compute_etag(doc))
                else:
                    repository.replace(doc, compute_etag(doc), if_match="*")
            except Exception:  # noqa: S112 - a racing writer losing its race is the point
                continue
            time.sleep(0.01)

    writers = [threading.Thread(target=write_at_random, args=(seed,)) for seed in range(3)]
    for writer in writers:
        writer.start()
    try:
        # WHEN two reindex runs race the writers and the stream function
        for _ in range(2):
            report = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index", workers=4, restart=True)
            assert report.failed == []
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    indexer.drain()
    # THEN once everything has settled the index is exactly the table's
    assert_index_exact(dynamodb_client, movies_table)


def test_many_entry_changes_go_in_steps_and_a_crash_between_them_is_finished_by_the_next_reconcile(
    movies_table: str, dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = DynamoDBMovieRepository(dynamodb_client, movies_table)
    index = DynamoDBSearchIndex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    key = MovieKey(2031, "Ensemble")
    cast = {"year": 2031, "title": "Ensemble", "info": {"actors": [f"Actor {n}" for n in range(100)]}}
    repository.create(cast, compute_etag(cast))
    assert index.reconcile(key) == "indexed"  # 100 entries: more than one transaction holds with its checks
    recast = {**cast, "info": {"actors": [f"Other {n}" for n in range(100)], "genres": ["Drama"]}}
    repository.replace(recast, compute_etag(recast), if_match="*")
    # GIVEN a reconciler that dies after its second transaction (deletes done, writes not)
    original, calls = DynamoDBSearchIndex._transact, {"n": 0}

    def dies_after_two(self: DynamoDBSearchIndex, actions: list[dict[str, Any]], report: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("killed")
        original(self, actions, report)

    monkeypatch.setattr(DynamoDBSearchIndex, "_transact", dies_after_two)
    with pytest.raises(RuntimeError):
        index.reconcile(key)
    monkeypatch.setattr(DynamoDBSearchIndex, "_transact", original)
    # THEN the next reconcile finishes the job
    assert index.reconcile(key) == "indexed"
    assert_index_exact(dynamodb_client, movies_table)


# -- load and reindex ---------------------------------------------------------------------------

# The first 70 movies of the data set: five years, one of them (2013) with 52 movies, more than
# one reconcile batch holds (50), and more than two BatchWriteItem batches (25): every loop of
# the load and of reindex turns more than once, at a quarter of the data the tests once used.
SAMPLE = 70


def test_load_leaves_every_movie_it_wrote_indexed(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    from mvdb.loader import load_movies

    report = load_movies(dynamodb_client, movies_table, movie_records[:SAMPLE])
    assert (report.written, report.indexed, report.not_indexed) == (SAMPLE, SAMPLE, [])
    assert_index_exact(dynamodb_client, movies_table)


@slow_reindex
def test_reindex_builds_a_missing_index_and_a_second_run_finds_everything_in_step(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    from mvdb.reindex import reindex

    _write_unindexed(dynamodb_client, movies_table, movie_records[:SAMPLE])
    first = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    assert (first.checked, first.in_step, first.reconciled, first.removed) == (SAMPLE, 0, SAMPLE, 0)
    assert_index_exact(dynamodb_client, movies_table)
    second = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    assert (second.checked, second.in_step, second.reconciled) == (SAMPLE, SAMPLE, 0)


@slow_reindex
def test_reindex_removes_the_entries_of_movies_deleted_while_nothing_listened(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    from mvdb.loader import load_movies
    from mvdb.reindex import reindex

    load_movies(dynamodb_client, movies_table, movie_records[:20])
    gone = movie_records[0]
    dynamodb_client.delete_item(
        TableName=movies_table, Key={"year": {"N": str(gone["year"])}, "title": {"S": gone["title"]}}
    )
    report = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    assert (report.checked, report.removed) == (19, 1)
    assert_index_exact(dynamodb_client, movies_table)


@slow_reindex
def test_a_reindex_stopped_part_way_resumes_after_the_last_year_it_finished(
    dynamodb_client: Any, movies_table: str, movie_records: list[dict[str, Any]]
) -> None:
    from mvdb.reindex import reindex

    _write_unindexed(dynamodb_client, movies_table, movie_records[:SAMPLE])
    years = sorted({r["year"] for r in movie_records[:SAMPLE]})

    class Killed(Exception):
        pass

    def kill_after_three_years(_: int) -> None:
        kill_after_three_years.years += 1  # type: ignore[attr-defined]
        if kill_after_three_years.years == 3:  # type: ignore[attr-defined]
            raise Killed

    kill_after_three_years.years = 0  # type: ignore[attr-defined]
    with pytest.raises(Killed):
        reindex(dynamodb_client, movies_table, f"{movies_table}-search-index", on_progress=kill_after_three_years)
    resumed = reindex(dynamodb_client, movies_table, f"{movies_table}-search-index")
    assert resumed.resumed_from_year == years[1] + 1  # after the last year whose checkpoint was saved
    assert resumed.checked == SAMPLE
    assert_index_exact(dynamodb_client, movies_table)


def _write_unindexed(client: Any, table: str, records: list[dict[str, Any]]) -> None:
    """Movies written straight into the table, as before the index existed: no entries, no manifests."""
    from mvdb.loader import _write_documents, validate_records

    documents, invalid = validate_records(records)
    assert invalid == []
    for start in range(0, len(documents), 25):
        _write_documents(client, table, documents[start : start + 25])


def _index_items(client: Any, table: str) -> list[dict[str, Any]]:
    return client.scan(TableName=f"{table}-search-index", ConsistentRead=True)["Items"]


def test_a_min_rating_page_is_full_however_many_empty_rating_buckets_lie_between(
    api: LambdaClient, movies_table: str, stream_indexer: Any
) -> None:
    indexer = stream_indexer(movies_table)
    for n, rating in enumerate([9.5, 9.1, 1.2, 1.1, 1.0]):
        create(api, {"year": 2031, "title": f"Rated {n}", "info": {"rating": rating}})
    indexer.drain()
    # Buckets 10 down to 2 hold two movies between them; 1 holds three.
    items, sizes = api.follow_pages("/movies?min_rating=0&limit=3")
    assert sizes == [3, 2]
    assert [item["info"]["rating"] for item in items] == [9.5, 9.1, 1.2, 1.1, 1.0]
