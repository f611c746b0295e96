"""The documents and templates a reader opens hold no unfinished text: no placeholder waiting for a
figure ("FIGURES_WRITES", as an ADR once shipped three of), no TODO, TBD or FIXME. A figure is
measured and written in, or the sentence goes."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import PROJECT_ROOT

UNFINISHED = re.compile(r"\b(?:FIGURES?|TODO|TBD|FIXME)(?:_[A-Z0-9]+)*\b")  # capitals only: "figures" is prose
READ_BY_PEOPLE = ("*.md", "infra/*.yaml", "infra/**/*.yaml")


def unfinished(text: str) -> list[str]:
    """The placeholders in ``text``, in order."""
    return UNFINISHED.findall(text)


def test_no_document_or_template_holds_a_placeholder() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *READ_BY_PEOPLE], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    found = {
        name: marks
        for name in tracked.split("\0")
        if name and (marks := unfinished((PROJECT_ROOT / name).read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_finds_placeholders_and_not_prose() -> None:
    assert unfinished("**Storage.** FIGURES_STORAGE\nseen after FIGURE_WINDOW s. TODO: measure; TBD") == [
        "FIGURES_STORAGE",
        "FIGURE_WINDOW",
        "TODO",
        "TBD",
    ]
    assert unfinished("The figures below; a todo list; MY_FIGURE and TODOS stay") == []
