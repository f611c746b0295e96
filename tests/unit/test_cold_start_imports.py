"""Cold start cannot regress silently: importing the Lambda handler may load only the
third-party packages and project modules on the committed allow-list.

A new entry is a deliberate decision: measure it with `make bench` (cold-start section),
then add it to cold_start_imports.txt in the same change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test imports the handler in a fresh interpreter

ALLOW_LIST = Path(__file__).with_name("cold_start_imports.txt")
HANDLER_MODULE = "mvdb.app"
# Heavy modules the handler defers to the first request that needs them.
DEFERRED = {
    "aws_lambda_powertools.event_handler.openapi.models",  # ~50 pydantic models, for /openapi.json and /docs
    "aws_lambda_powertools.event_handler.openapi.swagger_ui.html",
    "mvdb.loader",
    "mvdb.cli",
    "mvdb.backup_cli",  # operator commands, and what only restores and drills use
    "mvdb.table_export",
    "mvdb.verification.restore_validation",
    "aws_lambda_powertools.utilities.idempotency",  # on the first request with an Idempotency-Key
}

_PROBE = """
import json, sys
before = set(sys.modules)
{imports}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter loads to import ``modules``."""
    code = _PROBE.format(imports="\n".join(f"import {m}" for m in modules))
    env = {**os.environ, "TABLE_NAME": "import-probe", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


def guarded_names(loaded: set[str]) -> set[str]:
    """Third-party top-level packages and project modules; the standard library is in every runtime."""
    names = set()
    for name in loaded:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top.startswith("_"):
            continue
        names.add(name if top in {"mvdb", "mvdb_local"} else top)
    return names


def allowed() -> set[str]:
    lines = (line.split("#")[0].strip() for line in ALLOW_LIST.read_text().splitlines())
    return {line for line in lines if line}


def test_handler_imports_only_allow_listed_packages_and_modules() -> None:
    unexpected = guarded_names(loaded_by(HANDLER_MODULE)) - allowed()
    assert unexpected == set(), "new import on the handler's path: measure it with make bench, then allow-list it"


def test_handler_import_defers_docs_loader_and_cli() -> None:
    assert loaded_by(HANDLER_MODULE) & DEFERRED == set()


@pytest.mark.parametrize("heavy", ["tqdm", "mvdb.loader", "mvdb_local.server"])
def test_guard_fails_on_a_deliberately_added_heavy_import(heavy: str) -> None:
    unexpected = guarded_names(loaded_by(HANDLER_MODULE, heavy)) - allowed()
    assert unexpected, f"importing {heavy} beside the handler went unnoticed"
