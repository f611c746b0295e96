"""The tools behind ``make build`` and ``make check-infra``, without AWS or a network."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from tools.build.lambda_artifact import write_reproducible_zip
from tools.build.sam_translate import TranslationError, translate

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAM_CONFIG = PROJECT_ROOT / "infra" / "samconfig.toml"


@pytest.fixture
def no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()


# -- the artifact zip ---------------------------------------------------------------------------


def _package_tree(root: Path) -> None:
    (root / "mvdb" / "api").mkdir(parents=True)
    (root / "mvdb" / "__init__.py").write_text("VERSION = 1\n")
    (root / "mvdb" / "api" / "routes.py").write_text("ROUTES = []\n")
    (root / "mvdb" / "__pycache__").mkdir()
    (root / "mvdb" / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"\0runtime cache")
    (root / "mvdb" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0another Python's cache")
    (root / "mvdb" / "__pycache__" / "gone.cpython-313.pyc").write_bytes(b"\0cache of a deleted source")
    (root / "pydantic").mkdir()
    (root / "pydantic" / "main.pyc").write_bytes(b"\0sourceless module")
    (root / "bin").mkdir()
    (root / "bin" / "jp.py").write_text("#!/usr/bin/env python\n")


def test_the_artifact_zip_is_reproducible_whatever_the_file_times(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _package_tree(tree)
    first = write_reproducible_zip(tree, tmp_path / "first.zip")
    for path in tree.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))  # as a later checkout or install would leave them
    second = write_reproducible_zip(tree, tmp_path / "second.zip")

    assert first.sha256 == second.sha256
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_the_artifact_zip_holds_modules_and_the_runtimes_caches_only_readable_and_sorted(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _package_tree(tree)
    artifact = write_reproducible_zip(tree, tmp_path / "artifact.zip")

    with zipfile.ZipFile(artifact.path) as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    # No other Python's cache, no cache without its source, no console scripts.
    assert names == [
        "mvdb/__init__.py",
        "mvdb/__pycache__/__init__.cpython-313.pyc",
        "mvdb/api/routes.py",
        "pydantic/main.pyc",
    ]
    assert artifact.files == 4
    for entry in entries:
        assert entry.external_attr >> 16 == 0o100644
        assert entry.date_time == (1980, 1, 1, 0, 0, 0)


# -- the offline translation --------------------------------------------------------------------


def _sam(function_properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Function": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Runtime": "python3.13", "Handler": "app.handler", "CodeUri": "../build/f.zip"}
                | function_properties,
            }
        },
    }


def test_translation_needs_no_network_and_stands_in_for_local_artifacts(no_network: None) -> None:
    translated = translate(_sam({}))

    code = translated["Resources"]["Function"]["Properties"]["Code"]
    assert code == {"S3Bucket": "offline-translation-artifacts", "S3Key": "f.zip"}


def test_translation_resolves_the_managed_policies_sam_bundles_offline(no_network: None) -> None:
    translated = translate(_sam({"Policies": ["AmazonDynamoDBReadOnlyAccess"]}))

    arns = translated["Resources"]["FunctionRole"]["Properties"]["ManagedPolicyArns"]
    assert "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess" in arns


def test_translation_refuses_a_managed_policy_it_would_have_to_look_up(no_network: None) -> None:
    with pytest.raises(TranslationError, match="by its ARN"):
        translate(_sam({"Policies": ["SomeCustomerPolicyNamedByName"]}))


def test_translation_reports_what_the_sam_transform_rejects(no_network: None) -> None:
    api_event = {"Type": "Api", "Properties": {"Path": "/x", "Method": "GET", "Auth": {"AuthorizationScopes": ["a/b"]}}}

    with pytest.raises(TranslationError, match="AuthorizationScopes works only when Authorizer is set"):
        translate(_sam({"Events": {"Get": api_event}}))
