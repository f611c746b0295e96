"""Domain errors. The HTTP layer maps each to one problem type and status, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DomainError",
    "FieldError",
    "InvalidCursor",
    "InvalidInput",
    "MovieAlreadyExists",
    "MovieNotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "StorageUnavailable",
    "WritesSuspended",
    "field_errors",
]


@dataclass(frozen=True)
class FieldError:
    """One invalid field: where it is (e.g. ``["body", "info", "rating"]``) and why."""

    location: list[str | int]
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "message": self.message, "code": self.code}


def field_errors(details: Iterable[Mapping[str, Any]], prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    """Validation error details (pydantic's ``{"loc", "msg", "type"}`` shape) as field errors.

    The one conversion, for the errors of request validation (whose ``loc`` already starts with
    ``body``, ``path``, ``query`` or ``header``) and of the domain's own models (``prefix`` says
    where the validated value came from, e.g. ``("body",)``).
    """
    return [
        FieldError(
            location=[*prefix, *(part if isinstance(part, int) else str(part) for part in detail.get("loc", ()))],
            message=str(detail.get("msg", "invalid")),
            code=str(detail.get("type", "invalid")),
        )
        for detail in details
    ]


class DomainError(Exception):
    """Base of every error a client can cause or must be told about."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MovieNotFound(DomainError):
    def __init__(self, year: int, title: str) -> None:
        super().__init__(f"No movie titled {title!r} from {year}.")


class MovieAlreadyExists(DomainError):
    def __init__(self, year: int, title: str) -> None:
        super().__init__(f"A movie titled {title!r} from {year} already exists; use PUT or PATCH to change it.")


class PreconditionFailed(DomainError):
    """If-Match named a version that is no longer current: somebody else changed the movie."""

    def __init__(self, year: int, title: str) -> None:
        super().__init__(
            f"The movie {title!r} ({year}) has changed since you read it; GET it again and retry with its new ETag."
        )


class PreconditionRequired(DomainError):
    def __init__(self) -> None:
        super().__init__("This request changes a movie: send If-Match with the ETag from your last GET (or '*').")


class MovieTooLarge(DomainError):
    """The movie as stored cannot be sent: its JSON alone is more than one response can carry.

    Only a movie written around the API's limits (directly into the table, up to DynamoDB's
    400 KB per item) can be: some values grow many times over as JSON, e.g. a number stored as
    ``1E+125`` (two bytes) is written out in 126 digits. ``what`` names what could not be sent.
    """

    def __init__(self, year: int, title: str, size: int, what: str = "The movie") -> None:
        super().__init__(
            f"{what} {title!r} ({year}) is {size:,} bytes as JSON, more than one response can carry (AWS Lambda "
            "returns at most 6 MB): it was stored around the API's limits. Replace the movie (PUT) with a smaller "
            "document, or delete it."
        )
        self.size = size


class InvalidCursor(DomainError):
    def __init__(self, reason: str = "") -> None:
        detail = "The cursor is not one this API issued for this query; start again without a cursor."
        super().__init__(f"{detail} ({reason})" if reason else detail)


@dataclass
class InvalidInput(DomainError):
    """A request that is well-formed but breaks a rule; ``errors`` says which fields."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.detail)


class StorageUnavailable(DomainError):
    """The table cannot be reached or is throttling past our retries: the client should retry later."""

    def __init__(
        self, detail: str = "The movies table is unavailable right now; retry shortly.", *, retry_after_s: int = 2
    ) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class WritesSuspended(StorageUnavailable):
    """The service is read-only for now (an operator switched writes off, e.g. while the table is
    restored and cut over): reads work, every change is refused until writes are switched back on.

    A kind of ``StorageUnavailable``: the client should retry the same request after
    ``retry_after_s`` seconds; nothing was written.
    """

    def __init__(self, *, retry_after_s: int) -> None:
        super().__init__(
            "The movies API is read-only while its table is being restored or switched over: reads work, "
            f"changes are refused and nothing was written. Retry this request in {retry_after_s} seconds.",
            retry_after_s=retry_after_s,
        )
