"""The search index's infrastructure: the nested stack infra/stacks/search.yaml and its part of the root.

The root (the function, its event source mapping, the nested application) is read translated, as
``make check-infra`` lints it, so these tests see the event source mapping CloudFormation will create.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template
from tools.build.sam_translate import load_sam_template

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEARCH_STACK = PROJECT_ROOT / "infra" / "stacks" / "search.yaml"
DATA_STACK = PROJECT_ROOT / "infra" / "stacks" / "data.yaml"  # the index table lives beside the movies table
RUNBOOK = PROJECT_ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def stack() -> Template:
    return Template(load_sam_template(SEARCH_STACK))


@pytest.fixture(scope="module")
def data() -> Template:
    return Template(load_sam_template(DATA_STACK))


@pytest.fixture(scope="module")
def root(translated_document: dict[str, Any]) -> Template:
    """The root template as the SAM transform translates it."""
    return Template(translated_document)


def mapping(root: Template) -> dict[str, Any]:
    """The search index function's mapping (the audit trail function has one of its own on the same stream)."""
    properties: dict[str, Any] = root.resource("SearchIndexFunctionMoviesTableStream")["Properties"]
    return properties


# -- the function and its event source mapping ---------------------------------------------------


def test_the_function_reads_the_movies_table_stream_from_its_oldest_record(root: Template) -> None:
    properties = mapping(root)
    assert properties["EventSourceArn"] == {
        "Fn::If": ["HasCutOver", {"Ref": "ActiveTableStreamArn"}, {"Fn::GetAtt": ["Data", "Outputs.TableStreamArn"]}]
    }
    assert properties["FunctionName"] == {"Ref": "SearchIndexFunction"}
    assert properties["StartingPosition"] == "TRIM_HORIZON"


def test_a_failing_record_is_reported_isolated_retried_boundedly_and_then_recorded(root: Template) -> None:
    properties = mapping(root)
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert 0 <= properties["MaximumRetryAttempts"] <= 20
    assert 60 <= properties["MaximumRecordAgeInSeconds"] <= 6 * 3600
    assert properties["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["Search", "Outputs.DeadLetterQueueArn"]}}
    }


def test_the_local_poller_plays_the_mapping_with_the_same_settings(root: Template) -> None:
    from mvdb_local.streams import StreamConsumer

    local = StreamConsumer("search-indexer", lambda event, context: None)
    properties = mapping(root)
    assert (local.batch_size, local.maximum_retry_attempts, local.bisect_on_error) == (
        properties["BatchSize"],
        properties["MaximumRetryAttempts"],
        properties["BisectBatchOnFunctionError"],
    )


def test_the_function_runs_the_stream_handler_from_the_signed_artifact(root: Template) -> None:
    import mvdb.streams.search_indexer as module

    properties = root.properties("SearchIndexFunction")
    assert properties["Handler"] == "mvdb.streams.search_indexer.lambda_handler"
    assert callable(module.lambda_handler)
    assert properties["Code"]["S3Key"] == "mvdb.zip"  # the API function's artifact, placeholder-uploaded
    assert properties["CodeSigningConfigArn"] == {"Ref": "CodeSigningConfig"}
    assert properties["Role"] == {"Fn::GetAtt": ["Search", "Outputs.SearchIndexFunctionRoleArn"]}
    assert properties["TracingConfig"] == {"Mode": "Active"}


def test_the_nested_stack_watches_the_function_the_root_creates(root: Template) -> None:
    # The name is passed, not a reference (no cycle): both must be built the same way.
    function_name = root.properties("SearchIndexFunction")["FunctionName"]
    assert root.properties("Search")["Parameters"]["IndexerFunctionName"] == function_name


def test_the_nested_stack_is_given_every_parameter_it_needs(root: Template, stack: Template) -> None:
    required = {name for name, spec in stack.document["Parameters"].items() if "Default" not in spec}
    given = set(root.properties("Search")["Parameters"])
    assert required <= given <= set(stack.document["Parameters"])


def test_both_functions_find_the_index_table_by_the_data_stacks_output(root: Template) -> None:
    for function in ("SearchIndexFunction", "MoviesFunction"):
        variables = root.properties(function)["Environment"]["Variables"]
        assert variables["SEARCH_INDEX_TABLE_NAME"] == {"Fn::GetAtt": ["Data", "Outputs.SearchIndexTableName"]}


def test_the_indexer_reads_the_table_the_api_serves_and_follows_that_tables_stream(root: Template) -> None:
    # After a restore the API serves another table (ActiveTableName): the indexer must index that
    # table, from its stream (ActiveTableStreamArn), with grants on it (docs/operations.md, step 6).
    api = root.properties("MoviesFunction")["Environment"]["Variables"]
    indexer = root.properties("SearchIndexFunction")["Environment"]["Variables"]
    assert indexer["TABLE_NAME"] == api["TABLE_NAME"] == {"Fn::GetAtt": ["Data", "Outputs.ActiveTableName"]}
    restored = (
        "arn:aws:dynamodb:eu-west-1:111122223333:table/mvdb-dev-restored-202611300359/stream/2026-11-30T04:10:00.000"
    )
    cut_over = root.with_parameters(ActiveTableName="mvdb-dev-restored-202611300359", ActiveTableStreamArn=restored)
    assert cut_over.resolve(mapping(root)["EventSourceArn"]) == restored
    assert root.resolve(mapping(root)["EventSourceArn"]) == {"Fn::GetAtt": ["Data", "Outputs.TableStreamArn"]}
    assert root.properties("Search")["Parameters"]["TableArn"] == {"Fn::GetAtt": ["Data", "Outputs.ActiveTableArn"]}


PINNED_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"  # the indexer reads keys only; the audit trail needs both images


def stream_view_type_change(data: Template) -> str | None:
    """What a changed StreamViewType means and the procedure it needs, or None when it is the pinned one.

    DynamoDB cannot change the view type of an enabled stream (UpdateTable: ValidationException), so
    a change replaces the stream (a new StreamArn) and the mapping, which abandons unread records.
    """
    view_type = data.properties("MoviesTable")["StreamSpecification"]["StreamViewType"]
    if view_type == PINNED_STREAM_VIEW_TYPE:
        return None
    return (
        f"StreamViewType {view_type} replaces the movies table's stream and the search index mapping: follow "
        "docs/operations.md ('Changing the stream's view type': deploy, then `mvdb reindex --stack <stack>` at once), "
        "then pin the new value here"
    )


def test_the_stream_view_type_changes_only_with_the_replacement_procedure(data: Template) -> None:
    change = stream_view_type_change(data)
    assert change is None, change


def test_the_view_type_pin_names_the_procedure_when_it_changes(data: Template) -> None:
    document = copy.deepcopy(data.document)
    document["Resources"]["MoviesTable"]["Properties"]["StreamSpecification"]["StreamViewType"] = "KEYS_ONLY"
    change = stream_view_type_change(Template(document))
    assert change is not None and "mvdb reindex --stack <stack>" in change


def test_the_runbook_says_to_reindex_after_the_first_deploy_of_the_index_on_a_stack_with_movies() -> None:
    # A new stream carries only the writes made after it was enabled: the movies already in the
    # table reach the index only through `mvdb reindex`.
    section = RUNBOOK.read_text().split("**Upgrading a stack that already holds movies**", 1)
    assert len(section) == 2, "docs/operations.md: the upgrade step of the search index is gone"
    assert "mvdb reindex --stack <stack>" in section[1].split("**Changing the stream's view type**", 1)[0]


def test_the_mapping_carries_its_environment_tag(root: Template) -> None:
    # The execution role updates or deletes a mapping only when it carries environment=<env>.
    assert {"Key": "environment", "Value": {"Ref": "Environment"}} in mapping(root)["Tags"]


def test_the_mapping_publishes_its_event_counts(root: Template) -> None:
    assert mapping(root)["MetricsConfig"] == {"Metrics": ["EventCount"]}


# -- the nested stack ---------------------------------------------------------------------------


def test_the_index_table_is_encrypted_with_the_movies_table_key(data: Template) -> None:
    sse = data.properties("SearchIndexTable")["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Fn::GetAtt": ["MoviesTableKey", "Arn"]}}


def test_the_dead_letter_queue_is_encrypted_with_a_key_used_only_through_sqs(stack: Template) -> None:
    queue = stack.properties("SearchIndexDeadLetterQueue")
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": ["DeadLetterQueueKey", "Arn"]}
    assert queue["MessageRetentionPeriod"] == 1209600
    statements = stack.properties("DeadLetterQueueKey")["KeyPolicy"]["Statement"]
    data_plane = [s for s in statements if any(a in s["Action"] for a in ("kms:Decrypt", "kms:GenerateDataKey"))]
    assert data_plane, "no statement lets SQS use the key"
    for statement in data_plane:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == {
            "Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"
        }


@pytest.mark.parametrize(
    "alarm",
    ["SearchIndexIteratorAgeAlarm", "SearchIndexDeadLettersAlarm", "SearchIndexDestinationDeliveryFailuresAlarm"],
)
def test_the_required_alarms_exist(stack: Template, alarm: str) -> None:
    assert stack.resource(alarm)["Type"] == "AWS::CloudWatch::Alarm"


def test_every_alarm_pages_links_its_runbook_entry_and_treats_missing_data(stack: Template) -> None:
    documented = set(re.findall(r"^### (\w+)", RUNBOOK.read_text(), re.M))
    for name, alarm in stack.of_type("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopicArn"}], name
        assert f"docs/operations.md#{name.lower()}" in json.dumps(properties["AlarmDescription"]), name
        assert name in documented, f"docs/operations.md has no ### {name}"
        assert properties["TreatMissingData"] == "notBreaching", name


def test_the_lag_and_error_alarms_watch_the_function_by_its_name(stack: Template) -> None:
    for alarm in (
        "SearchIndexIteratorAgeAlarm",
        "SearchIndexFunctionErrorsAlarm",
        "SearchIndexDestinationDeliveryFailuresAlarm",
    ):
        assert stack.properties(alarm)["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": "IndexerFunctionName"}}
        ]
    assert stack.properties("SearchIndexIteratorAgeAlarm")["MetricName"] == "IteratorAge"
    # Lambda's metrics reference: a destination that refuses the record of a batch given up on.
    assert (
        stack.properties("SearchIndexDestinationDeliveryFailuresAlarm")["MetricName"] == "DestinationDeliveryFailures"
    )


def test_the_role_carries_the_permissions_boundary_and_only_lambda_assumes_it(stack: Template) -> None:
    role = stack.properties("SearchIndexFunctionRole")
    assert role["PermissionsBoundary"] == {
        "Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]
    }
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole")


def test_only_actions_without_a_resource_type_are_granted_on_every_resource(stack: Template) -> None:
    [policy] = stack.properties("SearchIndexFunctionRole")["Policies"]
    wildcards = [s for s in policy["PolicyDocument"]["Statement"] if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcards] == [
        ["dynamodb:ListStreams"],
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    ]


# -- the role holds exactly what the code calls (DynamoDB Local) ----------------------------------

_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Delete": "dynamodb:DeleteItem",
    "Update": "dynamodb:UpdateItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _grants(stack: Template) -> dict[str, set[str]]:
    """The DynamoDB actions the role allows, per resource: the movies table (TableArn) and the index."""
    [policy] = stack.properties("SearchIndexFunctionRole")["Policies"]
    grants: dict[str, set[str]] = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        resource = json.dumps(statement["Resource"])
        actions = {a for a in statement["Action"] if a.startswith("dynamodb:") and "Stream" not in a}
        actions -= {"dynamodb:GetRecords", "dynamodb:GetShardIterator"}  # the stream's: the mapping's, not ours
        if not actions:
            continue
        target = "index" if "SearchIndexTable" in resource else "movies" if "TableArn" in resource else resource
        grants.setdefault(target, set()).update(actions)
    return grants


@pytest.mark.integration
def test_the_role_grants_exactly_the_dynamodb_actions_the_indexer_calls_on_each_table(
    stack: Template, dynamodb_client: Any
) -> None:
    from mvdb.domain.models import compute_etag
    from mvdb.domain.query import MovieKey
    from mvdb.repository.dynamodb import DynamoDBMovieRepository
    from mvdb.repository.index_reconciler import DynamoDBSearchIndex
    from mvdb_local.table import create_tables

    table = f"mvdb-iam-{uuid.uuid4().hex[:12]}"
    create_tables(dynamodb_client, table, if_missing=False)
    tables = {table: "movies", f"{table}-search-index": "index"}
    used: dict[str, set[str]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem":
            for name in params["RequestItems"]:
                used.setdefault(tables[name], set()).add("dynamodb:BatchGetItem")
        elif model.name == "TransactWriteItems":
            for action in params["TransactItems"]:
                [(kind, body)] = action.items()
                used.setdefault(tables[body["TableName"]], set()).add(_TRANSACTION_ACTIONS[kind])
        elif params.get("TableName") in tables:
            used.setdefault(tables[params["TableName"]], set()).add(f"dynamodb:{model.name}")

    repository = DynamoDBMovieRepository(dynamodb_client, table)
    index = DynamoDBSearchIndex(dynamodb_client, table, f"{table}-search-index")
    small = {"year": 2031, "title": "Small", "info": {"genres": ["Drama"], "rating": 7.0}}
    large = {"year": 2031, "title": "Large", "info": {"actors": [f"Actor {n}" for n in range(120)]}}
    for document in (small, large):
        repository.create(document, compute_etag(document))
    events = dynamodb_client.meta.events
    try:
        # Every path of the code: one movie at a time, in steps, many at once, and removal.
        events.register("provide-client-params.dynamodb", record)
        index.reconcile(MovieKey(2031, "Small"))
        index.reconcile(MovieKey(2031, "Large"))
        events.unregister("provide-client-params.dynamodb", record)
        repository.delete(MovieKey(2031, "Large"), if_match="*")  # the API function's call, not the indexer's
        events.register("provide-client-params.dynamodb", record)
        index.reconcile_many([MovieKey(2031, "Large"), MovieKey(2031, "Small")])
    finally:
        events.unregister("provide-client-params.dynamodb", record)
        dynamodb_client.delete_table(TableName=table)
        dynamodb_client.delete_table(TableName=f"{table}-search-index")
    assert _grants(stack) == used


@pytest.mark.integration
def test_the_index_table_the_local_stack_creates_has_the_stacks_shape(data: Template, dynamodb_client: Any) -> None:
    from mvdb_local.table import create_search_index_table

    name = f"mvdb-shape-{uuid.uuid4().hex[:12]}"
    create_search_index_table(dynamodb_client, name, if_missing=False)
    try:
        local = dynamodb_client.describe_table(TableName=name)["Table"]
    finally:
        dynamodb_client.delete_table(TableName=name)
    deployed = data.properties("SearchIndexTable")
    assert local["KeySchema"] == deployed["KeySchema"]
    assert sorted(local["AttributeDefinitions"], key=str) == sorted(deployed["AttributeDefinitions"], key=str)
    assert local["BillingModeSummary"]["BillingMode"] == deployed["BillingMode"]
