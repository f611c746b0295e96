"""The repository contract, run against DynamoDB Local and against the unit tests' in-memory fake.

The service's unit tests trust the fake only because it passes exactly these tests too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mvdb.config import default_search_index_table_name
from mvdb.domain.errors import MovieAlreadyExists, MovieNotFound, PreconditionFailed
from mvdb.domain.models import compute_etag
from mvdb.domain.ports import MovieRepository, StoredMovie
from mvdb.domain.query import MovieKey, MovieQuery, SearchPosition
from mvdb.repository.dynamodb import DynamoDBMovieRepository
from mvdb.repository.index_reconciler import DynamoDBSearchIndex
from tests.unit.fake_repository import InMemoryMovieRepository

pytestmark = pytest.mark.integration

RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Action", "Drama"]}}
RUSH_KEY = MovieKey(2013, "Rush")


@pytest.fixture(params=["dynamodb", "in-memory"])
def repository(request: pytest.FixtureRequest) -> MovieRepository:
    """An empty repository of the test's own: DynamoDB Local's or the in-memory fake."""
    if request.param == "in-memory":
        return InMemoryMovieRepository()
    return DynamoDBMovieRepository(request.getfixturevalue("dynamodb_client"), request.getfixturevalue("movies_table"))


def put(repository: MovieRepository, document: dict[str, Any]) -> str:
    etag = compute_etag(document)
    repository.create(document, etag)
    return etag


def movie(year: int, title: str, **info: Any) -> dict[str, Any]:
    return {"year": year, "title": title, "info": info}


def search_all(repository: MovieRepository, query: MovieQuery) -> tuple[list[dict[str, Any]], list[int]]:
    """Follow the resume positions to the end: every document once, and the size of each page."""
    return search_all_from(repository, query, None)


def search_all_from(
    repository: MovieRepository, query: MovieQuery, start_after: SearchPosition | None
) -> tuple[list[dict[str, Any]], list[int]]:
    """``search_all`` from the position ``start_after`` on."""
    documents: list[dict[str, Any]] = []
    sizes: list[int] = []
    for _ in range(1000):
        page, start_after = repository.search(query, start_after)
        documents += [hit.movie.document for hit in page]
        sizes.append(len(page))
        if start_after is None:
            return documents, sizes
    raise AssertionError("still paging after 1000 pages")


# -- create and get --------------------------------------------------------------------------


def test_created_movie_is_read_back_with_its_document_and_etag(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    assert repository.get(RUSH_KEY) == StoredMovie(RUSH, etag)


def test_get_of_a_missing_movie_is_none(repository: MovieRepository) -> None:
    assert repository.get(RUSH_KEY) is None


def test_create_twice_raises_already_exists_and_keeps_the_first(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    with pytest.raises(MovieAlreadyExists):
        put(repository, {**RUSH, "info": {"rating": 1.0}})
    assert repository.get(RUSH_KEY) == StoredMovie(RUSH, etag)


def test_same_title_in_another_year_is_another_movie(repository: MovieRepository) -> None:
    put(repository, RUSH)
    put(repository, {**RUSH, "year": 1991})
    stored = repository.get(MovieKey(1991, "Rush"))
    assert stored is not None
    assert stored.document["year"] == 1991


# -- replace ---------------------------------------------------------------------------------


def test_replace_with_the_current_etag_stores_the_new_version(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    new = movie(2013, "Rush", rating=9.0)
    repository.replace(new, compute_etag(new), if_match=etag)
    assert repository.get(RUSH_KEY) == StoredMovie(new, compute_etag(new))


def test_replace_with_a_stale_etag_raises_precondition_failed_and_changes_nothing(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    second = movie(2013, "Rush", rating=9.0)
    repository.replace(second, compute_etag(second), if_match=etag)
    with pytest.raises(PreconditionFailed):
        repository.replace(movie(2013, "Rush", rating=1.0), "x", if_match=etag)
    assert repository.get(RUSH_KEY) == StoredMovie(second, compute_etag(second))


def test_replace_with_star_needs_only_that_the_movie_exists(repository: MovieRepository) -> None:
    put(repository, RUSH)
    new = movie(2013, "Rush", rating=2.0)
    repository.replace(new, compute_etag(new), if_match="*")
    stored = repository.get(RUSH_KEY)
    assert stored is not None
    assert stored.document == new


@pytest.mark.parametrize("if_match", ["*", "0123456789abcdef0123456789abcdef"])
def test_replace_of_a_missing_movie_raises_not_found_and_creates_nothing(
    repository: MovieRepository, if_match: str
) -> None:
    with pytest.raises(MovieNotFound):
        repository.replace(RUSH, compute_etag(RUSH), if_match=if_match)
    assert repository.get(RUSH_KEY) is None


# -- delete ----------------------------------------------------------------------------------


def test_delete_with_the_current_etag_removes_the_movie(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    repository.delete(RUSH_KEY, if_match=etag)
    assert repository.get(RUSH_KEY) is None


def test_delete_with_a_stale_etag_raises_precondition_failed_and_keeps_the_movie(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    with pytest.raises(PreconditionFailed):
        repository.delete(RUSH_KEY, if_match="0" * 32)
    assert repository.get(RUSH_KEY) == StoredMovie(RUSH, etag)


def test_delete_with_star_removes_the_movie(repository: MovieRepository) -> None:
    put(repository, RUSH)
    repository.delete(RUSH_KEY, if_match="*")
    assert repository.get(RUSH_KEY) is None


@pytest.mark.parametrize("if_match", ["*", "0123456789abcdef0123456789abcdef"])
def test_delete_of_a_missing_movie_raises_not_found(repository: MovieRepository, if_match: str) -> None:
    with pytest.raises(MovieNotFound):
        repository.delete(RUSH_KEY, if_match=if_match)


# -- search ----------------------------------------------------------------------------------


CATALOG = [
    movie(
        2013,
        f"Film {n:02}",
        genres=["Drama" if n % 3 == 0 else "Comedy"],
        rating=float(n % 10),
        actors=[f"A{n % 4}"],
    )
    for n in range(30)
] + [movie(2012, f"Old {n}", genres=["Drama"], rating=9.0, directors=["D"]) for n in range(5)]


@pytest.fixture(scope="module", params=["dynamodb", "in-memory"])
def catalog(request: pytest.FixtureRequest) -> MovieRepository:
    """A repository holding ``CATALOG``, its searches seeing every movie. Read-only: the search tests share it.

    Made once per module (per xdist worker), not per test: indexing 35 movies on DynamoDB Local
    takes seconds. The DynamoDB index is reconciled movie by movie as the stream function does
    it (test_search_index.py proves the stream keeps it so).
    """
    if request.param == "in-memory":
        memory = InMemoryMovieRepository()
        for document in CATALOG:
            put(memory, document)
        return memory
    client = request.getfixturevalue("dynamodb_client")
    table: str = request.getfixturevalue("make_module_table")(search_index=True)
    repository = DynamoDBMovieRepository(client, table)
    for document in CATALOG:
        put(repository, document)
    index = DynamoDBSearchIndex(client, table, default_search_index_table_name(table))
    for document in CATALOG:
        assert index.reconcile(MovieKey(document["year"], document["title"])) == "indexed"
    return repository


def keys(documents: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return sorted((d["year"], d["title"]) for d in documents)


@pytest.mark.parametrize("limit", [1, 7, 30, 100])
def test_year_search_pages_return_the_whole_year_once_in_title_order(catalog: MovieRepository, limit: int) -> None:
    found, sizes = search_all(catalog, MovieQuery(year=2013, limit=limit))
    assert [d["title"] for d in found] == sorted(d["title"] for d in CATALOG if d["year"] == 2013)
    assert all(size <= limit for size in sizes)


def test_search_without_year_returns_every_movie_once(catalog: MovieRepository) -> None:
    found, _ = search_all(catalog, MovieQuery(limit=4))
    assert keys(found) == keys(CATALOG)


Predicate = Callable[[dict[str, Any]], bool]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        (MovieQuery(genre="Drama", limit=3), lambda d: "Drama" in d["info"]["genres"]),
        (MovieQuery(year=2013, genre="Drama", limit=2), lambda d: d["year"] == 2013 and "Drama" in d["info"]["genres"]),
        (MovieQuery(actor="A1", limit=2), lambda d: "A1" in d["info"].get("actors", [])),
        (MovieQuery(director="D", limit=2), lambda d: "D" in d["info"].get("directors", [])),
        (MovieQuery(min_rating=8, limit=3), lambda d: d["info"]["rating"] >= 8),
        (
            MovieQuery(year=2013, min_rating=8.5, genre="Comedy", limit=1),
            lambda d: d["year"] == 2013 and d["info"]["rating"] >= 8.5 and "Comedy" in d["info"]["genres"],
        ),
        (MovieQuery(year=2013, title_prefix="Film 1", limit=4), lambda d: d["title"].startswith("Film 1")),
        (MovieQuery(genre="Western", limit=5), lambda d: False),
    ],
)
def test_filtered_search_returns_exactly_the_matching_movies(
    catalog: MovieRepository, query: MovieQuery, predicate: Predicate
) -> None:
    found, sizes = search_all(catalog, query)
    assert keys(found) == keys([d for d in CATALOG if predicate(d)])
    assert all(size <= query.limit for size in sizes)


def test_search_resumes_strictly_after_the_given_key(catalog: MovieRepository) -> None:
    page, _ = catalog.search(MovieQuery(year=2013, limit=3), MovieKey(2013, "Film 09"))
    assert [hit.movie.document["title"] for hit in page] == ["Film 10", "Film 11", "Film 12"]


@pytest.mark.parametrize(
    "query",
    [
        MovieQuery(year=2013, limit=9),
        MovieQuery(limit=9),
        MovieQuery(genre="Drama", limit=9),
        MovieQuery(min_rating=5.0, limit=9),  # several index partitions, best rated first
        MovieQuery(year=2013, genre="Comedy", min_rating=4.0, limit=9),  # filtered
    ],
    ids=["year", "everything", "genre", "min-rating", "filtered"],
)
def test_a_search_resumed_at_any_hit_goes_on_with_exactly_the_matches_after_it(
    catalog: MovieRepository, query: MovieQuery
) -> None:
    # A page cut short after any hit (its byte budget) resumes at that hit's position.
    everything, _ = search_all(catalog, query)
    first_page, _ = catalog.search(query, None)
    for number, hit in enumerate(first_page):
        rest, _ = search_all_from(catalog, query, hit.position)
        assert rest == everything[number + 1 :]


def test_search_results_carry_each_movie_etag(repository: MovieRepository) -> None:
    etag = put(repository, RUSH)
    page, _ = repository.search(MovieQuery(year=2013), None)
    assert [hit.movie for hit in page] == [StoredMovie(RUSH, etag)]
