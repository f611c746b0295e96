"""A movie's history in pages within a byte budget (``MovieHistory``), over an in-memory audit log."""

from __future__ import annotations

from typing import Any

import pytest

from mvdb.domain.changes import AuditEntry, HistoryPage, MovieHistory
from mvdb.domain.errors import MovieTooLarge
from mvdb.domain.paging import MAX_ITEM_BYTES, enveloped_size
from mvdb.domain.query import MovieKey

RUSH = MovieKey(2013, "Rush")
BUDGET = 3_000


class ListedAuditLog:
    """Records by name, newest first, as the stores list them."""

    def __init__(self, entries: list[AuditEntry]) -> None:
        self._entries = entries

    def history(self, key: MovieKey, *, start_after: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
        names = [entry.name for entry in self._entries]
        start = names.index(start_after) + 1 if start_after is not None else 0
        page = self._entries[start : start + limit]
        return page, page[-1].name if start + limit < len(self._entries) else None


def record(n: int, plot: str) -> AuditEntry:
    image = {"year": 2013, "title": "Rush", "info": {"plot": plot}}
    return AuditEntry(f"{n:040d}-e.json", {"operation": "patch", "before": image, "after": image})


def all_pages(history: MovieHistory, limit: int) -> list[HistoryPage]:
    pages = [history.page(RUSH, limit=limit, cursor=None)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 100
        pages.append(history.page(RUSH, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def test_a_history_page_ends_before_the_record_that_would_exceed_the_budget_and_resumes_after_it() -> None:
    entries = [record(n, '\\"' * 50) for n in range(10)]  # ~1 KB each in the envelope
    history = MovieHistory(lambda: ListedAuditLog(entries), page_budget_bytes=BUDGET)

    pages = all_pages(history, limit=100)

    served: list[dict[str, Any]] = [r for page in pages for r in page.records]
    assert served == [entry.record for entry in entries]
    assert len(pages) > 2
    assert all(enveloped_size(page.records_json) <= BUDGET for page in pages)


def test_a_record_larger_than_the_whole_budget_is_served_alone() -> None:
    entries = [record(0, "x" * 5_000), record(1, "y")]
    history = MovieHistory(lambda: ListedAuditLog(entries), page_budget_bytes=BUDGET)

    pages = all_pages(history, limit=20)

    assert [len(page.records) for page in pages] == [1, 1]


def test_a_record_too_large_for_any_response_is_refused_by_the_movies_name() -> None:
    entries = [record(0, "\\" * (MAX_ITEM_BYTES // 8))]  # two images of it: over the limit
    history = MovieHistory(lambda: ListedAuditLog(entries), page_budget_bytes=BUDGET)

    with pytest.raises(MovieTooLarge, match="A change of the movie 'Rush' \\(2013\\)"):
        history.page(RUSH, limit=20, cursor=None)
