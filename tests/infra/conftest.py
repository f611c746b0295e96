"""Fixtures of the infrastructure suite: the SAM template, and its offline CloudFormation translation.

The translation is what CloudFormation's ``AWS::Serverless-2016-10-31`` transform would produce
(aws-sam-translator, the transform's own library, run offline by ``tools.build.sam_translate``
as cfn-lint used to run it), so the tests assert on the resources that will really exist.

``MVDB_INFRA_TEMPLATE`` points the suite at another template: the mutation tests
(``test_gates_bite.py``) run it against broken copies to show that it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template
from tools.build.sam_translate import load_sam_template, translate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_ENV = "MVDB_INFRA_TEMPLATE"


@pytest.fixture(scope="session")
def template_path() -> Path:
    return Path(os.environ.get(TEMPLATE_ENV) or PROJECT_ROOT / "infra" / "template.yaml")


@pytest.fixture(scope="session")
def sam_document(template_path: Path) -> dict[str, Any]:
    """The SAM template as written (short-form intrinsics parsed)."""
    return load_sam_template(template_path)


@pytest.fixture(scope="session")
def sam_template(sam_document: dict[str, Any]) -> Template:
    return Template(sam_document)


@pytest.fixture(scope="session")
def translated_document(sam_document: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation the SAM transform produces, translated offline (no AWS calls)."""
    return translate(sam_document)


@pytest.fixture(scope="session")
def template(translated_document: dict[str, Any]) -> Template:
    """The translated template with the parameters' defaults; ``.with_parameters(...)`` for others."""
    return Template(translated_document)
