"""The shapes of a movie, one per direction: what clients send, what they get back.

``info`` fields are typed and closed (unknown fields are rejected) so a typo never lands in
the table. Limits are generous for real films and tight enough to bound item size
(DynamoDB caps an item at 400 KB).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

__all__ = [
    "AUDIT_FIELDS",
    "MAX_CURSOR_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_TITLE_BYTES",
    "MAX_TITLE_LENGTH",
    "MAX_YEAR",
    "MIN_YEAR",
    "Movie",
    "MovieCreate",
    "MovieInfo",
    "MoviePage",
    "MoviePatch",
    "MovieReplace",
    "Title",
    "Year",
    "compute_etag",
    "title_problem",
]

MIN_YEAR = 1870  # the earliest surviving motion pictures
MAX_YEAR = 2100
MAX_TITLE_LENGTH = 300  # characters: generous for real films
# The title is the table's sort key: DynamoDB refuses a sort key value over 1,024 bytes of UTF-8
# ("Constraints in Amazon DynamoDB", partition and sort keys), and 300 characters may take 1,200.
MAX_TITLE_BYTES = 1024
MAX_PAGE_SIZE = 100  # movies in one page of a search
# A cursor carries a title (up to 1,024 bytes, some JSON-escaped) in base64: 2,048 characters hold any.
MAX_CURSOR_LENGTH = 2048


# Unicode's control characters (general category Cc): C0 (tab and newline included), DEL and the C1
# range U+0080-U+009F. The set never changes: "The General_Category property value Control (Cc) is
# immutable" (Unicode Character Encoding Stability Policies). One search, not a lookup per character.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# The characters RFC 3986 allows in a URI (unreserved, reserved, and '%' of percent-encoding).
_URL = r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$"


def _iso_8601_date(value: Any) -> Any:
    """ISO 8601 text only, and a date stays a date.

    pydantic's lax parsing would turn "2013-09-02" into midnight ("2013-09-02T00:00:00") and
    read a number, or "20130902", as seconds since 1970.
    """
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                continue
    raise ValueError("must be an ISO 8601 date or date-time string, e.g. 2013-09-02 or 2013-09-02T00:00:00Z")


def _storable_number(value: float | None) -> float | None:
    # DynamoDB numbers go down to 1e-130 in magnitude; a smaller one cannot be written at all.
    if value is not None and 0 < abs(value) < 1e-130:
        raise ValueError("must be 0 or at least 1e-130 in magnitude")
    if value == 0:
        return 0.0  # -0.0 too: DynamoDB stores it as 0, and the ETag must describe what GET returns
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _storable_text(value: str) -> str:
    # DynamoDB strings are UTF-8; JSON may carry a lone surrogate ("\\ud800"), which UTF-8 cannot.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be Unicode text (a lone surrogate is not)") from None
    return value


def title_problem(title: str, *, prefix: bool = False) -> str | None:
    """Why ``title`` cannot name a movie (blank, too long in characters or in UTF-8 bytes), or None.

    The one rule for every title a request carries: in a body, in a URL, in a cursor, and (with
    ``prefix``: a blank start is fine) the ``title_prefix`` of a search, a key condition on titles.
    """
    if not prefix and not title.strip():
        return "must not be blank"
    if _CONTROL_CHARACTER.search(title):
        return "must not contain control characters"
    if len(title) > MAX_TITLE_LENGTH:
        return f"must be at most {MAX_TITLE_LENGTH} characters"
    try:
        size = len(title.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be Unicode text (a lone surrogate is not)"
    if size > MAX_TITLE_BYTES:
        return f"must be at most {MAX_TITLE_BYTES} bytes in UTF-8 (DynamoDB's limit on a sort key); it is {size}"
    return None


def _storable_title(value: str) -> str:
    problem = title_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, strict=True, description="Release year")]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TITLE_LENGTH),
    AfterValidator(_storable_title),
    Field(description=f"At most {MAX_TITLE_LENGTH} characters and {MAX_TITLE_BYTES} bytes of UTF-8"),
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_not_blank), AfterValidator(_storable_text)
]
Names = Annotated[list[Name], Field(max_length=100)]


class _Closed(BaseModel):
    # defer_build: a model's validator is built when first used, not at import. Reads never
    # validate a body, so a cold start that serves a GET does not pay for these models.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class MovieInfo(_Closed):
    """What is known about a movie besides its key. Every field is optional."""

    directors: Names | None = None
    actors: Names | None = None
    genres: Names | None = None
    release_date: Annotated[
        datetime | date | None,
        BeforeValidator(_iso_8601_date),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "date", "maxLength": 10},
                    {"type": "string", "format": "date-time", "maxLength": 40},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(default=None, description="ISO 8601 date or date-time, e.g. 2013-09-02 or 2013-09-02T00:00:00Z")
    rating: Annotated[float | None, AfterValidator(_storable_number)] = Field(
        default=None, ge=0, le=10, allow_inf_nan=False, strict=True
    )
    # strict: JSON true or "5" is not a number (lax mode would read them as 1 and 5).
    rank: int | None = Field(default=None, ge=1, le=1_000_000, strict=True)
    running_time_secs: int | None = Field(default=None, ge=0, le=100 * 3600, strict=True)
    plot: Annotated[str, AfterValidator(_storable_text)] | None = Field(default=None, max_length=5000)
    image_url: Annotated[str, StringConstraints(max_length=2048, pattern=_URL)] | None = None


# ``modified_by``/``modified_at`` are the service's: set on every write from the caller's access
# token and the clock. A request body may carry them (a GET's body sent back as a PUT does) but
# they are ignored: they are accepted here only so that such a body is not refused, and dropped.
_IGNORED = "Set by the service; a value sent here is ignored (readOnly)."
IgnoredAuditField = Annotated[
    Any, Field(default=None, exclude=True, description=_IGNORED, json_schema_extra={"readOnly": True})
]
MODIFIED_BY_DESCRIPTION = "The client (its access token's client_id) that created or last changed the movie"
MODIFIED_AT_DESCRIPTION = "When the movie was created or last changed: RFC 3339, UTC, milliseconds"
AUDIT_FIELDS = ("modified_by", "modified_at")


class MovieCreate(_Closed):
    """Body of ``POST /movies``. ``modified_by``/``modified_at`` are ignored (the service sets them)."""

    year: Year
    title: Title
    info: MovieInfo = Field(default_factory=MovieInfo)
    modified_by: IgnoredAuditField
    modified_at: IgnoredAuditField


class MovieReplace(_Closed):
    """Body of ``PUT /movies/{year}/{title}``: the whole new ``info``.

    ``year`` and ``title`` may be echoed back from a GET but must then match the URL: the key
    of a movie never changes (create the new one and delete the old one instead).
    """

    year: Year | None = None
    title: Title | None = None
    info: MovieInfo = Field(default_factory=MovieInfo)
    modified_by: IgnoredAuditField
    modified_at: IgnoredAuditField


class MoviePatch(_Closed):
    """Body of ``PATCH /movies/{year}/{title}``: a JSON merge patch (RFC 7396) of the movie's document.

    Members left out stay as they are; ``null`` removes a member (``{"info": null}`` empties the
    info, as a PUT of ``{"info": {}}`` would). ``year`` and ``title`` may be given only unchanged.
    """

    year: Year | None = None
    title: Title | None = None
    info: MovieInfo | None = None
    modified_by: IgnoredAuditField
    modified_at: IgnoredAuditField

    def document(self) -> dict[str, Any]:
        """The merge patch document: only the members the client sent, ``null`` kept (never the audit fields)."""
        return self.model_dump(mode="json", exclude_unset=True)


class Movie(_Closed):
    """A movie as stored and as returned; ``modified_by``/``modified_at`` are absent on a movie no
    write of the service has touched (e.g. loaded by ``mvdb load``)."""

    year: Year
    title: Title
    info: MovieInfo = Field(default_factory=MovieInfo)
    modified_by: str | None = Field(
        default=None, max_length=256, description=MODIFIED_BY_DESCRIPTION, json_schema_extra={"readOnly": True}
    )
    modified_at: str | None = Field(
        default=None,
        max_length=30,
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
        description=MODIFIED_AT_DESCRIPTION,
        json_schema_extra={"readOnly": True, "format": "date-time"},
    )

    def document(self) -> dict[str, Any]:
        """The JSON document of this movie, without unset ``info`` fields."""
        return self.model_dump(mode="json", exclude_none=True)


class MoviePage(BaseModel):
    """One page of ``GET /movies`` (documentation only: the route writes the JSON itself)."""

    # Only the OpenAPI document uses it: built at import, every cold start paid for its validator
    # (and Movie's) that no request runs (docs/performance.md).
    model_config = ConfigDict(defer_build=True)

    items: list[Movie] = Field(max_length=MAX_PAGE_SIZE)
    count: int = Field(ge=0, le=MAX_PAGE_SIZE)
    next_cursor: str | None = Field(
        default=None,
        max_length=MAX_CURSOR_LENGTH,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Pass as `cursor` to get the next page; absent on the last page",
    )


def compute_etag(document: dict[str, Any]) -> str:
    """A strong validator of a movie's representation: equal documents, equal ETags."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
