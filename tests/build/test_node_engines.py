"""package.json states the Node.js the locked npm tools need (README and the Makefile's message repeat it).

npm only warns when Node.js is older than a package's ``engines`` (``npm ci`` without --engine-strict),
so an understated minimum shows up later, as a tool that fails on an older runtime. Ranges are npm's
(node-semver): ``>=``, ``^``, ``x``/``*`` wildcards and ``||``; any other form fails this test rather
than passing unread.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import PROJECT_ROOT

Version = tuple[int, int, int]


def parse(version: str) -> Version:
    major, minor, patch = [*version.split("."), "0", "0"][:3]
    return int(major), int(minor), int(patch)


def satisfies(version: Version, npm_range: str) -> bool:
    """Whether ``version`` lies in ``npm_range`` (the forms package-lock.json's engines use)."""
    for alternative in npm_range.split("||"):
        comparator = re.sub(r"\s+", "", alternative)
        if comparator == "*":
            return True
        if match := re.fullmatch(r">=?(\d+(?:\.\d+){0,2})(?:\.[x*])?", comparator):
            lower = parse(match.group(1))
            if version > lower or (version == lower and comparator.startswith(">=")):
                return True
        elif match := re.fullmatch(r"\^(\d+(?:\.\d+){0,2})", comparator):
            lower = parse(match.group(1))
            if lower[0] == 0:
                raise ValueError(f"caret range below 1.0 not read here: {npm_range!r}")
            if lower <= version and version[0] == lower[0]:
                return True
        elif match := re.fullmatch(r"(\d+)\.[x*](?:\.[x*])?", comparator):
            if version[0] == int(match.group(1)):
                return True
        else:
            raise ValueError(f"npm range form not read here: {npm_range!r}")
    return False


def declared_minimum() -> Version:
    engines = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))["engines"]["node"]
    match = re.fullmatch(r">=(\d+\.\d+\.\d+)", engines)
    assert match, f"package.json engines.node is a lower bound: {engines!r}"
    return parse(match.group(1))


def locked_ranges() -> dict[str, str]:
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return {
        name or "(root)": package["engines"]["node"]
        for name, package in lock["packages"].items()
        if isinstance(package.get("engines"), dict) and "node" in package["engines"]
    }


def test_the_declared_minimum_node_runs_every_locked_package() -> None:
    minimum = declared_minimum()
    refusing = {name: npm_range for name, npm_range in locked_ranges().items() if not satisfies(minimum, npm_range)}
    assert refusing == {}


def test_the_readme_and_the_makefile_name_the_declared_minimum() -> None:
    major, minor, _ = declared_minimum()
    assert f"Node.js {major}.{minor}+" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Node.js {major}.{minor}+" in (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("version", "npm_range", "expected"),
    [
        ("18.2.0", "^16.20 || ^18.18 || >= 20.17", False),  # Spectral's CLI, under the old minimum
        ("18.18.0", "^16.20 || ^18.18 || >= 20.17", True),
        ("19.9.0", "^16.20 || ^18.18 || >= 20.17", False),
        ("20.17.0", "^16.20 || ^18.18 || >= 20.17", True),
        ("20.15.9", ">= 20.16.0", False),
        ("22.0.0", "6.* || 8.* || >= 10.*", True),
        ("7.1.0", "6.* || 8.* || >= 10.*", False),
        ("20.17.0", "4.x || >=6.0.0", True),
        ("20.17.0", "*", True),
    ],
)
def test_ranges_are_read_as_npm_reads_them(version: str, npm_range: str, expected: bool) -> None:
    assert satisfies(parse(version), npm_range) is expected


def test_a_range_form_it_cannot_read_fails() -> None:
    with pytest.raises(ValueError, match="not read here"):
        satisfies((20, 17, 0), "~20.1")
