"""The idempotency records' table (infra/stacks/data.yaml), the API function's grants on it, its alarm.

The records are Powertools' (``mvdb.api.idempotency``): the table must have the key and TTL
attribute its DynamoDB persistence layer writes, and the function role exactly the item
operations that layer performs, recorded here while the handler serves keyed requests.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template, as_list, get_att
from tools.build.sam_translate import load_sam_template

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_STACK = PROJECT_ROOT / "infra" / "stacks" / "data.yaml"
ALARMS_STACK = PROJECT_ROOT / "infra" / "stacks" / "alarms.yaml"
RECORD_ACTIONS = {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}


@pytest.fixture(scope="module")
def data() -> Template:
    return Template(load_sam_template(DATA_STACK))


def _record_statements(data: Template) -> list[dict[str, Any]]:
    return [
        statement
        for name, _, statement in data.policy_statements()
        if name == "MoviesFunctionRole" and get_att("IdempotencyTable", "Arn") in as_list(statement["Resource"])
    ]


def test_the_table_has_the_key_and_ttl_attribute_powertools_writes(data: Template) -> None:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    layer = DynamoDBPersistenceLayer(table_name="any", boto3_client=object())  # type: ignore[arg-type]
    table = data.properties("IdempotencyTable")
    assert table["KeySchema"] == [{"AttributeName": layer.key_attr, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": layer.key_attr, "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": layer.expiry_attr, "Enabled": True}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_table_is_kept_as_every_table_is(data: Template, environment: str) -> None:
    deployed = data.with_parameters(Environment=environment)
    table = deployed.resource("IdempotencyTable")
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = table["Properties"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"]["KMSMasterKeyId"] == get_att("MoviesTableKey", "Arn")
    assert deployed.resolve(properties["DeletionProtectionEnabled"]) is (environment != "dev")
    assert properties["BillingMode"] == "PAY_PER_REQUEST"


def test_the_function_may_only_get_put_update_and_delete_records(data: Template) -> None:
    (statement,) = _record_statements(data)
    assert statement["Effect"] == "Allow"
    assert set(as_list(statement["Action"])) == RECORD_ACTIONS
    assert as_list(statement["Resource"]) == [get_att("IdempotencyTable", "Arn")]  # no index, no stream


def test_the_function_finds_the_table_by_the_data_stacks_output(sam_template: Template, data: Template) -> None:
    variables = sam_template.properties("MoviesFunction")["Environment"]["Variables"]
    assert variables["IDEMPOTENCY_TABLE_NAME"] == get_att("Data", "Outputs.IdempotencyTableName")
    assert data.document["Outputs"]["IdempotencyTableName"]["Value"] == {"Ref": "IdempotencyTable"}


def test_throttles_and_errors_on_the_table_page(sam_template: Template) -> None:
    alarms = Template(load_sam_template(ALARMS_STACK))
    alarm = alarms.properties("IdempotencyTableErrorsAlarm")
    watched = {
        (query["MetricStat"]["Metric"]["MetricName"], dimension["Value"])
        for query in alarm["Metrics"]
        if "MetricStat" in query
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
        if dimension["Name"] == "Operation"
    }
    operations = {action.split(":")[1] for action in RECORD_ACTIONS}
    assert watched == {(metric, op) for metric in ("ThrottledRequests", "SystemErrors") for op in operations}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    passed = sam_template.properties("Alarms")["Parameters"]["IdempotencyTableName"]
    assert passed == get_att("Data", "Outputs.IdempotencyTableName")


@pytest.mark.integration
def test_the_local_table_has_the_stacks_shape(data: Template, dynamodb_client: Any) -> None:
    from mvdb_local.table import create_idempotency_table

    name = f"mvdb-idempotency-shape-{uuid.uuid4().hex[:12]}"
    create_idempotency_table(dynamodb_client, name, if_missing=False)
    try:
        local = dynamodb_client.describe_table(TableName=name)["Table"]
        ttl = dynamodb_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    finally:
        dynamodb_client.delete_table(TableName=name)
    deployed = data.properties("IdempotencyTable")
    assert local["KeySchema"] == deployed["KeySchema"]
    assert local["AttributeDefinitions"] == deployed["AttributeDefinitions"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")


@pytest.mark.integration
def test_the_grants_cover_every_call_the_handler_makes_on_the_table(
    data: Template, build_app: Any, make_table: Any, dynamodb_local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mvdb.repository.dynamodb as dynamodb_module
    from mvdb.config import default_idempotency_table_name
    from tests.integration.lambda_client import FULL_ACCESS, LambdaClient

    table = make_table(idempotency_records=True)
    records = default_idempotency_table_name(table)
    used: set[str] = set()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") == records:
            used.add(f"dynamodb:{model.name}")

    create_client = dynamodb_module.create_client

    def recorded_client(settings: Any) -> Any:
        client = create_client(settings)
        client.meta.events.register("provide-client-params.dynamodb", record)
        return client

    monkeypatch.setattr(dynamodb_module, "create_client", recorded_client)
    client = LambdaClient(build_app(table, endpoint=dynamodb_local.endpoint), authorizer=FULL_ACCESS)
    movie = {"year": 2031, "title": "Sequel", "info": {}}
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    # Every path: first use and replay, a reused key, a failure (the record is freed).
    assert client.post("/movies", json_body=movie, headers=key).status == 201
    assert client.post("/movies", json_body=movie, headers=key).status == 201
    assert client.post("/movies", json_body={**movie, "title": "Other"}, headers=key).status == 422
    assert client.post("/movies", json_body=movie, headers={"Idempotency-Key": f'"{uuid.uuid4()}"'}).status == 409

    (statement,) = _record_statements(data)
    granted = set(as_list(statement["Action"]))
    assert used <= granted
    # GetItem is the layer's read when a refused claim returns no item (ReturnValuesOnConditionCheckFailure).
    assert granted - used <= {"dynamodb:GetItem"}
