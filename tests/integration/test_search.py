"""GET /movies over the whole data set: following cursors yields exactly the matching movies, once.

Expected sets are computed from data/moviedata.json itself, not from the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.integration.lambda_client import LambdaClient

pytestmark = pytest.mark.integration

Record = dict[str, Any]
Key = tuple[int, str]


def keys_of(items: list[dict[str, Any]]) -> list[Key]:
    return [(item["year"], item["title"]) for item in items]


def expected(records: list[Record], predicate: Callable[[Record], bool]) -> set[Key]:
    return {(r["year"], r["title"]) for r in records if predicate(r)}


def has(field: str, value: str) -> Callable[[Record], bool]:
    return lambda r: value in r["info"].get(field, [])


def rated_at_least(minimum: float) -> Callable[[Record], bool]:
    return lambda r: r["info"].get("rating") is not None and r["info"]["rating"] >= minimum


def in_year(year: int, also: Callable[[Record], bool] = lambda r: True) -> Callable[[Record], bool]:
    return lambda r: r["year"] == year and also(r)


def test_year_2013_in_pages_of_50_yields_all_432_movies_once(catalog_api: LambdaClient) -> None:
    # Every movie of a year exactly once, following the cursors (432 in the data set for 2013).
    items, sizes = catalog_api.follow_pages("/movies?year=2013&limit=50")
    titles = [item["title"] for item in items]
    assert len(titles) == 432
    assert len(set(titles)) == 432
    assert all(item["year"] == 2013 for item in items)
    assert sizes == [50] * 8 + [32]


def test_year_pages_come_in_title_order(catalog_api: LambdaClient, movie_records: list[Record]) -> None:
    items, _ = catalog_api.follow_pages("/movies?year=1994&limit=17")
    assert [i["title"] for i in items] == sorted(r["title"] for r in movie_records if r["year"] == 1994)


def test_default_page_size_is_20(catalog_api: LambdaClient) -> None:
    page = catalog_api.get("/movies?year=2013").json()
    assert page["count"] == 20
    assert "next_cursor" in page


def test_year_with_no_movies_is_an_empty_last_page(catalog_api: LambdaClient) -> None:
    response = catalog_api.get("/movies?year=1871")
    assert response.status == 200
    assert response.json() == {"items": [], "count": 0}


def test_listed_movie_equals_the_movie_read_by_its_key(catalog_api: LambdaClient) -> None:
    listed = catalog_api.get("/movies?year=2013&title_prefix=Rush&limit=1").json()["items"][0]
    assert catalog_api.get("/movies/2013/Rush").json() == listed


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"genre": "Sport"}, has("genres", "Sport")),
        ({"genre": "Film-Noir"}, has("genres", "Film-Noir")),
        ({"actor": "Tom Cruise"}, has("actors", "Tom Cruise")),
        ({"director": "Steven Spielberg"}, has("directors", "Steven Spielberg")),
        ({"min_rating": "8.5"}, rated_at_least(8.5)),
        ({"genre": "Comedy", "min_rating": "7.8"}, lambda r: has("genres", "Comedy")(r) and rated_at_least(7.8)(r)),
        ({"genre": "Nonexistent Genre"}, lambda r: False),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_filtered_scan_returns_exactly_the_matching_movies_once(
    catalog_api: LambdaClient, movie_records: list[Record], params: dict[str, str], predicate: Callable[[Record], bool]
) -> None:
    # GIVEN a filter that matches few of the 4,609 movies and a small page size
    limit = 7
    # WHEN every page is followed
    items, sizes = catalog_api.follow_pages(f"/movies?{urlencode({**params, 'limit': limit})}")
    # THEN exactly the matching movies come back, each once, although pages run short
    found = keys_of(items)
    assert len(found) == len(set(found))
    assert set(found) == expected(movie_records, predicate)
    assert all(size <= limit for size in sizes)


def test_a_search_with_one_filter_fills_every_page_but_the_last(
    catalog_api: LambdaClient, movie_records: list[Record]
) -> None:
    # GIVEN a filter matching 10 of 4,609 movies: the index reads only those 10
    items, sizes = catalog_api.follow_pages("/movies?genre=Film-Noir&limit=3")
    # THEN every page but the last is full, and each of the 10 comes exactly once
    assert sizes == [3, 3, 3, 1]
    found = keys_of(items)
    assert len(found) == len(set(found)) == 10
    assert set(found) == expected(movie_records, has("genres", "Film-Noir"))


def test_min_rating_comes_best_rated_first(catalog_api: LambdaClient) -> None:
    items, _ = catalog_api.follow_pages("/movies?min_rating=8.5&limit=7")
    ratings = [item["info"]["rating"] for item in items]
    assert ratings == sorted(ratings, reverse=True)
    assert min(ratings) >= 8.5


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"year": "2013", "genre": "Horror"}, in_year(2013, has("genres", "Horror"))),
        ({"year": "2013", "min_rating": "7.5"}, in_year(2013, rated_at_least(7.5))),
        ({"year": "2012", "actor": "Bruce Willis"}, in_year(2012, has("actors", "Bruce Willis"))),
        ({"year": "2013", "director": "Ron Howard"}, in_year(2013, has("directors", "Ron Howard"))),
        (
            {"year": "2013", "genre": "Drama", "min_rating": "6"},
            in_year(2013, lambda r: has("genres", "Drama")(r) and rated_at_least(6)(r)),
        ),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_filtered_year_query_returns_exactly_the_matching_movies(
    catalog_api: LambdaClient, movie_records: list[Record], params: dict[str, str], predicate: Callable[[Record], bool]
) -> None:
    items, sizes = catalog_api.follow_pages(f"/movies?{urlencode({**params, 'limit': 5})}")
    found = keys_of(items)
    assert len(found) == len(set(found))
    assert set(found) == expected(movie_records, predicate)
    assert all(size <= 5 for size in sizes)


@pytest.mark.slow  # every page of a whole-table scan
def test_genre_filter_matching_thousands_returns_each_once(
    catalog_api: LambdaClient, movie_records: list[Record]
) -> None:
    items, _ = catalog_api.follow_pages("/movies?genre=Drama&limit=100")
    found = keys_of(items)
    assert len(found) == len(set(found)) == len(expected(movie_records, has("genres", "Drama")))


@pytest.mark.slow  # every page of a whole-table scan
def test_unfiltered_scan_returns_all_4609_movies_once(catalog_api: LambdaClient, movie_records: list[Record]) -> None:
    items, _ = catalog_api.follow_pages("/movies?limit=100")
    found = keys_of(items)
    assert len(found) == len(set(found)) == 4609
    assert set(found) == expected(movie_records, lambda r: True)


def test_filters_match_a_list_element_exactly_and_case_sensitively(catalog_api: LambdaClient) -> None:
    # "Drama" is a genre; "drama" and "Dram" are not.
    assert catalog_api.get("/movies?year=2013&genre=drama&limit=100").json()["count"] == 0
    assert catalog_api.get("/movies?year=2013&genre=Dram&limit=100").json()["count"] == 0


@pytest.mark.parametrize("prefix", ["R", "The", "Ru", "Rush", "Zzz", "The Hunger Games"])
def test_title_prefix_returns_the_titles_of_the_year_that_start_with_it(
    catalog_api: LambdaClient, movie_records: list[Record], prefix: str
) -> None:
    items, _ = catalog_api.follow_pages(f"/movies?year=2013&title_prefix={quote(prefix)}&limit=4")
    assert set(keys_of(items)) == expected(movie_records, in_year(2013, lambda r: r["title"].startswith(prefix)))


def test_title_prefix_is_case_sensitive(catalog_api: LambdaClient) -> None:
    assert catalog_api.get("/movies?year=2013&title_prefix=rush").json()["count"] == 0


def test_title_prefix_without_a_year_is_400(catalog_api: LambdaClient) -> None:
    response = catalog_api.get("/movies?title_prefix=R")
    assert response.status == 400
    assert response.json()["errors"][0]["location"] == ["query", "title_prefix"]


def next_cursor(catalog_api: LambdaClient, path: str) -> str:
    cursor: str = catalog_api.get(path).json()["next_cursor"]
    return cursor


@pytest.mark.parametrize(
    "other",
    [
        "/movies?year=2012&limit=5",
        "/movies?year=2013&genre=Drama&limit=5",
        "/movies?year=2013&title_prefix=R&limit=5",
        "/movies?limit=5",
        "/movies?genre=Drama&limit=5",
    ],
)
def test_cursor_from_another_search_is_400(catalog_api: LambdaClient, other: str) -> None:
    cursor = next_cursor(catalog_api, "/movies?year=2013&limit=5")
    response = catalog_api.get(f"{other}&cursor={cursor}")
    assert response.status == 400
    assert response.json()["code"] == "invalid-cursor"


def test_cursor_stays_valid_with_another_page_size(catalog_api: LambdaClient) -> None:
    cursor = next_cursor(catalog_api, "/movies?year=2013&limit=5")
    response = catalog_api.get(f"/movies?year=2013&limit=7&cursor={cursor}")
    assert response.status == 200
    assert response.json()["count"] == 7


@pytest.mark.parametrize(
    "cursor",
    ["junk", "eyJ2IjoyfQ", "A" * 1024, "%FF%FE", "eyJ2IjoyLCJ5IjoyMDEzLCJ0IjoiUnVzaCJ9", "=" * 8],
)
def test_made_up_cursor_is_400(catalog_api: LambdaClient, cursor: str) -> None:
    response = catalog_api.get(f"/movies?year=2013&cursor={cursor}")
    assert response.status == 400
    assert response.content_type == "application/problem+json"


def test_cursor_with_a_character_changed_is_400(catalog_api: LambdaClient) -> None:
    cursor = next_cursor(catalog_api, "/movies?year=2013&limit=5")
    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    assert catalog_api.get(f"/movies?year=2013&limit=5&cursor={tampered}").status == 400


# -- what a search reads ---------------------------------------------------------------------------


@pytest.fixture
def reads() -> list[dict[str, Any]]:
    """Each DynamoDB response this module's ``catalog_api`` gets during the test (ReturnConsumedCapacity on)."""
    return []


@pytest.fixture
def catalog_api(
    build_app: Callable[..., Any],
    loaded_table: str,
    dynamodb_local: Any,
    reads: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> LambdaClient:
    """The integration suite's catalog, whose one DynamoDB client records its responses into ``reads``."""
    import mvdb.dependencies

    create_client = mvdb.dependencies.create_client

    def ask_for_capacity(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def record(parsed: dict[str, Any], **_: Any) -> None:
        reads.append(parsed)

    def create_recording_client(settings: Any) -> Any:
        client = create_client(settings)
        client.meta.events.register("before-parameter-build.dynamodb", ask_for_capacity)
        client.meta.events.register("after-call.dynamodb", record)
        return client

    monkeypatch.setattr(mvdb.dependencies, "create_client", create_recording_client)
    return LambdaClient(build_app(loaded_table, endpoint=dynamodb_local.endpoint))


def read_keys(responses: list[dict[str, Any]]) -> list[str]:
    return [
        repr(sorted((k, str(v)) for k, v in item.items() if k in ("pk", "sk", "year", "title")))
        for r in responses
        for item in r.get("Items", [])
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "Tom Hanks"},
        {"director": "Christopher Nolan"},
        {"genre": "Sci-Fi"},
        {"min_rating": "8.5"},
        {"year": "2013", "genre": "Action"},
        {"year": "2013"},
    ],
    ids=lambda params: "&".join(f"{k}={v}" for k, v in params.items()),
)
def test_no_page_reads_an_item_another_page_read(
    catalog_api: LambdaClient, reads: list[dict[str, Any]], params: dict[str, str]
) -> None:
    items, _ = catalog_api.follow_pages(f"/movies?{urlencode({**params, 'limit': 20})}")
    keys = read_keys(reads)
    assert len(keys) == len(set(keys)) == len(items)


@pytest.mark.parametrize("params", [{"actor": "Tom Hanks"}, {"director": "Steven Spielberg"}])
def test_a_page_of_20_by_actor_or_director_costs_at_most_5_rcu(
    catalog_api: LambdaClient, reads: list[dict[str, Any]], params: dict[str, str]
) -> None:
    response = catalog_api.get(f"/movies?{urlencode({**params, 'limit': 20})}")
    assert response.json()["count"] == 20
    assert sum(r["ConsumedCapacity"]["CapacityUnits"] for r in reads) <= 5
