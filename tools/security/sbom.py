"""A CycloneDX SBOM of the Lambda artifact: every package inside ``build/lambda/mvdb.zip``, with
its version, purl and the SHA-256 of the exact wheel it was installed from.

The packages are read from the zip itself (its ``*.dist-info`` folders), so the SBOM describes
what ships, not what a lock file says. The wheel hashes come from pip's installation report for
the same lock, platform and Python the build uses (``pip install --dry-run --report``, hash
checking on); a package in the zip that the report does not account for fails the run.

Usage: ``python -m tools.security.sbom`` (run by ``make build``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "build" / "lambda" / "mvdb.zip"
LOCK = ROOT / "requirements" / "lambda.txt"
_DIST_INFO = re.compile(r"^([^/]+)-([^/-]+)\.dist-info/METADATA$")


def packages_in(artifact: Path) -> dict[str, str]:
    """Name -> version of every distribution installed in the zip."""
    with zipfile.ZipFile(artifact) as archive:
        found = {}
        for name in archive.namelist():
            match = _DIST_INFO.match(name)
            if match:
                found[canonicalize_name(match.group(1))] = match.group(2)
        return found


def installation_report(lock: Path) -> dict[str, dict[str, Any]]:
    """pip's report of the wheels the build installs: name -> {version, sha256, url}."""
    with tempfile.TemporaryDirectory() as target:
        report_file = Path(target) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
             "--ignore-installed", "--report", str(report_file), "--target", str(Path(target) / "site"),
             "--platform", "manylinux2014_aarch64", "--python-version", "3.13", "--implementation", "cp",
             "--only-binary=:all:", "--require-hashes", "--no-deps", "-r", str(lock)],
            check=True,
        )  # fmt: skip
        report = json.loads(report_file.read_text())
    wheels = {}
    for item in report["install"]:
        metadata, download = item["metadata"], item["download_info"]
        digest = download.get("archive_info", {}).get("hashes", {}).get("sha256", "")
        wheels[canonicalize_name(metadata["name"])] = {
            "version": metadata["version"],
            "sha256": digest,
            "url": download["url"],
        }
    return wheels


def build_sbom(artifact: Path, lock: Path) -> Bom:
    shipped = packages_in(artifact)
    wheels = installation_report(lock)
    bom = Bom()
    bom.metadata.component = Component(
        name="mvdb-lambda",
        type=ComponentType.APPLICATION,
        version=_project_version(),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=hashlib.sha256(artifact.read_bytes()).hexdigest())],
        description="The mvdb Lambda function artifact (build/lambda/mvdb.zip)",
        bom_ref="mvdb-lambda",
    )
    unaccounted = sorted(set(shipped) - set(wheels))
    if unaccounted:
        raise SystemExit(f"error: packages in {artifact.name} that the lock does not install: {unaccounted}")
    components = []
    for name, version in sorted(shipped.items()):
        wheel = wheels[name]
        if wheel["version"] != version or not wheel["sha256"]:
            raise SystemExit(f"error: {name} {version} in the zip does not match the lock's wheel {wheel}")
        purl = PackageURL(type="pypi", name=name, version=version)
        components.append(
            Component(
                name=name,
                version=version,
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=purl.to_string(),  # stable references: the same build, the same SBOM
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=wheel["sha256"])],
            )
        )
    bom.components.update(components)
    bom.register_dependency(bom.metadata.component, components)
    return bom


def _project_version() -> str:
    text = (ROOT / "src" / "mvdb" / "__init__.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    return match.group(1) if match else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", type=Path, default=ARTIFACT)
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--output", type=Path, default=ARTIFACT.with_name("mvdb.sbom.cdx.json"))
    args = parser.parse_args(argv)
    if not args.artifact.exists():
        print(f"error: {args.artifact} is missing: run make build", file=sys.stderr)
        return 2
    document = JsonV1Dot6(build_sbom(args.artifact, args.lock)).output_as_string(indent=2)
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    if errors:
        print(f"error: the SBOM does not validate against CycloneDX 1.6: {errors}", file=sys.stderr)
        return 1
    args.output.write_text(document)
    components = json.loads(document)["components"]
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"SBOM: {shown}: {len(components)} packages, each with version, purl and wheel SHA-256 (CycloneDX 1.6)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
