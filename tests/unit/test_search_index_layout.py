"""The search index's layout: its keys sort and bound as DynamoDB needs, and each search reads the right partitions."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from mvdb.domain.query import MovieQuery
from mvdb.repository.dynamodb import to_item
from mvdb.repository.search_index import (
    MAX_PARTITION_KEY_BYTES,
    MAX_SORT_KEY_BYTES,
    IndexPlan,
    IndexTerms,
    fit,
    plan_search,
    rating_key,
    terms_of,
)

RATINGS = ["0", "0.5", "1", "1.05", "7", "7.2", "7.25", "7.3", "8", "8.5", "8.55", "9.99", "10"]


def item(year: int, title: str, **info: Any) -> dict[str, Any]:
    return to_item({"year": year, "title": title, "info": info}, "etag")


def keys_of(year: int, title: str, **info: Any) -> set[tuple[str, str]]:
    return terms_of(item(year, title, **info)).keys(year, title)


# -- rating keys ---------------------------------------------------------------------------------


def test_rating_keys_sort_as_the_ratings_do() -> None:
    shuffled = random.sample(RATINGS, len(RATINGS))
    assert sorted(shuffled, key=lambda r: rating_key(Decimal(r))) == RATINGS


@pytest.mark.parametrize("rating", RATINGS)
@pytest.mark.parametrize("minimum", RATINGS)
def test_a_rating_entry_is_at_or_above_the_minimum_key_exactly_when_the_rating_is(rating: str, minimum: str) -> None:
    # The entry's sort key is "<rating>#<year>#<title>": the "#" must never change the comparison.
    entry = f"{rating_key(Decimal(rating))}#2013#Rush"
    assert (entry >= rating_key(Decimal(minimum))) == (Decimal(rating) >= Decimal(minimum))


def test_a_rating_key_has_two_integer_digits_and_no_trailing_zeros() -> None:
    assert [rating_key(Decimal(r)) for r in ("7.20", "10.0", "0.0", "9")] == ["07.2", "10", "00", "09"]


# -- keys within DynamoDB's limits -------------------------------------------------------------


def test_a_value_that_fits_is_kept_as_it_is() -> None:
    assert fit("Tom Hanks", 100) == "Tom Hanks"


def test_a_value_too_long_is_cut_at_a_character_boundary_and_keeps_a_digest_of_the_whole() -> None:
    long_a, long_b = "😀" * 300 + "a", "😀" * 300 + "b"  # 1,201 bytes each, differing at the end
    fitted_a, fitted_b = fit(long_a, 1000), fit(long_b, 1000)
    assert len(fitted_a.encode()) <= 1000 and len(fitted_b.encode()) <= 1000
    assert fitted_a != fitted_b  # two movies never share an entry
    assert fit(long_a, 1000) == fitted_a  # the search computes the key the writer wrote
    assert fitted_a.startswith("😀" * 240)


def test_the_largest_movie_the_model_admits_has_keys_within_dynamodb_limits() -> None:
    names = [f"{n:03d}" + "😀" * 197 for n in range(100)]  # 100 names of 200 characters, 791 bytes each
    keys = keys_of(2013, "😀" * 256, actors=names, directors=names, genres=names, rating=7.123456789012345)
    assert len(keys) == 302
    assert all(
        len(pk.encode()) <= MAX_PARTITION_KEY_BYTES and len(sk.encode()) <= MAX_SORT_KEY_BYTES for pk, sk in keys
    )


# -- entries of a movie --------------------------------------------------------------------------


def test_a_movie_has_one_entry_per_distinct_name_and_genre_and_two_for_its_rating() -> None:
    keys = keys_of(
        2013, "Rush", actors=["Daniel Brühl", "Chris Hemsworth", "Daniel Brühl"], genres=["Drama"], rating=8.1
    )
    assert keys == {
        ("actor#Daniel Brühl", "2013#Rush"),
        ("actor#Chris Hemsworth", "2013#Rush"),
        ("genre#Drama", "2013#Rush"),
        ("rating#8", "08.1#2013#Rush"),
        ("year-rating#2013", "08.1#Rush"),
    }


def test_a_movie_without_lists_or_rating_has_no_entries() -> None:
    assert keys_of(2013, "Rush") == set()


def test_the_same_name_as_actor_and_director_makes_two_entries() -> None:
    assert keys_of(1992, "Unforgiven", actors=["Clint Eastwood"], directors=["Clint Eastwood"]) == {
        ("actor#Clint Eastwood", "1992#Unforgiven"),
        ("director#Clint Eastwood", "1992#Unforgiven"),
    }


def test_terms_of_two_versions_cover_the_entries_of_both() -> None:
    old = terms_of(item(2013, "Rush", genres=["Drama"], rating=8.1))
    new = terms_of(item(2013, "Rush", genres=["Sport"], rating=8.2))
    assert (old | new).keys(2013, "Rush") == old.keys(2013, "Rush") | new.keys(2013, "Rush")
    assert IndexTerms().keys(2013, "Rush") == set()


# -- which partitions a search reads ----------------------------------------------------------


def test_a_name_search_reads_the_name_partition_and_filters_on_the_others() -> None:
    plan = plan_search(MovieQuery(genre="Drama", actor="Tom Hanks", director="Ron Howard", min_rating=7))
    assert plan == IndexPlan(
        partitions=("actor#Tom Hanks",),
        list_filters=(("directors", "Ron Howard"), ("genres", "Drama")),
        min_rating=7,
    )
    assert plan.filtered


def test_a_year_narrows_the_partition_to_the_years_sort_keys_and_a_title_prefix_further() -> None:
    assert plan_search(MovieQuery(year=2013, genre="Action")) == IndexPlan(("genre#Action",), sort_key_prefix="2013#")
    plan = plan_search(MovieQuery(year=2013, genre="Action", title_prefix="Ru"))
    assert plan == IndexPlan(("genre#Action",), sort_key_prefix="2013#Ru")
    assert not plan.filtered


def test_a_title_prefix_longer_than_every_kept_title_is_checked_by_a_filter() -> None:
    prefix = "a" * 1010
    plan = plan_search(MovieQuery(year=2013, genre="Action", title_prefix=prefix))
    assert plan is not None and plan.title_prefix == prefix
    assert plan.sort_key_prefix is not None and prefix.startswith(plan.sort_key_prefix.removeprefix("2013#"))


def test_min_rating_reads_the_rating_buckets_from_ten_down_to_its_own_best_first() -> None:
    assert plan_search(MovieQuery(min_rating=8.5)) == IndexPlan(
        ("rating#10", "rating#9", "rating#8"), sort_key_from="08.5", forward=False
    )
    assert plan_search(MovieQuery(min_rating=0)) == IndexPlan(
        tuple(f"rating#{b}" for b in range(10, -1, -1)), sort_key_from=None, forward=False
    )


def test_year_and_min_rating_read_the_years_rating_partition() -> None:
    assert plan_search(MovieQuery(year=2013, min_rating=7.5, title_prefix="R")) == IndexPlan(
        ("year-rating#2013",), sort_key_from="07.5", forward=False, title_prefix="R"
    )


@pytest.mark.parametrize("query", [MovieQuery(), MovieQuery(year=2013), MovieQuery(year=2013, title_prefix="R")])
def test_a_search_without_a_filter_reads_the_movies_table(query: MovieQuery) -> None:
    assert plan_search(query) is None


@pytest.mark.parametrize(
    ("sort_key", "admitted"),
    [("2013#Rush", True), ("2013#Gravity", False), ("2012#Rush", False), ("2013#R", True)],
)
def test_a_plan_admits_only_sort_keys_inside_its_range(sort_key: str, admitted: bool) -> None:
    plan = plan_search(MovieQuery(year=2013, genre="Drama", title_prefix="R"))
    assert plan is not None and plan.admits(sort_key) is admitted
