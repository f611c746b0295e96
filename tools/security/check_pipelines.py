"""The supply-chain policy of the pipelines, checked offline over bitbucket-pipelines.yml, the
GitHub workflows, the Makefile and the scripts the pipelines run. Each rule is a class of defect:

``restored-environment``
    No step restores an installed environment (a venv, ``.tools``, ``node_modules``) from a cache.
    Bitbucket's caches are shared by every branch, and pip's ``--require-hashes`` checks what it
    downloads, not what is already installed: a ``.pth`` file or a line appended to an installed
    module would survive ``make .venv/.installed`` and run in the next step that restores it, with
    that step's deploy role if it has one, or inside the artifact it builds. Only download caches
    are allowed, each of whose entries is hash-checked when used: pip's (every install
    ``--require-hashes``) and npm's (``npm ci`` against package-lock.json's integrity hashes).
``image-by-digest``
    Every container image is named by its sha256 digest: a tag can be moved under us.
``apt-in-build-or-deploy``
    A step that builds what is deployed (it hands artifacts on) or gets cloud credentials installs
    no Debian package, directly or through a script it runs, unless each is pinned ``name=version``;
    what such a step needs is in its image.
``runtime-version``
    actions/setup-python, setup-node and setup-java install an exact release (``3.13.15``, not
    ``3.13``), so the interpreter cannot change between two runs of the same commit.
``action-by-sha``
    Every action is pinned to a full commit SHA, with the release in a comment for Dependabot.
``unhashed-install``
    Every ``pip install`` takes a hashed lock wheels-only (``--require-hashes --only-binary=:all:``);
    the project itself installs ``--no-deps --no-build-isolation -e .`` (its build backend comes
    hash-pinned from requirements/build.txt); npm installs only with ``npm ci``; no ``npx``, and
    nothing downloaded is piped into a shell.
``online-audit``
    Each pipeline runs ``make audit-online`` in a step (job) of its own, and never the targets that
    may only note an unreachable service (``audit``, ``npm-audit``, ``check-security``, ``test``).

Usage: ``python -m tools.security.check_pipelines [--root DIR]`` (run by ``make check-pipelines``);
exit 1 with one line per violation.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BITBUCKET = Path("bitbucket-pipelines.yml")
WORKFLOWS = Path(".github") / "workflows"
MAKEFILE = Path("Makefile")

# Bitbucket's predefined caches and the directories they hold (Bitbucket Pipelines docs, "Caches").
BITBUCKET_PREDEFINED_CACHES = {
    "composer": "~/.composer/cache",
    "dotnetcore": "~/.nuget/packages",
    "gradle": "~/.gradle/caches",
    "ivy2": "~/.ivy2/cache",
    "maven": "~/.m2/repository",
    "node": "node_modules",
    "pip": "~/.cache/pip",
    "sbt": "~/.sbt",
    "docker": "(docker layers)",
}
# Download caches whose every entry is hash-checked when an install uses it.
DOWNLOAD_CACHES = {"~/.cache/pip": "pip's, used only with --require-hashes", "~/.npm": "npm's, used only by npm ci"}
SETUP_ACTION_CACHES = {"actions/setup-python": {"pip"}, "actions/setup-node": {"npm"}, "actions/setup-java": set()}
EXACT_RUNTIME = {
    "actions/setup-python": ("python-version", re.compile(r"^\d+\.\d+\.\d+$")),
    "actions/setup-node": ("node-version", re.compile(r"^\d+\.\d+\.\d+$")),
    "actions/setup-java": ("java-version", re.compile(r"^\d+\.\d+\.\d+\+\d+$")),
}
PINNED_ACTION = re.compile(r"^([\w.-]+/[\w./-]+)@[0-9a-f]{40}$")
RELEASE_COMMENT = re.compile(r"uses:\s*\S+\s+# v\d+(\.\d+){0,2}\s*$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SCRIPT_PATH = re.compile(r"(?:\./)?(pipelines/[\w.-]+\.sh)\b")
APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-[-\w]+\s+)*install\b([^;&|\n]*)")
PIP_INSTALL = re.compile(r"(?:\bpip3?\b|\$\(PIP\))(?:\s+-[-\w=]+)*\s+install\b([^;&|\n]*)")
NPM_UNLOCKED = re.compile(r"\bnpm\s+(?:install|i|add|update|up)\b|\bnpx\b|\byarn\b|\bpnpm\b")
PIPE_TO_SHELL = re.compile(r"\b(?:curl|wget)\b[^|\n]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b")
MAKE_TARGETS = re.compile(r"(?:^|&&|;)\s*make\s+([^;&|]*)")
SOFT_AUDITS = {"audit", "npm-audit", "check-security", "test"}


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"VIOLATION [{self.rule}] {self.where}: {self.message}"


def check(root: Path = ROOT) -> list[Violation]:
    """Every violation of the policy in the repository at ``root``."""
    bitbucket = yaml.safe_load((root / BITBUCKET).read_text(encoding="utf-8"))
    workflows = {path.name: path for path in sorted((root / WORKFLOWS).glob("*.yml"))}
    found = check_bitbucket(bitbucket, root) + check_commands("Makefile", makefile_recipes(root / MAKEFILE))
    for name, path in workflows.items():
        found += check_workflow(name, path, root)
    for script in sorted((root / "pipelines").glob("*.sh")):
        found += check_commands(f"pipelines/{script.name}", shell_lines(script))
    found += check_online_audit_bitbucket(bitbucket)
    found += check_online_audit_github({name: _load(path) for name, path in workflows.items()})
    return sorted(set(found))


# --- Bitbucket ------------------------------------------------------------------------------
def bitbucket_cache_paths(bitbucket: dict[str, Any]) -> dict[str, str]:
    """Cache name -> the directory it holds (predefined ones, then the file's own definitions)."""
    paths = dict(BITBUCKET_PREDEFINED_CACHES)
    for name, definition in (bitbucket.get("definitions", {}).get("caches") or {}).items():
        paths[name] = definition["path"] if isinstance(definition, dict) else definition
    return paths


def bitbucket_steps(bitbucket: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pipeline, step) for every step of every pipeline, parallel groups flattened."""
    pipelines = bitbucket.get("pipelines", {})
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for kind, value in pipelines.items():
        if isinstance(value, list):
            groups.append((kind, value))
        else:
            groups.extend((f"{kind}/{name}", items) for name, items in value.items())
    for pipeline, items in groups:
        for item in items:
            if "parallel" in item:
                parallel = item["parallel"]
                entries = parallel["steps"] if isinstance(parallel, dict) else parallel
                yield from ((pipeline, entry["step"]) for entry in entries)
            elif "step" in item:
                yield pipeline, item["step"]


def is_sealed_bitbucket_step(step: dict[str, Any]) -> bool:
    """A step that gets cloud credentials or hands artifacts (what is deployed) to later steps."""
    return bool(step.get("oidc")) or bool(step.get("artifacts"))


def check_bitbucket(bitbucket: dict[str, Any], root: Path) -> list[Violation]:
    found = []
    images = [("image", bitbucket.get("image"))]
    cache_paths = bitbucket_cache_paths(bitbucket)
    for pipeline, step in bitbucket_steps(bitbucket):
        where = f"bitbucket-pipelines.yml {pipeline} step {step.get('name', '?')!r}"
        images.append((f"{where} image", step.get("image")))
        for cache in step.get("caches", []):
            path = cache_paths.get(cache, "(undefined)")
            if path not in DOWNLOAD_CACHES:
                found.append(
                    Violation(
                        "restored-environment",
                        where,
                        f"restores cache {cache!r} ({path}); only download caches may be restored: "
                        + ", ".join(f"{p} ({why})" for p, why in DOWNLOAD_CACHES.items()),
                    )
                )
        if is_sealed_bitbucket_step(step):
            found += check_apt(where, [str(line) for line in step.get("script", [])], root)
        found += check_commands(where, [str(line) for line in step.get("script", [])])
    for where, image in images:
        if image is None:
            continue
        name = image.get("name") if isinstance(image, dict) else image
        if not DIGEST.search(str(name)):
            found.append(
                Violation("image-by-digest", f"bitbucket-pipelines.yml {where}", f"{name} has no @sha256 digest")
            )
    return found


# --- GitHub Actions -------------------------------------------------------------------------
def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def is_sealed_github_job(job: dict[str, Any]) -> bool:
    """A job that can get an OIDC token or uploads an artifact for later jobs."""
    permissions = job.get("permissions") or {}
    uploads = any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in job.get("steps", []))
    return (isinstance(permissions, dict) and permissions.get("id-token") == "write") or uploads


def check_workflow(name: str, path: Path, root: Path) -> list[Violation]:
    found = []
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.match(r"^\s*(-\s+)?uses:", line):
            reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            if reference.startswith("./"):
                continue  # a workflow of this repository, pinned by being in the same commit
            if reference.startswith("docker://"):
                if not DIGEST.search(reference):
                    found.append(Violation("image-by-digest", name, f"{reference} has no @sha256 digest"))
            elif not PINNED_ACTION.match(reference) or not RELEASE_COMMENT.search(line):
                found.append(
                    Violation("action-by-sha", name, f"not a full commit SHA with its release: {line.strip()}")
                )
    workflow = _load(path)
    for job_name, job in (workflow.get("jobs") or {}).items():
        where = f"{name} job {job_name}"
        for image in _job_images(job):
            if not DIGEST.search(image):
                found.append(Violation("image-by-digest", where, f"{image} has no @sha256 digest"))
        runs = [str(step["run"]) for step in job.get("steps", []) if "run" in step]
        found += check_commands(where, runs)
        if is_sealed_github_job(job):
            found += check_apt(where, runs, root)
        for step in job.get("steps", []):
            found += _check_action_step(where, step)
    return found


def _job_images(job: dict[str, Any]) -> list[str]:
    images = []
    container = job.get("container")
    if container:
        images.append(container["image"] if isinstance(container, dict) else container)
    for service in (job.get("services") or {}).values():
        images.append(service["image"] if isinstance(service, dict) else service)
    return [str(image) for image in images]


def _check_action_step(where: str, step: dict[str, Any]) -> list[Violation]:
    action = str(step.get("uses", "")).split("@", 1)[0]
    settings = step.get("with") or {}
    found = []
    if action in ("actions/cache", "actions/cache/restore"):
        paths = [p.strip() for p in str(settings.get("path", "")).splitlines() if p.strip()]
        for path in paths:
            if path not in DOWNLOAD_CACHES:
                found.append(Violation("restored-environment", where, f"{action} restores {path}"))
    if action in SETUP_ACTION_CACHES and "cache" in settings and settings["cache"] not in SETUP_ACTION_CACHES[action]:
        found.append(Violation("restored-environment", where, f"{action} caches {settings['cache']!r}"))
    if action == "actions/download-artifact" and not str(settings.get("path", "")).startswith("build/"):
        found.append(Violation("restored-environment", where, f"downloads an artifact outside build/: {settings}"))
    if action in EXACT_RUNTIME:
        key, exact = EXACT_RUNTIME[action]
        version = str(settings.get(key, ""))
        if not exact.match(version):
            found.append(Violation("runtime-version", where, f"{action} {key} {version!r} is not an exact release"))
    return found


# --- Commands: installs and apt -------------------------------------------------------------
def makefile_recipes(path: Path) -> list[str]:
    """Recipe lines of a Makefile, continuation lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.startswith("\t")]


def shell_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def check_commands(where: str, commands: list[str]) -> list[Violation]:
    """Every pip install hashed and wheels-only (the project: no deps, no build isolation); npm ci only."""
    found = []
    for command in commands:
        for match in PIP_INSTALL.finditer(command):
            arguments = match.group(1).split()
            if "-e" in arguments or "--editable" in arguments:
                missing = [flag for flag in ("--no-deps", "--no-build-isolation") if flag not in arguments]
            else:
                missing = [flag for flag in ("--require-hashes", "--only-binary=:all:", "-r") if flag not in arguments]
            if missing:
                found.append(
                    Violation("unhashed-install", where, f"pip install without {' '.join(missing)}: {command}")
                )
        if NPM_UNLOCKED.search(command):
            found.append(Violation("unhashed-install", where, f"npm packages outside npm ci: {command}"))
        if PIPE_TO_SHELL.search(command):
            found.append(Violation("unhashed-install", where, f"a download piped into a shell: {command}"))
    return found


def check_apt(where: str, commands: list[str], root: Path) -> list[Violation]:
    """No unpinned apt install in a build or deploy step, nor in the pipeline scripts it runs."""
    found = []
    for command in commands:
        texts = [(where, command)]
        for script in SCRIPT_PATH.findall(command):
            if (root / script).is_file():
                texts += [(f"{where} via {script}", line) for line in shell_lines(root / script)]
        for origin, text in texts:
            for match in APT_INSTALL.finditer(text):
                packages = [arg for arg in match.group(1).split() if not arg.startswith("-") and arg != ">/dev/null"]
                unpinned = [p for p in packages if "=" not in p] or ([] if packages else ["(none named)"])
                if unpinned:
                    found.append(Violation("apt-in-build-or-deploy", origin, f"unpinned apt install: {text.strip()}"))
    return found


# --- The online audit -----------------------------------------------------------------------
def _make_targets(command: str) -> list[str]:
    return [word for match in MAKE_TARGETS.finditer(command) for word in match.group(1).split() if "=" not in word]


def _audit_placement(where: str, units: dict[str, list[str]]) -> list[Violation]:
    found = []
    auditing = [name for name, commands in units.items() if any("audit-online" in _make_targets(c) for c in commands)]
    if not auditing:
        found.append(Violation("online-audit", where, "no step runs make audit-online"))
    for name in auditing:
        targets = [t for c in units[name] for t in _make_targets(c)]
        if targets != ["audit-online"]:
            found.append(Violation("online-audit", f"{where} {name}", f"make audit-online shares its step: {targets}"))
    for name, commands in units.items():
        soft = sorted({t for c in commands for t in _make_targets(c)} & SOFT_AUDITS)
        if soft:
            found.append(
                Violation("online-audit", f"{where} {name}", f"runs make {' '.join(soft)}, which may pass unaudited")
            )
    return found


def check_online_audit_bitbucket(bitbucket: dict[str, Any]) -> list[Violation]:
    found = []
    pipelines = bitbucket.get("pipelines", {})
    for pipeline in ["default", *(f"pull-requests/{k}" for k in pipelines.get("pull-requests", {})), "branches/main"]:
        units = {
            f"step {step.get('name', '?')!r}": [str(line) for line in step.get("script", [])]
            for name, step in bitbucket_steps(bitbucket)
            if name == pipeline
        }
        found += _audit_placement(f"bitbucket-pipelines.yml {pipeline}", units)
    return found


def check_online_audit_github(workflows: dict[str, dict[str, Any]]) -> list[Violation]:
    units = {
        f"{name} job {job_name}": [str(step["run"]) for step in job.get("steps", []) if "run" in step]
        for name, workflow in workflows.items()
        for job_name, job in (workflow.get("jobs") or {}).items()
    }
    return _audit_placement(".github/workflows", units)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to check (default: this one)")
    args = parser.parse_args(argv)
    violations = check(args.root)
    for violation in violations:
        print(violation)
    print(f"pipeline supply-chain policy: {len(violations)} violation(s) (tools/security/check_pipelines.py)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
