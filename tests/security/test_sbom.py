"""The SBOM lists everything that runs, and refuses an artifact it cannot account for.

Built for real: ``python -m tools.security.sbom`` on both Lambda zips as ``make build`` makes them,
the run's shared build (tests/lambda_build.py); each SBOM run asks pip which wheels the lock
installs (each run ~6 s of CPU, half of it pip's).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_lambda_powertools.event_handler
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.lambda_build import LambdaZips
from tools.build.lambda_artifact import HOOK_SOURCE, SERVICE_PACKAGE
from tools.security.sbom import packages_in

# One worker runs the whole module, so its expensive module-scoped fixture (an SBOM run) is made once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sbom")]

ROOT = Path(__file__).resolve().parents[2]
SERVED_SWAGGER_UI = Path(aws_lambda_powertools.event_handler.__file__).parent / "openapi" / "swagger_ui"


@pytest.fixture
def artifacts(lambda_zips: LambdaZips) -> list[Path]:
    """The run's shared zips, the function's first; read-only (a test alters a copy)."""
    return lambda_zips.paths


def run_sbom(artifacts: list[Path], output: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.security.sbom", *map(str, artifacts), "--output", str(output)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def sbom(shared_lambda_zips: LambdaZips, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("sbom") / "sbom.cdx.json"
    result = run_sbom(shared_lambda_zips.paths, output)
    assert result.returncode == 0, result.stderr
    assert shared_lambda_zips.changed() == []
    document: dict[str, Any] = json.loads(output.read_text())
    return document


def walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from walk(component.get("components", []))


def top(sbom: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in sbom["components"] if c["name"] == name)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_files(artifact: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(artifact) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}


def test_the_sbom_is_cyclonedx_1_6_and_schema_valid(sbom: dict[str, Any]) -> None:
    assert sbom["specVersion"] == "1.6"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(sbom)) is None


def test_each_zip_is_listed_with_its_sha256(sbom: dict[str, Any], artifacts: list[Path]) -> None:
    for artifact in artifacts:
        assert top(sbom, artifact.name)["hashes"] == [{"alg": "SHA-256", "content": sha256(artifact.read_bytes())}]


def test_every_file_in_a_zip_is_our_source_or_a_checked_wheel_file(sbom: dict[str, Any], artifacts: list[Path]) -> None:
    for artifact in artifacts:
        listed = top(sbom, artifact.name)["components"]
        ours = [c for c in listed if c["type"] == "file"]
        checked = sum(
            int(p["value"])
            for c in listed
            for p in c.get("properties", [])
            if p["name"] == "mvdb:files-from-this-wheel"
        )
        assert len(ours) + checked == len(zip_files(artifact)), artifact.name


def test_our_code_is_listed_file_by_file_with_the_hash_of_its_source(sbom: dict[str, Any]) -> None:
    function = {c["name"]: c for c in top(sbom, "mvdb.zip")["components"] if c["type"] == "file"}
    sources = {
        f"{SERVICE_PACKAGE.name}/{p.relative_to(SERVICE_PACKAGE).as_posix()}": p for p in SERVICE_PACKAGE.rglob("*.py")
    }
    assert set(sources) <= set(function)
    for path, source in sources.items():
        assert function[path]["hashes"][0]["content"] == sha256(source.read_bytes()), path
    hook = {c["name"]: c for c in top(sbom, "pre-traffic-hook.zip")["components"] if c["type"] == "file"}
    assert hook[HOOK_SOURCE.name]["hashes"][0]["content"] == sha256(HOOK_SOURCE.read_bytes())


def test_every_wheel_is_listed_with_version_purl_and_wheel_hash(sbom: dict[str, Any], artifacts: list[Path]) -> None:
    libraries = {c["name"]: c for c in top(sbom, "mvdb.zip")["components"] if c["type"] == "library"}
    shipped = packages_in(artifacts[0])
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core"} <= set(shipped)
    assert set(libraries) == set(shipped)
    for name, version in shipped.items():
        assert libraries[name]["version"] == version
        assert libraries[name]["purl"] == f"pkg:pypi/{name}@{version}"
        assert re.fullmatch(r"[0-9a-f]{64}", libraries[name]["hashes"][0]["content"])


def test_the_swagger_ui_served_at_docs_is_named_with_its_version_and_file_hashes(sbom: dict[str, Any]) -> None:
    powertools = next(c for c in top(sbom, "mvdb.zip")["components"] if c["name"] == "aws-lambda-powertools")
    (swagger,) = powertools["components"]
    assert swagger["name"] == "swagger-ui-dist"
    assert re.fullmatch(r"\d+\.\d+\.\d+", swagger["version"])
    assert swagger["purl"] == f"pkg:npm/swagger-ui-dist@{swagger['version']}"
    files = {Path(c["name"]).name: c["hashes"][0]["content"] for c in swagger["components"]}
    for asset in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):  # what /docs serves (src/mvdb/api/docs.py)
        assert files[asset] == sha256((SERVED_SWAGGER_UI / asset).read_bytes())


def test_the_sdk_is_listed_where_it_comes_from(sbom: dict[str, Any], artifacts: list[Path]) -> None:
    """Bundled in a zip: a wheel of it. Not bundled: under the Lambda runtime, without a version."""
    dependencies = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    for artifact in artifacts:
        bundled = {"boto3", "botocore"} <= set(packages_in(artifact))
        needs = dependencies[f"artifact:{artifact.name}"]
        if bundled:
            assert {f"{artifact.name}#pkg:pypi/boto3@{packages_in(artifact)['boto3']}"} <= needs
        else:
            assert {"runtime:python3.13#pkg:pypi/boto3", "runtime:python3.13#pkg:pypi/botocore"} <= needs
    provided = [c for c in walk(sbom["components"]) if c["bom-ref"].startswith("runtime:python3.13#")]
    for component in provided:
        assert "version" not in component
        properties = {p["name"]: p["value"] for p in component["properties"]}
        assert properties["mvdb:provided-by"] == "AWS Lambda runtime python3.13 (arm64)"
        assert re.match(r"\d+\.\d+\.\d+ \(requirements/dev.txt\)", properties["mvdb:tested-with"])


# The SBOM refuses an artifact it cannot account for.
def altered_copy(artifact: Path, destination: Path, edit: dict[str, bytes]) -> Path:
    files = {**zip_files(artifact), **edit}
    with zipfile.ZipFile(destination, "w") as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return destination


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"sitecustomize.py": b"import os\n"}, "sitecustomize.py: from no wheel's RECORD and not our source"),
        (
            {"aws_lambda_powertools/__init__.py": b"import os\n"},
            "aws_lambda_powertools/__init__.py differs from aws-lambda-powertools's RECORD",
        ),
        ({"mvdb/app.py": b"import os\n"}, "mvdb/app.py: differs from src/mvdb/app.py"),
    ],
    ids=["a-file-from-nowhere", "a-tampered-wheel-file", "code-that-is-not-our-source"],
)
def test_a_file_the_sbom_cannot_account_for_fails_it(
    artifacts: list[Path], tmp_path: Path, edit: dict[str, bytes], reason: str
) -> None:
    altered = altered_copy(artifacts[0], tmp_path / "mvdb.zip", edit)
    result = run_sbom([altered, artifacts[1]], tmp_path / "sbom.json")
    assert result.returncode == 1
    assert reason in result.stderr
    assert not (tmp_path / "sbom.json").exists()


def test_bytecode_belongs_to_whoever_owns_its_source(artifacts: list[Path], tmp_path: Path) -> None:
    compiled = {
        "mvdb/__pycache__/app.cpython-313.pyc": b"\x00" * 16,
        "aws_lambda_powertools/__pycache__/__init__.cpython-313.pyc": b"\x00" * 16,
    }
    result = run_sbom([altered_copy(artifacts[0], tmp_path / "mvdb.zip", compiled), artifacts[1]], tmp_path / "s.json")
    assert result.returncode == 0, result.stderr
    listed = {c["name"]: c for c in top(json.loads((tmp_path / "s.json").read_text()), "mvdb.zip")["components"]}
    ours = {p["name"]: p["value"] for p in listed["mvdb/__pycache__/app.cpython-313.pyc"]["properties"]}
    assert ours == {"mvdb:compiled-from": "src/mvdb/app.py"}
    assert "aws_lambda_powertools/__pycache__/__init__.cpython-313.pyc" not in listed  # counted in the wheel's files
