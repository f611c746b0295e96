"""Media types (RFC 9110 §8.3.1), parsed once for the whole request.

``type/subtype`` compare case-insensitively; parameters (``; charset=utf-8``) may follow, their
names case-insensitive too. Admission parses the ``Content-Type`` of a request with this, decides
with it, and hands the resolver the normalised value: no second comparison with other rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["JSON", "MERGE_PATCH_JSON", "MediaType"]

JSON = "application/json"
MERGE_PATCH_JSON = "application/merge-patch+json"  # RFC 7396

# RFC 9110 §5.6.2 token; §5.6.4 quoted-string (simplified: any escaped or non-quote character).
_HTTP_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - RFC 9110's token grammar, not a secret
_MEDIA_TYPE = re.compile(
    rf"^\s*({_HTTP_TOKEN})/({_HTTP_TOKEN})\s*((?:;\s*{_HTTP_TOKEN}=(?:{_HTTP_TOKEN}|\"(?:[^\"\\]|\\.)*\")\s*)*);?\s*$"
)
_PARAMETER = re.compile(rf";\s*({_HTTP_TOKEN})=({_HTTP_TOKEN}|\"(?:[^\"\\]|\\.)*\")")


@dataclass(frozen=True)
class MediaType:
    """A parsed media type: ``essence`` is ``type/subtype`` in lower case; parameter names in lower case."""

    essence: str
    parameters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> MediaType | None:
        """The media type ``value`` names, or None when it is absent or not a media type."""
        if value is None:
            return None
        match = _MEDIA_TYPE.match(value)
        if match is None:
            return None
        parameters = tuple(
            (name.lower(), raw[1:-1] if raw.startswith('"') else raw) for name, raw in _PARAMETER.findall(match[3])
        )
        return cls(f"{match[1]}/{match[2]}".lower(), parameters)

    def parameter(self, name: str) -> str | None:
        return next((value for key, value in self.parameters if key == name.lower()), None)

    @property
    def is_json(self) -> bool:
        """JSON text: ``application/json`` or a ``+json`` structured syntax suffix (RFC 6839)."""
        return self.essence == JSON or self.essence.endswith("+json")
