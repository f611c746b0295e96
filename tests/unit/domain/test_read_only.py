"""The read-only switch: reads pass through, every write is refused before the store is touched."""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest

from mvdb.domain.changes import Writer
from mvdb.domain.errors import StorageUnavailable, WritesSuspended
from mvdb.domain.models import MovieCreate, MoviePatch, MovieReplace
from mvdb.domain.ports import MovieRepository
from mvdb.domain.query import MovieKey, MovieQuery
from mvdb.domain.read_only import READ_METHODS, WRITE_METHODS, ReadOnlyRepository
from mvdb.domain.service import MovieService
from tests.unit.fake_repository import InMemoryMovieRepository

WRITER = Writer(client_id="tests", request_id="request-1")

RUSH = MovieKey(2013, "Rush")


def port_methods(port: type[Any]) -> set[str]:
    return {name for name, member in vars(port).items() if inspect.isfunction(member) and not name.startswith("_")}


def unclassified(port: type[Any]) -> set[str]:
    """Methods of the port that the switch does not know to be reads or writes."""
    return port_methods(port) - READ_METHODS - WRITE_METHODS


@pytest.fixture
def store() -> InMemoryMovieRepository:
    store = InMemoryMovieRepository()
    MovieService(store).create(
        MovieCreate.model_validate({"year": 2013, "title": "Rush", "info": {"rating": 8.3}}), by=WRITER
    )
    return store


@pytest.fixture
def read_only(store: InMemoryMovieRepository) -> MovieService:
    return MovieService(ReadOnlyRepository(store, retry_after_s=60))


def test_every_method_of_the_port_is_known_to_be_a_read_or_a_write() -> None:
    assert unclassified(MovieRepository) == set()


def test_the_classification_check_catches_a_new_port_method() -> None:
    class GrownPort(MovieRepository, Protocol):
        def upsert(self, document: dict[str, Any]) -> None: ...

    assert unclassified(GrownPort) == {"upsert"}


def test_the_read_only_repository_implements_every_method_of_the_port() -> None:
    assert port_methods(MovieRepository) <= port_methods(ReadOnlyRepository)


def test_reads_are_served(read_only: MovieService) -> None:
    assert read_only.get(RUSH).document["info"] == {"rating": 8.3}
    assert [m.document["title"] for m in read_only.search(MovieQuery(year=2013), None).movies] == ["Rush"]
    read_only.check_health()


@pytest.mark.parametrize(
    "write",
    [
        lambda s, etag: s.create(MovieCreate.model_validate({"year": 2014, "title": "Interstellar"}), by=WRITER),
        lambda s, etag: s.replace(RUSH, MovieReplace.model_validate({"info": {"rating": 1.0}}), etag, by=WRITER),
        lambda s, etag: s.patch(RUSH, MoviePatch.model_validate({"info": {"rating": 1.0}}), etag, by=WRITER),
        lambda s, etag: s.delete(RUSH, etag, by=WRITER),
    ],
    ids=["create", "replace", "patch", "delete"],
)
def test_every_write_is_refused_and_nothing_changes(
    read_only: MovieService, store: InMemoryMovieRepository, write: Any
) -> None:
    before = store.get(RUSH)
    assert before is not None

    with pytest.raises(WritesSuspended) as refused:
        write(read_only, before.etag)

    assert refused.value.retry_after_s == 60
    assert store.get(RUSH) == before
    assert store.get(MovieKey(2014, "Interstellar")) is None


def test_a_suspended_write_is_a_kind_of_unavailable_storage_the_client_retries() -> None:
    assert issubclass(WritesSuspended, StorageUnavailable)
