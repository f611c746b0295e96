"""The run's shared Lambda build (tests/lambda_build.py) tells when a test changed it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.lambda_build import LambdaZips


def _zips(tmp_path: Path) -> LambdaZips:
    function, hook = tmp_path / "mvdb.zip", tmp_path / "pre-traffic-hook.zip"
    function.write_bytes(b"function")
    hook.write_bytes(b"hook")
    built = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (function, hook)}
    return LambdaZips(function, hook, built)


def test_zips_as_built_are_unchanged(tmp_path: Path) -> None:
    assert _zips(tmp_path).changed() == []


def test_a_zip_written_to_after_the_build_is_named(tmp_path: Path) -> None:
    zips = _zips(tmp_path)
    with zips.function.open("r+b") as archive:  # in place, as a careless test would
        archive.write(b"F")

    assert zips.changed() == ["mvdb.zip"]
