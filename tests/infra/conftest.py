"""Fixtures of the infrastructure suite: the templates, their offline translation, and the application.

The stack is a root SAM template (``infra/template.yaml``) with nested applications
(``infra/stacks/*.yaml``). The translation is what CloudFormation's ``AWS::Serverless-2016-10-31``
transform would produce for the root (aws-sam-translator, the transform's own library, run
offline by ``tools.build.sam_translate``); the application is that translation with every nested
stack linked in (``tools.build.nested_stacks``): the resources that will really exist, with
parameters and outputs followed across stack boundaries, so a test can assert on the whole.

``MVDB_INFRA_TEMPLATE`` points the suite at another root template (its nested files are found
relative to it): the mutation tests (``test_gates_bite.py``) run it against broken copies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template
from tools.build.nested_stacks import link, nested_template_paths
from tools.build.sam_translate import OFFLINE_PARAMETERS, load_sam_template, translate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_ENV = "MVDB_INFRA_TEMPLATE"


def load_nested(path: Path) -> dict[str, Any]:
    """A nested template as CloudFormation will see it (translated if it carries a transform)."""
    document = load_sam_template(path)
    return translate(document, parameter_values=OFFLINE_PARAMETERS) if "Transform" in document else document


def link_application(translated_root: dict[str, Any], root_path: Path) -> dict[str, Any]:
    return link(translated_root, root_path.parent, load_nested)


@pytest.fixture(scope="session")
def template_path() -> Path:
    return Path(os.environ.get(TEMPLATE_ENV) or PROJECT_ROOT / "infra" / "template.yaml")


@pytest.fixture(scope="session")
def sam_document(template_path: Path) -> dict[str, Any]:
    """The root SAM template as written (short-form intrinsics parsed)."""
    return load_sam_template(template_path)


@pytest.fixture(scope="session")
def sam_template(sam_document: dict[str, Any]) -> Template:
    return Template(sam_document)


@pytest.fixture(scope="session")
def template_files(template_path: Path, sam_document: dict[str, Any]) -> dict[str, Path]:
    """Every template of the application: "root" and each nested application's logical ID -> its file."""
    return {"root": template_path, **nested_template_paths(sam_document, template_path.parent)}


@pytest.fixture(scope="session")
def written_templates(template_files: dict[str, Path]) -> dict[str, Template]:
    """Every template as written, by the name ``template_files`` gives it."""
    return {name: Template(load_sam_template(path)) for name, path in template_files.items()}


@pytest.fixture(scope="session")
def translated_document(sam_document: dict[str, Any]) -> dict[str, Any]:
    """The root's CloudFormation as the SAM transform produces it, translated offline (no AWS calls)."""
    return translate(sam_document, parameter_values=OFFLINE_PARAMETERS)


@pytest.fixture(scope="session")
def template(translated_document: dict[str, Any], template_path: Path) -> Template:
    """The whole application (root translated, nested stacks linked in) with the parameters' defaults;
    ``.with_parameters(...)`` for others."""
    return Template(link_application(translated_document, template_path))
