"""Locust scenario for mvdb: reads by year, single gets, and writes that clean up after themselves.

Run through ``make load-test`` (tools/load_test/run.py starts the local stack and passes MVDB_TOKEN);
every response must be the expected success: any other status counts as an error.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path
from urllib.parse import quote

from locust import HttpUser, between, task

_MOVIES = json.loads((Path(__file__).resolve().parents[2] / "data" / "moviedata.json").read_text())
_YEARS = sorted({m["year"] for m in _MOVIES})
_HEADERS = {"Authorization": f"Bearer {os.environ.get('MVDB_TOKEN', '')}"}


def _path(year: int, title: str) -> str:
    return f"/movies/{year}/{quote(title, safe='')}"


class MoviesClient(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(5)
    def page_of_a_year(self) -> None:
        self.client.get(f"/movies?year={random.choice(_YEARS)}&limit=20", headers=_HEADERS, name="/movies?year")

    @task(5)
    def one_movie(self) -> None:
        movie = random.choice(_MOVIES)
        self.client.get(_path(movie["year"], movie["title"]), headers=_HEADERS, name="/movies/{year}/{title}")

    @task(1)
    def write_round_trip(self) -> None:
        title = f"load-test {uuid.uuid4().hex}"
        path = _path(2099, title)
        body = {"year": 2099, "title": title, "info": {"rating": 5.0, "genres": ["Test"]}}
        created = self.client.post("/movies", json=body, headers=_HEADERS, name="POST /movies")
        if created.status_code != 201:
            return
        updated = self.client.put(
            path,
            json={"info": {"rating": 6.0}},
            headers={**_HEADERS, "If-Match": created.headers["ETag"]},
            name="PUT /movies/{year}/{title}",
        )
        etag = updated.headers.get("ETag", created.headers["ETag"])
        self.client.delete(path, headers={**_HEADERS, "If-Match": etag}, name="DELETE /movies/{year}/{title}")
