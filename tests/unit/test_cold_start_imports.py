"""Cold start cannot regress silently: importing the Lambda handler may load only the
third-party packages and project modules on the committed allow-list, and neither the import
nor the first ``GET /movies/{year}/{title}`` may load the heavy modules deferred to the requests
that need them.

A new entry is a deliberate decision: measure it with `make bench` (cold-start section),
then add it to cold_start_imports.txt in the same change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LOCAL_AWS_ENV

pytestmark = pytest.mark.slow  # each test imports the handler in a fresh interpreter

ALLOW_LIST = Path(__file__).with_name("cold_start_imports.txt")
HANDLER_MODULE = "mvdb.app"
# Heavy modules the handler defers to the first request that needs them.
DEFERRED = {
    "aws_lambda_powertools.event_handler.openapi.models",  # ~50 pydantic models, for /openapi.json and /docs
    "aws_lambda_powertools.event_handler.openapi.swagger_ui.html",
    "mvdb.loader",
    "mvdb.cli",
    "mvdb.backup_cli",  # operator commands, and what only restores and drills use
    "mvdb.table_export",
    "mvdb.verification.restore_validation",
    "aws_lambda_powertools.utilities.idempotency",  # on the first request with an Idempotency-Key
}
# What only other requests need, which a GET of one movie must not load either.
DEFERRED_PAST_FIRST_GET = DEFERRED | {
    "aws_lambda_powertools.event_handler.openapi.schema_generator",  # the OpenAPI document
    "mvdb.repository.search_index",  # searches
    "mvdb.repository.audit_store",  # a movie's history
    "mvdb.domain.read_only",  # only when writes are suspended
}

_PROBE = """
import json, sys
before = set(sys.modules)
{imports}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter loads to import ``modules``."""
    code = _PROBE.format(imports="\n".join(f"import {m}" for m in modules))
    env = {**os.environ, "TABLE_NAME": "import-probe", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


# A fresh interpreter imports the handler, then serves GET /movies/2013/Rush with its DynamoDB
# client stubbed (botocore's Stubber, loaded before counting: it is the test's, not the handler's).
# ``{between}`` runs between the import and the GET (the broken fixture's added import).
_FIRST_GET_PROBE = """
import json, sys
from botocore.stub import Stubber
from apigateway_events.rest_api import proxy_event
before = set(sys.modules)
import mvdb.app
{between}
stub = Stubber(mvdb.app.app.service._repository._client)
stub.add_response("get_item", {{"Item": {{"year": {{"N": "2013"}}, "title": {{"S": "Rush"}}, "info": {{"M": {{}}}}}}}})
stub.activate()
event = proxy_event("GET", "/movies/2013/Rush", resource="/movies/{{year}}/{{title+}}",
                    path_parameters={{"year": "2013", "title": "Rush"}}, headers={{"accept": "application/json"}},
                    authorizer={{"claims": {{"scope": "movies/read", "client_id": "probe"}}}})
class Context:
    function_name, function_version, memory_limit_in_mb = "mvdb", "1", 512
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:123456789012:function:mvdb", "probe"
response = mvdb.app.lambda_handler(event, Context())
assert response["statusCode"] == 200, response
stub.assert_no_pending_responses()
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by_first_get(between: str = "") -> set[str]:
    """Every module a fresh interpreter loads to import the handler and serve its first GET of a movie."""
    env = {
        **os.environ,
        "TABLE_NAME": "import-probe",
        **LOCAL_AWS_ENV,
        "POWERTOOLS_METRICS_NAMESPACE": "mvdb",
    }
    code = _FIRST_GET_PROBE.format(between=between)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def guarded_names(loaded: set[str]) -> set[str]:
    """Third-party top-level packages and project modules; the standard library is in every runtime."""
    names = set()
    for name in loaded:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top.startswith("_"):
            continue
        names.add(name if top in {"mvdb", "mvdb_local"} else top)
    return names


def allowed() -> set[str]:
    lines = (line.split("#")[0].strip() for line in ALLOW_LIST.read_text().splitlines())
    return {line for line in lines if line}


def test_handler_imports_only_allow_listed_packages_and_modules() -> None:
    unexpected = guarded_names(loaded_by(HANDLER_MODULE)) - allowed()
    assert unexpected == set(), "new import on the handler's path: measure it with make bench, then allow-list it"


def test_handler_import_defers_docs_loader_and_cli() -> None:
    assert loaded_by(HANDLER_MODULE) & DEFERRED == set()


def test_first_get_of_a_movie_defers_what_only_other_requests_need() -> None:
    assert loaded_by_first_get() & DEFERRED_PAST_FIRST_GET == set()


def test_first_get_guard_fails_when_the_get_loads_a_deferred_module() -> None:
    loaded = loaded_by_first_get(between="import mvdb.repository.search_index")
    assert loaded & DEFERRED_PAST_FIRST_GET == {"mvdb.repository.search_index"}


@pytest.mark.parametrize("heavy", ["tqdm", "mvdb.loader", "mvdb_local.server"])
def test_guard_fails_on_a_deliberately_added_heavy_import(heavy: str) -> None:
    unexpected = guarded_names(loaded_by(HANDLER_MODULE, heavy)) - allowed()
    assert unexpected, f"importing {heavy} beside the handler went unnoticed"
