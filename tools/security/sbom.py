"""A CycloneDX 1.6 SBOM of everything that runs: each Lambda zip ``make build`` writes (the API
function, the pre-traffic hook), everything inside them, and what the Lambda runtime provides.

Every file in a zip is accounted for, or the SBOM is not written:

* a file a wheel installed is listed in that wheel's ``RECORD`` with the same SHA-256; the wheel is
  a component with its version, purl and the SHA-256 of the exact wheel file (from pip's
  installation report for the same lock, platform and Python as the build, hash checking on);
* our code is byte-for-byte its source in this repository (``SERVICE_PACKAGE``, ``HOOK_SOURCE``
  of tools/build/lambda_artifact.py); each file is a component with its SHA-256;
* bytecode belongs to whoever owns its source file: ``__pycache__/*.pyc`` beside our sources,
  and the sourceless ``.pyc`` the build puts in place of a wheel's module (its RECORD lists the
  ``.py`` it was compiled from; bytecode cannot be hash-checked against that entry, the source
  it came from was, when pip installed the wheel with ``--require-hashes``).

Swagger UI, which ``/docs`` serves from Powertools' package, is a component of its own inside
the Powertools wheel: npm's ``swagger-ui-dist``, its version read from the bundle's build info,
each file with its SHA-256. The AWS SDK (boto3, botocore): bundled in a zip, it is a wheel like
any other; when our code in a zip imports it and the zip does not carry it, it is listed under
the Lambda runtime that provides it, without a version (AWS picks it when the runtime is
updated), with the version our tests ran against as a property.

Usage: ``python -m tools.security.sbom ZIP... [--output FILE]`` (run by ``make build``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from tools.build.lambda_artifact import (
    HOOK_SHARED_MODULES,
    HOOK_SOURCE,
    LAMBDA_LOCK,
    PLATFORM,
    PYTHON_VERSION,
    SERVICE_PACKAGE,
    SOURCE_ROOT,
)

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.txt"
RUNTIME = f"python{PYTHON_VERSION}"
ARCHITECTURE = "arm64" if "aarch64" in PLATFORM else "x86_64"
SDK = ("boto3", "botocore")
_DIST_INFO = re.compile(r"^([^/]+)-([^/-]+)\.dist-info/METADATA$")
_IMPORTS_SDK = re.compile(r"^\s*(?:import|from)\s+(?:boto3|botocore)\b", re.MULTILINE)
_SWAGGER_UI = re.compile(r"(^|/)swagger-ui(-bundle)?(\.min)?\.(js|css)$")
_SWAGGER_UI_VERSION = re.compile(r'PACKAGE_VERSION:"([^"]+)"')
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


class UnaccountedContent(Exception):
    """A file in a zip that neither a hash-checked wheel nor our source explains."""


@dataclass
class ZipContents:
    """One zip, every file attributed: to a wheel (by its RECORD) or to our source."""

    path: Path
    wheels: dict[str, str] = field(default_factory=dict)  # name -> version
    files_of: dict[str, list[str]] = field(default_factory=dict)  # wheel name -> its files in the zip
    ours: dict[str, Path] = field(default_factory=dict)  # path in zip -> source file (or the .py of a .pyc)
    data: dict[str, bytes] = field(default_factory=dict)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packages_in(artifact: Path) -> dict[str, str]:
    """Name -> version of every distribution installed in the zip."""
    with zipfile.ZipFile(artifact) as archive:
        return {canonicalize_name(m.group(1)): m.group(2) for m in map(_DIST_INFO.match, archive.namelist()) if m}


def our_source(path: str) -> Path | None:
    """The file of this repository that ``path`` (inside a zip) must equal, if it is our code."""
    for source in (SERVICE_PACKAGE, HOOK_SOURCE):
        if source.is_file() and path == source.name:
            return source
        if source.is_dir() and path.startswith(f"{source.name}/"):
            return source.parent / path
    if path in HOOK_SHARED_MODULES:  # modules of ours under src/ that the hook's zip carries
        return SOURCE_ROOT / path
    return None


def _record_digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def read_zip(artifact: Path) -> ZipContents:
    """Attribute every file of ``artifact``; raise UnaccountedContent for any that cannot be."""
    contents = ZipContents(artifact)
    with zipfile.ZipFile(artifact) as archive:
        contents.data = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    owner: dict[str, str] = {}
    for name in contents.data:
        match = _DIST_INFO.match(name)
        if not match:
            continue
        wheel = canonicalize_name(match.group(1))
        contents.wheels[wheel] = match.group(2)
        record = contents.data[name.replace("/METADATA", "/RECORD")].decode()
        for line in record.splitlines():
            path, digest, _ = line.rsplit(",", 2)
            # Every file the wheel installed belongs to it, shipped or not: the build replaces a
            # third-party module's source by its bytecode, which then belongs to the same wheel.
            owner[path] = wheel
            if path in contents.data and digest and _record_digest(contents.data[path]) != digest:
                raise UnaccountedContent(f"{artifact.name}: {path} differs from {wheel}'s RECORD")
    problems = []
    for path in sorted(contents.data):
        source_path = _source_of_bytecode(path)
        if path in owner or (source_path and source_path in owner):
            contents.files_of.setdefault(owner.get(path) or owner[str(source_path)], []).append(path)
            continue
        source = our_source(str(source_path or path))
        if source is None or not source.is_file():
            problems.append(f"{path}: from no wheel's RECORD and not our source")
        elif source_path is None and source.read_bytes() != contents.data[path]:
            problems.append(f"{path}: differs from {source.relative_to(ROOT)}")
        else:
            contents.ours[path] = source
    if problems:
        raise UnaccountedContent(f"{artifact.name}: " + "; ".join(problems))
    return contents


def _source_of_bytecode(path: str) -> str | None:
    """The source a ``.pyc`` was compiled from: ``pkg/__pycache__/mod.cpython-313.pyc`` (beside its
    source) or a sourceless ``pkg/mod.pyc`` (in its place, see tools/build/lambda_artifact.py) -> ``pkg/mod.py``."""
    parts = PurePosixPath(path)
    if parts.suffix != ".pyc":
        return None
    if parts.parent.name == "__pycache__":
        return str(parts.parent.parent / (parts.name.split(".", 1)[0] + ".py")).removeprefix("./")
    return str(parts.with_suffix(".py"))


def installation_report(lock: Path) -> dict[str, dict[str, Any]]:
    """pip's report of the wheels the build installs: name -> {version, sha256, url}."""
    with tempfile.TemporaryDirectory() as target:
        report_file = Path(target) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
             "--ignore-installed", "--report", str(report_file), "--target", str(Path(target) / "site"),
             "--platform", PLATFORM, "--python-version", PYTHON_VERSION, "--implementation", "cp",
             "--only-binary=:all:", "--require-hashes", "--no-deps", "-r", str(lock)],
            check=True,
        )  # fmt: skip
        report = json.loads(report_file.read_text())
    wheels: dict[str, dict[str, Any]] = {}
    for item in report["install"]:
        metadata, download = item["metadata"], item["download_info"]
        digest = download.get("archive_info", {}).get("hashes", {}).get("sha256", "")
        wheels[canonicalize_name(metadata["name"])] = {"version": metadata["version"], "sha256": digest}
    return wheels


def _hash(data: bytes) -> list[HashType]:
    return [HashType(alg=HashAlgorithm.SHA_256, content=sha256(data))]


def _file(contents: ZipContents, path: str, **properties: str) -> Component:
    return Component(
        name=path,
        type=ComponentType.FILE,
        bom_ref=f"{contents.path.name}#file:{path}",
        hashes=_hash(contents.data[path]),
        properties=[Property(name=f"mvdb:{key}", value=value) for key, value in properties.items()],
    )


def swagger_ui(contents: ZipContents, wheel: str) -> Component | None:
    """The Swagger UI a wheel vendors (Powertools, for /docs), with its version and files."""
    files = [path for path in contents.files_of.get(wheel, []) if _SWAGGER_UI.search(path)]
    if not files:
        return None
    versions = {
        m for path in files if path.endswith(".js") for m in _SWAGGER_UI_VERSION.findall(contents.data[path].decode())
    }
    if len(versions) != 1:
        raise UnaccountedContent(f"{contents.path.name}: no single Swagger UI version in {files}: {versions}")
    (version,) = versions
    purl = PackageURL(type="npm", name="swagger-ui-dist", version=version)
    return Component(
        name="swagger-ui-dist",
        version=version,
        purl=purl,
        bom_ref=f"{contents.path.name}#{purl.to_string()}",
        description=f"Swagger UI, vendored in the {wheel} wheel and served at /docs",
        properties=[Property(name="mvdb:version-source", value="the bundle's build info (PACKAGE_VERSION)")],
        components=[_file(contents, path, **{"vendored-in": wheel}) for path in files],
    )


def _wheel(contents: ZipContents, name: str, version: str, wheels: dict[str, dict[str, Any]]) -> Component:
    wheel = wheels.get(name)
    if wheel is None or wheel["version"] != version or not wheel["sha256"]:
        raise UnaccountedContent(f"{contents.path.name}: {name} {version} is not the lock's wheel ({wheel})")
    purl = PackageURL(type="pypi", name=name, version=version)
    vendored = swagger_ui(contents, name)
    # The wheel's files in the zip, each equal to its RECORD entry (and any bytecode compiled from them).
    checked = Property(name="mvdb:files-from-this-wheel", value=str(len(contents.files_of[name])))
    return Component(
        name=name,
        version=version,
        purl=purl,
        bom_ref=f"{contents.path.name}#{purl.to_string()}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=wheel["sha256"])],
        properties=[checked],
        components=[vendored] if vendored else None,
    )


def _runtime_with_sdk() -> tuple[Component, list[Component]]:
    """The Lambda runtime as a platform, and the SDK packages it provides (version: AWS's choice)."""
    tested: dict[str, str] = {canonicalize_name(n): v for n, v in _PIN.findall(DEV_LOCK.read_text())}
    sdk = [
        Component(
            name=name,
            purl=PackageURL(type="pypi", name=name),
            bom_ref=f"runtime:{RUNTIME}#pkg:pypi/{name}",
            properties=[
                Property(name="mvdb:provided-by", value=f"AWS Lambda runtime {RUNTIME} ({ARCHITECTURE})"),
                Property(name="mvdb:version", value="chosen by AWS with each runtime update, not by this build"),
                Property(
                    name="mvdb:tested-with", value=f"{tested.get(name, 'unknown')} ({DEV_LOCK.relative_to(ROOT)})"
                ),
            ],
        )
        for name in SDK
    ]
    runtime = Component(
        name=f"aws-lambda-{RUNTIME}",
        type=ComponentType.PLATFORM,
        bom_ref=f"runtime:{RUNTIME}",
        description=f"The AWS Lambda {RUNTIME} managed runtime on {ARCHITECTURE}, and the SDK it provides",
        components=sdk,
    )
    return runtime, sdk


def build_sbom(artifacts: list[Path], lock: Path, project_version: str) -> Bom:
    """The SBOM of ``artifacts`` (zips built from ``lock``); raises UnaccountedContent."""
    every_zip = [read_zip(artifact) for artifact in artifacts]  # before pip: an unaccounted file fails fast
    wheels = installation_report(lock)
    bom = Bom()
    bom.metadata.component = service = Component(
        name="mvdb",
        type=ComponentType.APPLICATION,
        version=project_version,
        bom_ref="mvdb",
        description="mvdb, the Movies Database API: the Lambda zips below and the runtime they run on",
    )
    needs_runtime_sdk = []
    for contents in every_zip:
        artifact = contents.path
        ours = [
            _file(
                contents, path, **{"compiled-from" if path.endswith(".pyc") else "source": str(src.relative_to(ROOT))}
            )
            for path, src in sorted(contents.ours.items())
        ]
        libraries = [_wheel(contents, name, version, wheels) for name, version in sorted(contents.wheels.items())]
        package = Component(
            name=artifact.name,
            type=ComponentType.APPLICATION,
            version=project_version,
            bom_ref=f"artifact:{artifact.name}",
            hashes=_hash(artifact.read_bytes()),
            description=f"Lambda deployment package ({RUNTIME}, {ARCHITECTURE}): our code and the wheels it bundles",
            components=[*ours, *libraries],
        )
        bom.components.add(package)
        bom.register_dependency(package, libraries)
        code = [contents.data[path].decode(errors="replace") for path in contents.ours if path.endswith(".py")]
        if any(map(_IMPORTS_SDK.search, code)) and not set(SDK) <= set(contents.wheels):
            needs_runtime_sdk.append(package)
    if needs_runtime_sdk:
        runtime, sdk = _runtime_with_sdk()
        bom.components.add(runtime)
        for package in needs_runtime_sdk:
            bom.register_dependency(package, sdk)
    bom.register_dependency(service, list(bom.components))
    return bom


def project_version() -> str:
    match = re.search(r'__version__ = "([^"]+)"', (SERVICE_PACKAGE / "__init__.py").read_text())
    return match.group(1) if match else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifacts", type=Path, nargs="+", help="the Lambda zips (make build's)")
    parser.add_argument("--lock", type=Path, default=LAMBDA_LOCK)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    missing = [str(a) for a in args.artifacts if not a.exists()]
    if missing:
        print(f"error: {', '.join(missing)} missing: run make build", file=sys.stderr)
        return 2
    try:
        bom = build_sbom(args.artifacts, args.lock, project_version())
    except UnaccountedContent as problem:
        print(f"error: the SBOM cannot account for everything in the artifact: {problem}", file=sys.stderr)
        return 1
    document = JsonV1Dot6(bom).output_as_string(indent=2)
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    if errors:
        print(f"error: the SBOM does not validate against CycloneDX 1.6: {errors}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(document)
    counts = {c["name"]: len(c.get("components", [])) for c in json.loads(document)["components"]}
    print(f"SBOM: {args.output}: CycloneDX 1.6, schema-valid; components per artifact: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
