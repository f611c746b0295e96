"""At ten times the data (46,090 movies: the data set and nine suffixed copies) every search still returns
every match exactly once. Ground truth from the data file, not from the API.

Not part of ``make test`` (marker ``tenfold``; ``make test-tenfold`` runs it): building its seed,
46,090 movies loaded and indexed by ``mvdb load``, takes DynamoDB Local about half an hour on two
shared cores the first time; the searches themselves then take about a minute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.lambda_client import LambdaClient

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.tenfold, pytest.mark.xdist_group("search-tenfold")]

Record = dict[str, Any]


@pytest.fixture(scope="module")
def tenfold_records(movie_records: list[Record]) -> list[Record]:
    from tools.bench.search import tenfold

    return tenfold(movie_records)


@pytest.fixture(scope="module")
def tenfold_endpoint(tenfold_records: list[Record], local_aws_env: dict[str, str]) -> Iterator[str]:
    from mvdb_local.dynamodb_local import DynamoDBLocal
    from mvdb_local.seed import seeded_database
    from tools.bench.search import TENFOLD

    TENFOLD.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(tenfold_records, ensure_ascii=False)
    if not TENFOLD.exists() or TENFOLD.read_text(encoding="utf-8") != text:
        TENFOLD.write_text(text, encoding="utf-8")
    with DynamoDBLocal(heap="1g", seed=seeded_database(TENFOLD)) as dynamodb:
        yield dynamodb.endpoint


@pytest.fixture
def tenfold_api(build_app: Callable[..., Any], tenfold_endpoint: str) -> LambdaClient:
    from mvdb_local.seed import SEED_TABLE

    return LambdaClient(build_app(SEED_TABLE, endpoint=tenfold_endpoint))


def has(field: str, value: str) -> Callable[[Record], bool]:
    return lambda r: value in r["info"].get(field, [])


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"actor": "Tom Hanks"}, has("actors", "Tom Hanks")),
        ({"director": "Christopher Nolan"}, has("directors", "Christopher Nolan")),
        ({"genre": "Sci-Fi"}, has("genres", "Sci-Fi")),
        ({"genre": "Sci-Fi (copy 9)"}, has("genres", "Sci-Fi (copy 9)")),
        ({"min_rating": "8.5"}, lambda r: r["info"].get("rating", -1) >= 8.5),
        ({"year": "2013", "genre": "Action"}, lambda r: r["year"] == 2013 and "Action" in r["info"].get("genres", [])),
        ({"year": "2013", "min_rating": "7.5"}, lambda r: r["year"] == 2013 and r["info"].get("rating", -1) >= 7.5),
        (
            {"actor": "Tom Hanks (copy 3)", "genre": "Drama (copy 3)"},
            lambda r: has("actors", "Tom Hanks (copy 3)")(r) and has("genres", "Drama (copy 3)")(r),
        ),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_at_ten_times_the_data_every_match_comes_exactly_once(
    tenfold_api: LambdaClient,
    tenfold_records: list[Record],
    params: dict[str, str],
    predicate: Callable[[Record], bool],
) -> None:
    items, _ = tenfold_api.follow_pages(f"/movies?{urlencode({**params, 'limit': 20})}")
    found = [(item["year"], item["title"]) for item in items]
    assert len(found) == len(set(found))
    assert set(found) == {(r["year"], r["title"]) for r in tenfold_records if predicate(r)}
