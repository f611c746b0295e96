"""Copy files that a template must carry inline into the template, or check that the copies are current.

Some code can reach AWS only inside the template: a CloudWatch Synthetics canary's script is
either inline (``Code.Script``) or a zip in S3, and neither ``sam package`` nor ``aws
cloudformation package`` uploads Synthetics code. The script therefore lives in its own file
(linted, type-checked and tested like the rest of the code) and the template carries a copy in a
literal block scalar, announced by a marker comment on the line before it::

    # Rendered from functions/api_canary/canary.py by `make render-infra`; edit that file.
    Script: |
      ...the file's text...

``--write`` replaces each marked block with the current text of its file; ``--check`` (what
``make check-infra`` runs) fails, naming the template and the file, when a copy differs. The path
in the marker is relative to the repository root.

Usage: ``python -m tools.build.render_infra --check infra/stacks/*.yaml``
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARKER", "RenderedBlock", "render", "rendered_blocks"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(?P<indent> *)# Rendered from (?P<source>\S+) by `make render-infra`; edit that file\.$")
_BLOCK_KEY = re.compile(r"^(?P<indent> *)[A-Za-z0-9_]+: \|$")


@dataclass(frozen=True)
class RenderedBlock:
    """One marked block of a template: its source file and the lines it spans (0-based, end exclusive)."""

    source: Path
    key_line: int
    start: int
    end: int
    indent: str  # of the block's content


def rendered_blocks(lines: list[str], root: Path = PROJECT_ROOT) -> list[RenderedBlock]:
    """Every marked block in ``lines`` (a template split with ``keepends=True``); ValueError if malformed."""
    blocks = []
    for number, line in enumerate(lines):
        marker = MARKER.match(line.rstrip("\n"))
        if not marker:
            continue
        key_line = number + 1
        key = _BLOCK_KEY.match(lines[key_line].rstrip("\n")) if key_line < len(lines) else None
        if key is None or key["indent"] != marker["indent"]:
            raise ValueError(f"line {number + 1}: the marker must be followed by `<key>: |` at the same indentation")
        indent = key["indent"] + "  "
        end = key_line + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent)):
            end += 1
        while end > key_line + 1 and not lines[end - 1].strip():  # trailing blank lines belong to what follows
            end -= 1
        blocks.append(RenderedBlock(root / marker["source"], key_line, key_line + 1, end, indent))
    return blocks


def render(template: str, root: Path = PROJECT_ROOT) -> str:
    """``template`` with every marked block replaced by the current text of its source file."""
    lines = template.splitlines(keepends=True)
    for block in reversed(rendered_blocks(lines, root)):
        text = block.source.read_text(encoding="utf-8")
        copy = [f"{block.indent}{line}" if line.strip() else "\n" for line in text.splitlines(keepends=True)]
        lines[block.start : block.end] = copy
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail if a template's copy differs from its file")
    mode.add_argument("--write", action="store_true", help="rewrite the copies in the templates")
    parser.add_argument("templates", nargs="+", type=Path)
    args = parser.parse_args(argv)
    stale = []
    for path in args.templates:
        current = path.read_text(encoding="utf-8")
        try:
            rendered = render(current)
            sources = [b.source for b in rendered_blocks(current.splitlines(keepends=True))]
        except (ValueError, OSError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return 1
        if rendered == current:
            continue
        if args.write:
            path.write_text(rendered, encoding="utf-8")
            print(f"rendered {path}")
        else:
            stale.append(f"{path} (from {', '.join(str(s.relative_to(PROJECT_ROOT)) for s in sources)})")
    if stale:
        print("error: out of date, run `make render-infra`: " + "; ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
