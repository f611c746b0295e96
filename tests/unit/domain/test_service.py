"""The service's rules, over the in-memory repository (itself held to the repository contract)."""

from __future__ import annotations

from typing import Any

import pytest

from mvdb.domain.changes import Writer
from mvdb.domain.errors import (
    InvalidCursor,
    InvalidInput,
    MovieAlreadyExists,
    MovieNotFound,
    MovieTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    StorageUnavailable,
)
from mvdb.domain.models import MovieCreate, MovieInfo, MoviePatch, MovieReplace, compute_etag
from mvdb.domain.paging import MAX_ITEM_BYTES, enveloped_size, json_text
from mvdb.domain.query import MovieKey, MovieQuery
from mvdb.domain.service import MovieService, Page
from tests.unit.fake_repository import InMemoryMovieRepository

WRITER = Writer(client_id="tests", request_id="request-1")
NOW = "2026-11-30T09:00:00.000Z"
ATTRIBUTION = {"modified_by": "tests", "modified_at": NOW}  # what the service sets on every write

RUSH = MovieKey(2013, "Rush")


@pytest.fixture
def repository() -> InMemoryMovieRepository:
    return InMemoryMovieRepository()


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def service(repository: InMemoryMovieRepository, events: list[str]) -> MovieService:
    return MovieService(repository, on_event=events.append, clock=lambda: NOW)


def create_rush(service: MovieService, **info: Any) -> str:
    info = info or {"rating": 8.3, "genres": ["Action", "Drama"], "plot": "Hunt vs Lauda."}
    return service.create(MovieCreate.model_validate({"year": 2013, "title": "Rush", "info": info}), by=WRITER).etag


# -- create and read -------------------------------------------------------------------------


def test_create_returns_the_document_and_its_etag(service: MovieService) -> None:
    stored = service.create(
        MovieCreate.model_validate({"year": 2013, "title": "Rush", "info": {"rating": 8.3}}), by=WRITER
    )
    assert stored.document == {"year": 2013, "title": "Rush", "info": {"rating": 8.3}, **ATTRIBUTION}
    assert stored.etag == compute_etag(stored.document)


def test_created_movie_can_be_read_back_with_the_same_etag(service: MovieService) -> None:
    etag = create_rush(service)
    assert service.get(RUSH).etag == etag


def test_create_of_an_existing_movie_raises_already_exists(service: MovieService) -> None:
    create_rush(service)
    with pytest.raises(MovieAlreadyExists):
        create_rush(service, rating=1.0)


def test_get_of_a_missing_movie_raises_not_found(service: MovieService) -> None:
    with pytest.raises(MovieNotFound):
        service.get(RUSH)


def test_create_reports_a_business_event(service: MovieService, events: list[str]) -> None:
    create_rush(service)
    assert events == ["MovieCreated"]


# -- replace ---------------------------------------------------------------------------------


def test_replace_with_the_current_etag_stores_the_new_info(service: MovieService) -> None:
    etag = create_rush(service)
    stored = service.replace(RUSH, MovieReplace.model_validate({"info": {"rating": 9.0}}), etag, by=WRITER)
    assert service.get(RUSH).document == {"year": 2013, "title": "Rush", "info": {"rating": 9.0}, **ATTRIBUTION}
    assert stored.etag != etag


def test_replace_with_a_stale_etag_raises_precondition_failed(service: MovieService) -> None:
    etag = create_rush(service)
    service.replace(RUSH, MovieReplace.model_validate({"info": {"rating": 9.0}}), etag, by=WRITER)
    with pytest.raises(PreconditionFailed):
        service.replace(RUSH, MovieReplace.model_validate({"info": {"rating": 1.0}}), etag, by=WRITER)


def test_replace_without_if_match_raises_precondition_required(service: MovieService) -> None:
    create_rush(service)
    with pytest.raises(PreconditionRequired):
        service.replace(RUSH, MovieReplace(), None, by=WRITER)


def test_replace_of_a_missing_movie_raises_not_found(service: MovieService) -> None:
    with pytest.raises(MovieNotFound):
        service.replace(RUSH, MovieReplace(), "*", by=WRITER)


@pytest.mark.parametrize("body", [{"title": "Rush 2"}, {"year": 2014}, {"year": 2014, "title": "Rush 2"}])
def test_replace_that_changes_the_key_is_invalid_input(service: MovieService, body: dict[str, Any]) -> None:
    create_rush(service)
    with pytest.raises(InvalidInput) as error:
        service.replace(RUSH, MovieReplace.model_validate({**body, "info": {}}), "*", by=WRITER)
    assert {tuple(e.location) for e in error.value.errors} == {("body", name) for name in body}


def test_replace_may_echo_the_key_from_the_url(service: MovieService) -> None:
    create_rush(service)
    stored = service.replace(
        RUSH, MovieReplace.model_validate({"year": 2013, "title": "Rush", "info": {}}), "*", by=WRITER
    )
    assert stored.document == {"year": 2013, "title": "Rush", "info": {}, **ATTRIBUTION}


# -- patch (RFC 7396: the merge patch applies to the whole document) -------------------------


def merge_patch(document: dict[str, Any]) -> MoviePatch:
    return MoviePatch.model_validate(document)


def test_patch_merges_into_info_and_null_removes_a_field(service: MovieService) -> None:
    etag = create_rush(service)
    stored = service.patch(RUSH, merge_patch({"info": {"rating": 8.5, "plot": None}}), etag, by=WRITER)
    assert stored.document["info"] == {"rating": 8.5, "genres": ["Action", "Drama"]}
    assert service.get(RUSH).document == stored.document


def test_patch_with_null_info_removes_all_info_as_a_put_of_empty_info_would(service: MovieService) -> None:
    create_rush(service)
    patched = service.patch(RUSH, merge_patch({"info": None}), "*", by=WRITER)
    replaced = service.replace(RUSH, MovieReplace(info=MovieInfo()), "*", by=WRITER)
    assert patched.document == replaced.document == {"year": 2013, "title": "Rush", "info": {}, **ATTRIBUTION}
    assert patched.etag == replaced.etag


def test_an_empty_patch_changes_nothing(service: MovieService) -> None:
    etag = create_rush(service)
    assert service.patch(RUSH, merge_patch({}), etag, by=WRITER).etag == etag


def test_patch_replaces_a_list_outright(service: MovieService) -> None:
    etag = create_rush(service)
    stored = service.patch(RUSH, merge_patch({"info": {"genres": ["Sport"]}}), etag, by=WRITER)
    assert stored.document["info"]["genres"] == ["Sport"]


def test_patch_may_repeat_the_key_unchanged(service: MovieService) -> None:
    create_rush(service)
    assert (
        service.patch(RUSH, merge_patch({"year": 2013, "title": "Rush", "info": {"rank": 1}}), "*", by=WRITER).document[
            "info"
        ]["rank"]
        == 1
    )


def test_patch_with_star_applies_to_the_current_version(service: MovieService) -> None:
    create_rush(service)
    stored = service.patch(RUSH, merge_patch({"info": {"rating": 1.0}}), "*", by=WRITER)
    assert service.get(RUSH).etag == stored.etag


def test_patch_with_a_stale_etag_raises_precondition_failed(service: MovieService) -> None:
    etag = create_rush(service)
    service.patch(RUSH, merge_patch({"info": {"rating": 9.0}}), etag, by=WRITER)
    with pytest.raises(PreconditionFailed):
        service.patch(RUSH, merge_patch({"info": {"rating": 1.0}}), etag, by=WRITER)


def test_patch_without_if_match_raises_precondition_required(service: MovieService) -> None:
    create_rush(service)
    with pytest.raises(PreconditionRequired):
        service.patch(RUSH, merge_patch({"info": {}}), None, by=WRITER)


def test_patch_of_a_missing_movie_raises_not_found(service: MovieService) -> None:
    with pytest.raises(MovieNotFound):
        service.patch(RUSH, merge_patch({"info": {"rating": 1.0}}), "*", by=WRITER)


@pytest.mark.parametrize(
    ("patch", "field"), [({"year": 2014}, "year"), ({"title": "X"}, "title"), ({"year": None}, "year")]
)
def test_patch_of_the_key_is_invalid_input(service: MovieService, patch: Any, field: str) -> None:
    create_rush(service)
    with pytest.raises(InvalidInput) as error:
        service.patch(RUSH, merge_patch(patch), "*", by=WRITER)
    assert [e.location for e in error.value.errors] == [["body", field]]


def test_invalid_patch_changes_nothing(service: MovieService) -> None:
    etag = create_rush(service)
    with pytest.raises(InvalidInput):
        service.patch(RUSH, merge_patch({"title": "Rush 2"}), etag, by=WRITER)
    assert service.get(RUSH).etag == etag


@pytest.mark.parametrize("prefix", ["\U0001f600" * 257, "\ud800"])
def test_a_title_prefix_no_title_could_start_with_is_invalid_input(service: MovieService, prefix: str) -> None:
    with pytest.raises(InvalidInput) as error:
        service.search(MovieQuery(year=2013, title_prefix=prefix), None)
    assert error.value.errors[0].location == ["query", "title_prefix"]


# -- delete ----------------------------------------------------------------------------------


def test_delete_with_the_current_etag_removes_the_movie(service: MovieService, events: list[str]) -> None:
    etag = create_rush(service)
    service.delete(RUSH, etag, by=WRITER)
    with pytest.raises(MovieNotFound):
        service.get(RUSH)
    assert events == ["MovieCreated", "MovieDeleted"]


def test_delete_with_a_stale_etag_raises_precondition_failed(service: MovieService) -> None:
    create_rush(service)
    with pytest.raises(PreconditionFailed):
        service.delete(RUSH, "0" * 32, by=WRITER)


def test_delete_without_if_match_raises_precondition_required(service: MovieService) -> None:
    create_rush(service)
    with pytest.raises(PreconditionRequired):
        service.delete(RUSH, None, by=WRITER)


# -- search ----------------------------------------------------------------------------------


def test_title_prefix_without_year_is_invalid_input(service: MovieService) -> None:
    with pytest.raises(InvalidInput) as error:
        service.search(MovieQuery(title_prefix="R"), None)
    assert error.value.errors[0].location == ["query", "title_prefix"]


def test_search_pages_follow_each_other_without_gaps_or_repeats(service: MovieService) -> None:
    for n in range(25):
        service.create(MovieCreate(year=2013, title=f"Movie {n:02}"), by=WRITER)
    query = MovieQuery(year=2013, limit=10)
    titles: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = service.search(query, cursor)
        titles += [m.document["title"] for m in page.movies]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert titles == [f"Movie {n:02}" for n in range(25)]


def test_last_page_has_no_cursor(service: MovieService) -> None:
    create_rush(service)
    assert service.search(MovieQuery(year=2013), None).next_cursor is None


def test_search_with_a_cursor_of_another_search_raises_invalid_cursor(service: MovieService) -> None:
    for n in range(3):
        service.create(MovieCreate(year=2013, title=f"Movie {n}"), by=WRITER)
    cursor = service.search(MovieQuery(year=2013, limit=1), None).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        service.search(MovieQuery(year=2013, genre="Drama", limit=1), cursor)


# -- pages within a byte budget (mvdb.domain.paging) ------------------------------------------------

BUDGET = 2_000  # bytes of a page's items as Lambda counts them: a few of the movies below


def budgeted(repository: InMemoryMovieRepository, budget: int = BUDGET) -> MovieService:
    return MovieService(repository, clock=lambda: NOW, page_budget_bytes=budget)


def all_pages(service: MovieService, query: MovieQuery) -> list[Page]:
    pages: list[Page] = []
    cursor: str | None = None
    for _ in range(100):
        pages.append(service.search(query, cursor))
        cursor = pages[-1].next_cursor
        if cursor is None:
            return pages
    raise AssertionError("still paging after 100 pages")


def test_a_page_ends_early_where_the_next_movie_would_exceed_the_budget_and_resumes_after_it(
    repository: InMemoryMovieRepository,
) -> None:
    service = budgeted(repository)
    for n in range(12):  # each ~450 bytes as JSON: about four fit in the budget
        movie = {"year": 2013, "title": f"M{n:02}", "info": {"plot": '"' * 200}}
        service.create(MovieCreate.model_validate(movie), by=WRITER)

    pages = all_pages(service, MovieQuery(year=2013, limit=100))

    assert [m.document["title"] for page in pages for m in page.movies] == [f"M{n:02}" for n in range(12)]
    assert len(pages) > 2
    assert all(enveloped_size(page.movies_json) <= BUDGET for page in pages)


def test_a_page_holds_its_movies_json_in_order(repository: InMemoryMovieRepository) -> None:
    service = budgeted(repository)
    create_rush(service)
    service.create(MovieCreate(year=2013, title="Senna"), by=WRITER)
    page = service.search(MovieQuery(year=2013), None)
    assert page.movies_json == json_text([m.document for m in page.movies])[1:-1]


def test_a_movie_larger_than_the_whole_budget_is_served_alone_on_its_page(repository: InMemoryMovieRepository) -> None:
    service = budgeted(repository, budget=100)
    create_rush(service, plot="x" * 500)
    service.create(MovieCreate(year=2013, title="Senna"), by=WRITER)

    pages = all_pages(service, MovieQuery(year=2013, limit=10))

    assert [[m.document["title"] for m in page.movies] for page in pages] == [["Rush"], ["Senna"]]


def test_a_movie_too_large_for_any_response_is_refused_by_name_never_skipped(
    repository: InMemoryMovieRepository,
) -> None:
    # Only a movie stored around the API's limits can be: here, written straight into the store.
    service = budgeted(repository)
    create_rush(service)
    huge = {"year": 2013, "title": "Senna", "info": {"plot": "\\" * (MAX_ITEM_BYTES // 4)}}
    repository.create(huge, compute_etag(huge))
    first = service.search(MovieQuery(year=2013), None)
    assert [m.document["title"] for m in first.movies] == ["Rush"]

    with pytest.raises(MovieTooLarge, match="'Senna' \\(2013\\)"):
        service.search(MovieQuery(year=2013), first.next_cursor)


def test_health_check_raises_storage_unavailable_when_the_repository_is_down(
    service: MovieService, repository: InMemoryMovieRepository
) -> None:
    repository.available = False
    with pytest.raises(StorageUnavailable):
        service.check_health()


def test_health_check_reads_the_table_at_most_once_per_few_seconds(
    repository: InMemoryMovieRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[None] = []
    original = repository.ping
    monkeypatch.setattr(repository, "ping", lambda: pings.append(original()))
    service = MovieService(repository)

    for _ in range(5):
        service.check_health()
    assert len(pings) == 1
