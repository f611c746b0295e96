"""Debug-log sampling (``POWERTOOLS_LOGGER_SAMPLE_RATE``, the template's ``DebugLogSampleRate``): a share
of requests, drawn per invocation by the Lambda handler; a request drawn for DEBUG keeps it to itself;
a rate of 0, the template's default, costs a request no draw."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from mvdb.api.http_api import lambda_handler_of
from mvdb.observability import logger


class _LevelRecordingApi:
    """What ``lambda_handler_of`` needs of a ``MoviesApi``: ``handle``. Records the log level each request ran at."""

    def __init__(self) -> None:
        self.levels: list[int] = []

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.levels.append(logger.log_level)
        return {"statusCode": 200}


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[None]]:
    """Each call of Powertools' per-invocation draw (``Logger.refresh_sample_rate_calculation``); the level restored."""
    calls: list[None] = []
    draw = logger.refresh_sample_rate_calculation

    def counted() -> None:
        calls.append(None)
        draw()

    level = logger.log_level
    monkeypatch.setattr(logger, "refresh_sample_rate_calculation", counted)
    yield calls
    logger.setLevel(level)


def requests(count: int, api: _LevelRecordingApi) -> None:
    handler = lambda_handler_of(api, publish_metrics=False)  # type: ignore[arg-type]
    for number in range(count):
        handler({"requestContext": {"requestId": f"req-{number}"}}, None)


def test_a_sample_rate_of_zero_draws_nothing_per_request(monkeypatch: pytest.MonkeyPatch, draws: list[None]) -> None:
    # The template passes DebugLogSampleRate (default 0) as the string "0": a draw per request (a setLevel
    # clears every logger's cache) for a share of none cost a warm GET ~25 us of CPU.
    monkeypatch.setattr(logger, "sampling_rate", "0")
    requests(3, _LevelRecordingApi())
    assert draws == []


def test_a_request_drawn_for_debug_leaves_the_next_at_the_configured_level(
    monkeypatch: pytest.MonkeyPatch, draws: list[None]
) -> None:
    configured = logger.log_level
    monkeypatch.setattr(logger, "sampling_rate", "0.5")
    monkeypatch.setattr(random, "random", iter([0.1, 0.9, 0.9]).__next__)  # drawn, not drawn, not drawn
    api = _LevelRecordingApi()
    requests(3, api)
    assert len(draws) == 3
    assert api.levels == [10, configured, configured]  # 10: logging.DEBUG
