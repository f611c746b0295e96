"""READ_ONLY=true (the cut-over switch): reads are served, every write answers 503 with Retry-After
and the problem code ``writes-suspended``, and the table is left exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.lambda_client import LambdaClient

pytestmark = pytest.mark.integration

RUSH = {"year": 2013, "title": "Rush", "info": {"rating": 8.3}}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def apps(build_app: Callable[..., Any], movies_table: str, dynamodb_local: Any) -> tuple[LambdaClient, str]:
    """Rush written by a writable app; then the app switched to read-only over the same table."""
    writable = LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint))
    created = writable.post("/movies", json_body=RUSH)
    assert created.status == 201, created.body
    read_only = LambdaClient(build_app(movies_table, endpoint=dynamodb_local.endpoint, READ_ONLY="true"))
    assert created.etag is not None
    return read_only, created.etag


def table_items(dynamodb_client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb_client.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["year"]["N"], item["title"]["S"]))


def test_reads_are_served_while_read_only(apps: tuple[LambdaClient, str]) -> None:
    api, etag = apps
    assert api.get("/movies/2013/Rush").etag == etag
    assert [m["title"] for m in api.get("/movies?year=2013").json()["items"]] == ["Rush"]
    assert api.get("/health").status == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", "/movies", {"year": 2014, "title": "Interstellar"}, {}),
        ("PUT", "/movies/2013/Rush", {"info": {"rating": 1.0}}, {"If-Match": "*"}),
        ("PATCH", "/movies/2013/Rush", {"info": {"rating": 1.0}}, {"If-Match": "*", **MERGE_PATCH}),
        ("DELETE", "/movies/2013/Rush", None, {"If-Match": "*"}),
    ],
)
def test_every_write_is_503_writes_suspended_with_retry_after_and_changes_nothing(
    apps: tuple[LambdaClient, str],
    dynamodb_client: Any,
    movies_table: str,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> None:
    api, _ = apps
    before = table_items(dynamodb_client, movies_table)

    response = api.request(method, path, json_body=body, headers=headers)

    assert response.status == 503, response.body
    assert response.content_type == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["code"]) == (503, "writes-suspended")
    assert "read-only" in problem["detail"]
    assert response.headers["Retry-After"] == "60"
    assert table_items(dynamodb_client, movies_table) == before
