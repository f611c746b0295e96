"""The Spectral gate of ``make check-openapi`` bites: a document that breaks an OWASP rule fails it.

(``make check-openapi`` itself lints the document a stage serves; here, broken copies of it.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.openapi.document import openapi_document

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = PROJECT_ROOT / "node_modules" / ".bin" / "spectral"
RULESET = PROJECT_ROOT / "tools" / "openapi" / "spectral.yaml"


def spectral(document: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    return subprocess.run(
        [str(SPECTRAL), "lint", str(path), "--ruleset", str(RULESET), "--fail-severity=warn", "-f", "text"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def without_security_on_create(document: dict[str, Any]) -> None:
    del document["paths"]["/movies"]["post"]["security"]


def without_a_strings_bound(document: dict[str, Any]) -> None:
    del document["components"]["schemas"]["MovieInfo"]["properties"]["plot"]["anyOf"][0]["maxLength"]


def without_retry_after_on_429(document: dict[str, Any]) -> None:
    del document["paths"]["/movies"]["get"]["responses"]["429"]["headers"]["Retry-After"]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


@pytest.mark.parametrize(
    ("breakage", "rule"),
    [
        (without_security_on_create, "owasp:api2:2023-write-restricted"),
        (without_a_strings_bound, "owasp:api4:2023-string-limit"),
        (without_retry_after_on_429, "owasp:api4:2023-rate-limit-retry-after"),
    ],
)
def test_a_broken_document_fails(
    document: dict[str, Any], tmp_path: Path, breakage: Callable[[dict[str, Any]], None], rule: str
) -> None:
    broken = json.loads(json.dumps(document))
    breakage(broken)
    result = spectral(broken, tmp_path)
    assert result.returncode != 0
    assert rule in result.stdout
