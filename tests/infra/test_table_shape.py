"""The table's key is the one existing clients depend on: ``year`` (number, partition), ``title`` (string, sort).

Asserted on the translated template, what CloudFormation creates. The local stack and the tests
make their tables from the same definition (``mvdb_local.table``), so comparing a local table
with the template would prove nothing; the deployed table is compared with it after every deploy
(``tests/e2e/test_stack_resources.py``).
"""

from __future__ import annotations

import pytest

from tests.infra.cfn import Template

pytestmark = pytest.mark.infra


def test_the_table_is_keyed_by_year_as_a_number_then_title_as_a_string(template: Template) -> None:
    table = template.properties("MoviesTable")

    assert table["KeySchema"] == [
        {"AttributeName": "year", "KeyType": "HASH"},
        {"AttributeName": "title", "KeyType": "RANGE"},
    ]
    key_types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert {name: key_types[name] for name in ("year", "title")} == {"year": "N", "title": "S"}
