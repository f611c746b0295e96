"""docs/architecture.md and the README's layout name only what exists, and the pictures cover every stack.

A nested stack, a bootstrap template or a function added without its place in the pictures, or a
file renamed under them, fails here: the pictures stay the map of what is deployed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = PROJECT_ROOT / "docs" / "architecture.md"
README = PROJECT_ROOT / "README.md"
# A path of the repository as the documents write it: a top-level folder, then at least one part.
_PATH = re.compile(r"(?<![\w./-])((?:src|infra|functions|tests|tools|docs|pipelines)/[\w./-]*[\w/])")


def missing_paths(text: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The repository paths ``text`` names that do not exist under ``root`` (links' targets included)."""
    named = {match.group(1) for match in _PATH.finditer(text)}
    return sorted(path for path in named if not (root / path).exists() and not (root / "docs" / path).exists())


def unpictured(text: str, root: Path = PROJECT_ROOT) -> list[str]:
    """Nested stacks, bootstrap templates and functions that ``text`` never names."""
    parts = [
        *sorted((root / "infra" / "stacks").glob("*.yaml")),
        *sorted((root / "infra" / "bootstrap").glob("*.yaml")),
    ]
    names = [part.name for part in parts] + [f"functions/{f.name}" for f in sorted((root / "functions").iterdir())]
    return [name for name in names if name not in text]


def test_the_architecture_pictures_name_only_files_that_exist() -> None:
    assert missing_paths(ARCHITECTURE.read_text(encoding="utf-8")) == []


def test_the_architecture_pictures_show_every_stack_bootstrap_template_and_function() -> None:
    assert unpictured(ARCHITECTURE.read_text(encoding="utf-8")) == []


def test_the_readme_layout_names_only_files_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## Layout") : text.index("## Tests")]
    assert missing_paths(layout) == []


def test_the_checks_fail_a_picture_that_names_a_moved_file_or_leaves_a_stack_out(tmp_path: Path) -> None:
    stacks = tmp_path / "infra" / "stacks"
    stacks.mkdir(parents=True)
    (tmp_path / "infra" / "bootstrap").mkdir()
    (tmp_path / "functions" / "api_canary").mkdir(parents=True)
    (stacks / "data.yaml").touch()
    (stacks / "search.yaml").touch()
    picture = "flowchart LR\n  table[(the table: data.yaml)] --> hook[functions/api_canary, src/mvdb/old_name.py]"

    assert missing_paths(picture, tmp_path) == ["src/mvdb/old_name.py"]
    assert unpictured(picture, tmp_path) == ["search.yaml"]
