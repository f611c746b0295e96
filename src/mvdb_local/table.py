"""The movies table as the data stack defines it (infra/stacks/data.yaml): the single definition of its shape."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from mvdb_local import PROJECT_ROOT

__all__ = ["DATA_TEMPLATE_PATH", "TEMPLATE_PATH", "create_movies_table", "movies_table_definition"]

TEMPLATE_PATH = PROJECT_ROOT / "infra" / "template.yaml"  # the root SAM template (the API, its routes)
DATA_TEMPLATE_PATH = PROJECT_ROOT / "infra" / "stacks" / "data.yaml"  # the nested stack with the table
TABLE_RESOURCE = "MoviesTable"
_SHAPE = ("KeySchema", "AttributeDefinitions", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


@lru_cache(maxsize=4)
def movies_table_definition(template_path: Path = DATA_TEMPLATE_PATH) -> dict[str, Any]:
    """KeySchema, AttributeDefinitions, BillingMode and indexes of the template's table."""
    from samtranslator.yaml_helper import yaml_parse  # understands !Ref, !If and friends

    template = yaml_parse(template_path.read_text())
    properties = template["Resources"][TABLE_RESOURCE]["Properties"]
    return {name: properties[name] for name in _SHAPE if name in properties}


def create_movies_table(client: Any, table_name: str, *, if_missing: bool = True) -> bool:
    """Create the table from the template's definition; True if it was created."""
    if if_missing and table_name in client.list_tables()["TableNames"]:
        return False
    client.create_table(TableName=table_name, **movies_table_definition())
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    return True
