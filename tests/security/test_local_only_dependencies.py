"""What only the local stand-ins need never reaches a Lambda function.

``cryptography`` (PyJWT's RSA backend, for the local Cognito's RS256 tokens) and PyJWT itself are
development dependencies: locked in requirements/dev.txt, absent from the Lambda lock and from
what the service and the hook import.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = ("cryptography", "pyjwt")


def _locked(lock: Path) -> set[str]:
    return {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", lock.read_text(), re.MULTILINE)}


@pytest.mark.parametrize("package", LOCAL_ONLY)
def test_local_only_packages_are_locked_for_development(package: str) -> None:
    assert package in _locked(ROOT / "requirements" / "dev.txt")


@pytest.mark.parametrize("package", LOCAL_ONLY)
def test_local_only_packages_are_not_in_the_lambda_lock(package: str) -> None:
    assert package not in _locked(ROOT / "requirements" / "lambda.txt")


def test_a_lambda_lock_naming_a_local_only_package_is_caught(tmp_path: Path) -> None:
    lock = tmp_path / "lambda.txt"
    lock.write_text("pydantic==2.13.5 \\\n    --hash=sha256:00\nCryptography==50.0.2 \\\n    --hash=sha256:11\n")
    assert "cryptography" in _locked(lock)


def _importing(pattern: str) -> list[str]:
    sources = [*sorted((ROOT / "src" / "mvdb").rglob("*.py")), *sorted((ROOT / "functions").rglob("*.py"))]
    return [
        str(path.relative_to(ROOT))
        for path in sources
        if re.search(rf"^\s*(import|from)\s+({pattern})\b", path.read_text(), re.MULTILINE)
    ]


def test_no_function_source_imports_a_local_only_package() -> None:
    assert _importing("jwt|cryptography") == []


def test_only_the_operator_cli_reaches_into_the_local_stack() -> None:
    # ``mvdb create-table`` and ``mvdb restore`` build tables from infra/template.yaml (mvdb_local.table),
    # run from a checkout; the handler never imports the cli (tests/unit/test_cold_start_imports.py).
    assert _importing("mvdb_local") == ["src/mvdb/backup_cli.py", "src/mvdb/cli.py"]
