"""Preconditions of conditional requests (RFC 9110 §13): the ``If-Match`` header of writes."""

from __future__ import annotations

from http import HTTPStatus

from mvdb.api.problems import ProblemError

__all__ = ["parse_if_match"]


def parse_if_match(value: str | None) -> str | None:
    """The one entity tag (or ``*``) of an If-Match header, without its quotes; None when absent.

    Raises ProblemError: 400 ``invalid-if-match`` for a list or a malformed tag, 412
    ``precondition-failed`` for a weak tag (strong comparison, RFC 9110 §13.1.1 and §8.8.3.2).
    """
    if value is None:
        return None
    value = value.strip()
    if value == "*":
        return "*"
    if "," in value:
        raise ProblemError(HTTPStatus.BAD_REQUEST, "invalid-if-match", "Send one ETag in If-Match, not a list.")
    if value.startswith("W/"):
        raise ProblemError(
            HTTPStatus.PRECONDITION_FAILED,
            "precondition-failed",
            "A weak ETag never matches for a write; send the ETag exactly as GET returned it.",
        )
    tag = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if value == '"*"':
        # An entity tag whose opaque value is *, not the wildcard (RFC 9110 §13.1.1): it matches
        # no ETag of ours, so the write must not happen.
        raise ProblemError(
            HTTPStatus.PRECONDITION_FAILED,
            "precondition-failed",
            'The ETag "*" matches nothing; the wildcard is * without quotes.',
        )
    if not tag or '"' in tag:
        raise ProblemError(HTTPStatus.BAD_REQUEST, "invalid-if-match", 'If-Match must be an ETag such as "3f2a...".')
    return tag
