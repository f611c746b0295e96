"""The rules of the movies API, independent of HTTP and of storage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from mvdb.domain.changes import Change, MovieHistory, Operation, Writer, rfc3339_now
from mvdb.domain.errors import (
    FieldError,
    InvalidInput,
    MovieNotFound,
    MovieTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    field_errors,
)
from mvdb.domain.health import CachedHealthCheck
from mvdb.domain.merge_patch import apply_merge_patch
from mvdb.domain.models import (
    AUDIT_FIELDS,
    Movie,
    MovieCreate,
    MoviePatch,
    MovieReplace,
    compute_etag,
    title_problem,
)
from mvdb.domain.paging import PAGE_BUDGET_BYTES, ItemTooLarge, take_within_budget
from mvdb.domain.ports import MovieRepository, SearchHit, StoredMovie
from mvdb.domain.query import MovieKey, MovieQuery, decode_cursor, encode_cursor

__all__ = ["MovieService", "Page"]

# Business events (MovieCreated, MovieUpdated, MovieDeleted), counted by the HTTP layer as metrics.
EventSink = Callable[[str], None]


class Page:
    """One page of a search: its movies, their documents as the members of a JSON array (``movies_json``,
    ``mvdb.domain.paging.take_within_budget``), and the opaque cursor of the next page (None after the last)."""

    __slots__ = ("movies", "movies_json", "next_cursor")

    def __init__(self, movies: list[StoredMovie], movies_json: str, next_cursor: str | None) -> None:
        self.movies = movies
        self.movies_json = movies_json
        self.next_cursor = next_cursor


class MovieService:
    """The movies API's rules over any store that implements the domain's port (``MovieRepository``).

    Movies are ``{year, title, info, modified_by, modified_at}`` documents keyed by (year,
    title), each stored with the ETag of its document (``compute_etag``). Every write is made
    ``by`` a ``Writer``: the service sets ``modified_by`` (its client id) and ``modified_at``
    (``clock()``), and hands the repository the ``Change`` the audit trail records. Every method
    may also raise StorageUnavailable (the store does not answer; retry later: 503) from the
    repository; the other errors each method can raise are listed in its docstring
    (``mvdb.domain.errors``).
    """

    def __init__(
        self,
        repository: MovieRepository,
        on_event: EventSink | None = None,
        *,
        history: MovieHistory | None = None,
        clock: Callable[[], str] = rfc3339_now,
        page_budget_bytes: int = PAGE_BUDGET_BYTES,
    ) -> None:
        self._repository = repository
        self._page_budget_bytes = page_budget_bytes
        self._on_event = on_event or (lambda _name: None)
        self._health = CachedHealthCheck(repository.ping)
        self._history = history
        self._clock = clock

    @property
    def history(self) -> MovieHistory | None:
        """The movies' audit history, or None where this service has no audit trail configured."""
        return self._history

    def _change(self, operation: Operation, by: Writer) -> Change:
        return Change(operation=operation, client_id=by.client_id, request_id=by.request_id, at=self._clock())

    def get(self, key: MovieKey) -> StoredMovie:
        """The movie under ``key`` and its ETag. Raises MovieNotFound."""
        stored = self._repository.get(key)
        if stored is None:
            raise MovieNotFound(key.year, key.title)
        return stored

    def search(self, query: MovieQuery, cursor: str | None) -> Page:
        """Up to ``query.limit`` movies matching ``query``, after the page ``cursor`` ends (None: from the start).

        A page holds ``limit`` movies unless it is the last (which may be empty), the search
        combines filters the index does not serve together (then a page may hold fewer, even
        none, and still have a next cursor), or the next movie would take the page's JSON over
        ``page_budget_bytes`` as Lambda counts a response (``mvdb.domain.paging``): then the page
        is short and its cursor resumes right after its last movie (a page always holds at least
        one movie when any is left). Raises MovieTooLarge when the page's next movie alone is more than
        any response can carry (stored around the API's limits; the search cannot go past it until it
        is replaced or deleted),  InvalidInput (a ``title_prefix`` without
        ``year``, or one longer than a title may be: it is a key condition on the sort key),
        InvalidCursor for a cursor this service did not issue for this same search.
        """
        if query.title_prefix is not None and query.year is None:
            raise InvalidInput(
                "title_prefix searches within one year: add the year parameter.",
                [FieldError(["query", "title_prefix"], "requires year", "dependency")],
            )
        prefix_problem = title_problem(query.title_prefix, prefix=True) if query.title_prefix is not None else None
        if prefix_problem is not None:
            raise InvalidInput(
                "title_prefix cannot be the start of any title.",
                [FieldError(["query", "title_prefix"], prefix_problem, "too_long")],
            )
        start_after = decode_cursor(cursor, query) if cursor else None
        hits, resume_after = self._repository.search(query, start_after)
        try:
            taken, movies_json = take_within_budget(hits, _document_of, self._page_budget_bytes)
        except ItemTooLarge as too_large:
            first = hits[0].movie.document
            raise MovieTooLarge(first["year"], first["title"], too_large.size) from None
        if taken < len(hits):
            resume_after = hits[taken - 1].position
        movies = [hit.movie for hit in hits[:taken]]
        return Page(movies, movies_json, encode_cursor(resume_after, query) if resume_after else None)

    def create(self, movie: MovieCreate, *, by: Writer) -> StoredMovie:
        """Store a new movie; returns it with its ETag. Raises MovieAlreadyExists (never overwrites)."""
        change = self._change("create", by)
        stored = _stored(Movie(year=movie.year, title=movie.title, info=movie.info), change)
        self._repository.create(stored.document, stored.etag, change=change)
        self._on_event("MovieCreated")
        return stored

    def replace(self, key: MovieKey, body: MovieReplace, if_match: str | None, *, by: Writer) -> StoredMovie:
        """Replace the movie's info if ``if_match`` (an ETag or ``*``) names its current version.

        Returns the new version. Raises InvalidInput when the body names another year or title
        than ``key``, PreconditionRequired without ``if_match``, MovieNotFound, PreconditionFailed
        when the ETag is not the current one.
        """
        errors = [
            FieldError(
                ["body", name], f"must match the URL ({expected!r}); a movie's key cannot change", "key_mismatch"
            )
            for name, given, expected in (("year", body.year, key.year), ("title", body.title, key.title))
            if given is not None and given != expected
        ]
        if errors:
            raise InvalidInput("The body names a different movie than the URL.", errors)
        change = self._change("replace", by)
        stored = _stored(Movie(year=key.year, title=key.title, info=body.info), change)
        self._repository.replace(stored.document, stored.etag, if_match=_required(if_match), change=change)
        self._on_event("MovieUpdated")
        return stored

    def patch(self, key: MovieKey, patch: MoviePatch, if_match: str | None, *, by: Writer) -> StoredMovie:
        """Apply a JSON merge patch (RFC 7396) to the movie's whole document, if ``if_match`` names its current version.

        Only ``info`` may change (``null`` removes a member; ``"info": null`` empties it);
        ``year`` and ``title`` may appear only unchanged. Returns the new version. Raises
        InvalidInput (a changed key, or a patched movie that breaks the model),
        PreconditionRequired without ``if_match``, MovieNotFound, PreconditionFailed when the
        movie changed since that version.
        """
        changes = patch.document()
        changed_key = [name for name in ("year", "title") if name in changes and changes[name] != getattr(key, name)]
        if changed_key:
            raise InvalidInput(
                "A merge patch may change only info.",
                [FieldError(["body", name], "a movie's key cannot change", "key_mismatch") for name in changed_key],
            )
        if_match = _required(if_match)
        current = self.get(key)
        merged = apply_merge_patch(current.document, changes)
        try:
            movie = Movie.model_validate(merged)
        except ValidationError as error:
            raise InvalidInput("The patched movie would be invalid.", field_errors(error.errors(), ("body",))) from None
        if _content(movie.document()) == _content(current.document):
            # Nothing to change: no write, no audit record, the version stays (If-Match still applies).
            if if_match not in ("*", current.etag):
                raise PreconditionFailed(key.year, key.title)
            return current
        change = self._change("patch", by)
        stored = _stored(movie, change)
        # The patch is applied to the version the client named (or, for '*', the one just read):
        # if it changed in between, DynamoDB refuses the write and the client gets 412.
        self._repository.replace(
            stored.document, stored.etag, if_match=current.etag if if_match == "*" else if_match, change=change
        )
        self._on_event("MovieUpdated")
        return stored

    def delete(self, key: MovieKey, if_match: str | None, *, by: Writer) -> None:
        """Delete the movie if ``if_match`` names its current version (or is ``*``).

        The repository records who deleted it where the stream's record of the removal carries it.
        Raises PreconditionRequired without ``if_match``, MovieNotFound, PreconditionFailed.
        """
        self._repository.delete(key, if_match=_required(if_match), change=self._change("delete", by))
        self._on_event("MovieDeleted")

    def check_health(self) -> None:
        """Return when the store answered a read in the last few seconds; raises StorageUnavailable otherwise.

        The outcome of one probe stands for ``HEALTH_CHECK_TTL_S`` seconds (mvdb.domain.health).
        """
        self._health()


def _document_of(hit: SearchHit) -> dict[str, Any]:
    return hit.movie.document


def _content(document: dict[str, Any]) -> dict[str, Any]:
    """A movie's document without its attribution: what a client can change."""
    return {name: value for name, value in document.items() if name not in AUDIT_FIELDS}


def _stored(movie: Movie, change: Change) -> StoredMovie:
    """The movie as stored by ``change``: its audit fields are the change's, whatever they were."""
    document = movie.document()
    for name in AUDIT_FIELDS:
        document.pop(name, None)
    document |= {"modified_by": change.client_id, "modified_at": change.at}
    return StoredMovie(document=document, etag=compute_etag(document))


def _required(if_match: str | None) -> str:
    if not if_match:
        raise PreconditionRequired()
    return if_match
