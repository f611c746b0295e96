"""The deployed tests never write to a production table: a stack named *-prod is tested read-only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import read_only

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("stack_name", "flag", "expected"),
    [("mvdb-prod", "", True), ("mvdb-staging", "", False), ("mvdb-dev", "1", True), ("", "", False)],
)
def test_a_production_stack_is_tested_read_only(
    monkeypatch: pytest.MonkeyPatch, stack_name: str, flag: str, expected: bool
) -> None:
    monkeypatch.setenv("STACK_NAME", stack_name)
    monkeypatch.setenv("DEPLOYED_TESTS_READ_ONLY", flag)
    assert read_only() is expected


def test_every_deployed_test_that_creates_movies_goes_through_the_janitor() -> None:
    # The janitor fixture (`movies`) is what read-only mode skips; a test that created movies by
    # itself would write to prod.
    for path in sorted((PROJECT_ROOT / "tests" / "deployed").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"MovieJanitor\(", text), f"{path.name} builds its own janitor"
        assert not re.search(r'call\(\s*"(POST|PUT|PATCH|DELETE)"', text) or "movies" in text, path.name
