"""CI's entry point checks for free disk before it installs or tests anything (.ci/check-free-disk).

A run that fills its disk otherwise fails minutes later with pytest INTERNALERRORs on every test
still to run, none of which names the cause.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT

CHECK = PROJECT_ROOT / ".ci" / "check-free-disk"


def run_check(*directories: str, required_mb: int, df: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The check, with ``df`` (a script) first on PATH when given."""
    env = {**os.environ, "REQUIRED_FREE_MB": str(required_mb)}
    if df is not None:
        env["PATH"] = f"{df.parent}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(CHECK), *directories], env=env, capture_output=True, text=True, check=False)


def stand_in_df(directory: Path, script: str) -> Path:
    df = directory / "bin" / "df"
    df.parent.mkdir()
    df.write_text(f"#!/bin/sh\n{script}\n")
    df.chmod(0o755)
    return df


def test_a_directory_with_less_free_space_than_make_test_needs_fails_naming_it(tmp_path) -> None:
    result = run_check(str(tmp_path), required_mb=10**12)  # more than any disk has

    assert result.returncode == 1
    assert f"{tmp_path} has " in result.stderr
    assert "MB free; make test needs about 1000000000000 MB there" in result.stderr


def test_directories_with_enough_free_space_pass_silently(tmp_path) -> None:
    result = run_check(str(tmp_path), str(PROJECT_ROOT), required_mb=0)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_directory_that_does_not_exist_fails_naming_it(tmp_path) -> None:
    result = run_check(str(tmp_path / "absent"), required_mb=0)

    assert result.returncode == 1
    assert f"cannot measure the free space of {tmp_path / 'absent'}: df: " in result.stderr


def test_df_output_it_cannot_read_fails_rather_than_passes(tmp_path) -> None:
    df = stand_in_df(tmp_path, "echo 'Filesystem Size Used Avail'; echo '/dev/vda 252G 26G 77G'")

    result = run_check(str(tmp_path), required_mb=0, df=df)

    assert result.returncode == 1
    assert f"cannot read the free space of {tmp_path} from df: Filesystem" in result.stderr


def test_it_asks_df_only_what_posix_defines(tmp_path) -> None:
    # BSD and macOS df know -P and -k but not GNU's -B.
    real_df = shutil.which("df")
    df = stand_in_df(
        tmp_path,
        f'for a in "$@"; do case "$a" in -B*) echo "df: illegal option" >&2; exit 1;; esac; done\nexec {real_df} "$@"',
    )

    result = run_check(str(tmp_path), required_mb=0, df=df)

    assert (result.returncode, result.stderr) == (0, "")


def test_ci_checks_the_clone_and_the_temporary_directory_before_installing_or_testing() -> None:
    commands = [
        line.strip()
        for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    check = commands.index('.ci/check-free-disk . "${TMPDIR:-/tmp}"')
    installs_or_tests = [i for i, line in enumerate(commands) if "apt-get" in line or line == "make test"]

    assert installs_or_tests and check < min(installs_or_tests)
