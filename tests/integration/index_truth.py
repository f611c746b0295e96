"""What the search index must hold for a movies table, computed from the table itself, and the check.

The index is exactly right when its entries are those of the movies now stored (keys from the
layout, each carrying its movie's document, attribution included, and ETag) and every movie, and only a movie
that exists, has a manifest recording its current version as written in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mvdb.config import default_search_index_table_name
from mvdb.repository.dynamodb import from_item
from mvdb.repository.search_index import INDEX_LAYOUT_VERSION, terms_of

__all__ = ["assert_index_exact", "scan"]

Entries = dict[tuple[str, str], dict[str, Any]]


def scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _expected(movies: list[dict[str, Any]]) -> Entries:
    entries: Entries = {}
    for item in movies:
        year, title = int(item["year"]["N"]), item["title"]["S"]
        projection = {
            name: item[name] for name in ("year", "title", "info", "modified_by", "modified_at") if name in item
        }
        projection["etag"] = {"S": from_item(item).etag}
        for key in terms_of(item).keys(year, title):
            entries[key] = projection
    return entries


def assert_index_exact(client: Any, table: str, index_table: str | None = None) -> None:
    """Fails, saying what differs, unless the index of ``table`` is exactly in step with it."""
    index_table = index_table or default_search_index_table_name(table)
    movies = list(scan(client, table))
    entries: Entries = {}
    manifests: dict[tuple[int, str], dict[str, Any]] = {}
    for item in scan(client, index_table):
        pk, sk = item.pop("pk")["S"], item.pop("sk")["S"]
        if pk.startswith("manifest#"):
            manifests[(int(pk.removeprefix("manifest#")), sk)] = item
        elif pk != "reindex":
            entries[(pk, sk)] = item
    expected = _expected(movies)
    missing, extra = expected.keys() - entries.keys(), entries.keys() - expected.keys()
    assert not missing and not extra, f"index entries missing: {sorted(missing)[:5]}; not wanted: {sorted(extra)[:5]}"
    stale = [key for key, item in entries.items() if item != expected[key]]
    assert not stale, f"entries holding another version of their movie: {stale[:5]}"
    stored = {(int(m["year"]["N"]), m["title"]["S"]): m for m in movies}
    assert manifests.keys() == stored.keys(), (
        f"manifests without movie: {sorted(manifests.keys() - stored.keys())[:5]}; "
        f"movies without manifest: {sorted(stored.keys() - manifests.keys())[:5]}"
    )
    for key, manifest in manifests.items():
        assert not manifest["pending"]["BOOL"], f"manifest of {key} left pending"
        assert manifest["etag"]["S"] == from_item(stored[key]).etag, f"manifest of {key} records another version"
        assert int(manifest["layout"]["N"]) == INDEX_LAYOUT_VERSION
