"""CI's entry point checks for free disk before it installs or tests anything (.ci/check-free-disk).

A run that fills its disk otherwise fails minutes later with pytest INTERNALERRORs on every test
still to run, none of which names the cause.
"""

from __future__ import annotations

import os
import subprocess

from tests.conftest import PROJECT_ROOT

CHECK = PROJECT_ROOT / ".ci" / "check-free-disk"


def run_check(*directories: str, required_mb: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REQUIRED_FREE_MB": str(required_mb)}
    return subprocess.run([str(CHECK), *directories], env=env, capture_output=True, text=True, check=False)


def test_a_directory_with_less_free_space_than_make_test_needs_fails_naming_it(tmp_path) -> None:
    result = run_check(str(tmp_path), required_mb=10**12)  # more than any disk has

    assert result.returncode == 1
    assert f"{tmp_path} has " in result.stderr
    assert "MB free; make test needs about 1000000000000 MB there" in result.stderr


def test_directories_with_enough_free_space_pass_silently(tmp_path) -> None:
    result = run_check(str(tmp_path), str(PROJECT_ROOT), required_mb=0)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_ci_checks_the_clone_and_the_temporary_directory_before_installing_or_testing() -> None:
    commands = [
        line.strip()
        for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    check = commands.index('.ci/check-free-disk . "${TMPDIR:-/tmp}"')
    installs_or_tests = [i for i, line in enumerate(commands) if "apt-get" in line or line == "make test"]

    assert installs_or_tests and check < min(installs_or_tests)
