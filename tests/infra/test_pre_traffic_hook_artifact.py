"""The hook's zip holds what its handler imports, and nothing of the service.

The hook shares two modules with the rest of the code (the API Gateway event builder and the
scope names) instead of copying them; ``make build`` packs them beside ``handler.py``. Here the
built zip alone, on an interpreter without site-packages, must import the handler and build its
smoke events, loading only those modules of ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools.build import lambda_artifact

pytestmark = pytest.mark.infra

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
events = [handler.smoke_event(request) for request in handler.SMOKE_REQUESTS]
ours = sorted(m for m in sys.modules if m.split(".")[0] in {"mvdb", "mvdb_local", "apigateway_events", "functions"})
print(json.dumps({"events": len(events), "modules": ours}))
"""


def _run_from_the_zip_alone(zip_path: Path) -> subprocess.CompletedProcess[str]:
    # -I: no environment variables, no user site; -S: no site-packages, so no third-party package.
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", _PROBE, str(zip_path)], capture_output=True, text=True, check=False
    )


def _runtime_bytecode(source: str) -> str:
    path = Path(source)
    return (path.parent / "__pycache__" / f"{path.stem}.{lambda_artifact.BYTECODE_TAG}.pyc").as_posix()


def test_the_hook_zip_holds_the_handler_and_the_shared_modules_only(tmp_path: Path) -> None:
    artifact = lambda_artifact.build_hook(tmp_path)

    sources = ["handler.py", *lambda_artifact.HOOK_SHARED_MODULES]
    with zipfile.ZipFile(artifact.path) as archive:
        # Each source ships with the runtime's bytecode beside it (see lambda_artifact).
        assert sorted(archive.namelist()) == sorted([*sources, *map(_runtime_bytecode, sources)])


def test_the_hook_runs_from_its_zip_alone_and_loads_none_of_the_service(tmp_path: Path) -> None:
    artifact = lambda_artifact.build_hook(tmp_path)

    result = _run_from_the_zip_alone(artifact.path)

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["events"] == 3
    assert probe["modules"] == [
        "apigateway_events",
        "apigateway_events.rest_api",
        "mvdb",
        "mvdb.api",
        "mvdb.api.scopes",
    ]


def test_a_hook_zip_without_the_event_builder_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tuple(m for m in lambda_artifact.HOOK_SHARED_MODULES if m != "apigateway_events/rest_api.py")
    monkeypatch.setattr(lambda_artifact, "HOOK_SHARED_MODULES", shared)

    result = _run_from_the_zip_alone(lambda_artifact.build_hook(tmp_path).path)

    assert result.returncode != 0
    assert "apigateway_events.rest_api" in result.stderr
