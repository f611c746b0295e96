"""The restore validation function: what it reports to AWS Backup for a restored table in DynamoDB
Local. AWS Backup is botocore's Stubber, which holds every call to the service's model (names,
types, the ValidationStatus enum) and to the order the function must make them in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mvdb.loader import load_movies
from mvdb.verification.restore_validation import lambda_handler, validate_restore_job
from tests.conftest import REGION

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
PLAN_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:mvdb_dev_movies-0a1b2c3d"
JOB_ID = "D59196C8-8951-4C80-E71E-8F41E6D364E5"
RECOVERY_POINT = f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"


@pytest.fixture
def restored_table(dynamodb_client: Any, movie_records: list[dict[str, Any]]) -> Iterator[str]:
    """A table as restore testing names it, holding 40 movies."""
    from mvdb_local.table import create_movies_table

    name = f"awsbackup-restore-test-{datetime.now(UTC):%H%M%S%f}"
    create_movies_table(dynamodb_client, name, if_missing=False, stream=False)  # no test here reads it
    load_movies(dynamodb_client, name, movie_records[:40])
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def app_environment(
    monkeypatch: pytest.MonkeyPatch, dynamodb_local: Any, local_aws_env: dict[str, str]
) -> Iterator[None]:
    """What the function's configuration gives the API's handler; restored after the test."""
    from mvdb.config import get_settings

    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local.endpoint,
        "TABLE_NAME": "unset",
        "READ_ONLY": "true",
        "REQUIRE_AUTH": "true",
        "ENVIRONMENT": "test",
        "POWERTOOLS_METRICS_NAMESPACE": "mvdb-restore-validation",
    }.items():
        monkeypatch.setenv(name, value)
    yield
    get_settings.cache_clear()


class Backup:
    """A stubbed AWS Backup client that records the PutRestoreValidationResult calls made."""

    def __init__(self) -> None:
        self.client = boto3.client("backup", region_name=REGION)
        self.stub = Stubber(self.client)
        self.reported: list[dict[str, Any]] = []
        self.client.meta.events.register(
            "provide-client-params.backup.PutRestoreValidationResult",
            lambda params, **_: self.reported.append(dict(params)),
        )

    def describes(self, table: str, **job: Any) -> Backup:
        described = {
            "AccountId": ACCOUNT,
            "RestoreJobId": JOB_ID,
            "RecoveryPointArn": RECOVERY_POINT,
            "CreationDate": datetime(2026, 11, 30, 5, 0, tzinfo=UTC),
            "CompletionDate": datetime(2026, 11, 30, 5, 9, tzinfo=UTC),
            "Status": "COMPLETED",
            "CreatedResourceArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}",
            "ResourceType": "DynamoDB",
            "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
        } | job
        self.stub.add_response("describe_restore_job", described, {"RestoreJobId": JOB_ID})
        return self

    def expects(self, *statuses: str) -> Backup:
        for status in statuses:
            expected = {"RestoreJobId": JOB_ID, "ValidationStatus": status}
            if status != "VALIDATING":
                expected["ValidationStatusMessage"] = ANY
            self.stub.add_response("put_restore_validation_result", {}, expected)
        return self

    def validate(self, dynamodb_client: Any) -> dict[str, Any]:
        with self.stub:
            evidence = validate_restore_job(JOB_ID, backup=self.client, dynamodb=dynamodb_client, plan_arn=PLAN_ARN)
            self.stub.assert_no_pending_responses()
        return evidence


def emitted_metrics(output: str) -> set[str]:
    names = set()
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            names |= {m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    return names


@pytest.mark.usefixtures("app_environment")
def test_a_sound_restored_table_is_reported_validating_then_successful(
    dynamodb_client: Any, restored_table: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    backup = Backup().describes(restored_table).expects("VALIDATING", "SUCCESSFUL")

    with caplog.at_level(logging.INFO, logger="mvdb.restore_validation"):
        evidence = backup.validate(dynamodb_client)

    assert evidence["validationStatus"] == "SUCCESSFUL"
    message = backup.reported[-1]["ValidationStatusMessage"]
    assert message.startswith(f"{len(evidence['checks'])}/{len(evidence['checks'])} checks passed; 40 items")
    assert evidence["table"]["content_sha256"] in message
    assert {"health", "movie reads back with its ETag"} <= {c["name"] for c in evidence["checks"]}
    (logged,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("restore validation ")]
    assert json.loads(logged.removeprefix("restore validation "))["restoreJobId"] == JOB_ID
    assert emitted_metrics(capsys.readouterr().out) >= {"RestoreValidationsReported"}


@pytest.mark.usefixtures("app_environment")
def test_a_damaged_restored_table_is_reported_failed_with_the_reason(
    dynamodb_client: Any, restored_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    item = dynamodb_client.scan(TableName=restored_table, Limit=1)["Items"][0]
    dynamodb_client.update_item(
        TableName=restored_table,
        Key={"year": item["year"], "title": item["title"]},
        UpdateExpression="SET #info.#plot = :plot",
        ExpressionAttributeNames={"#info": "info", "#plot": "plot"},
        ExpressionAttributeValues={":plot": {"S": "damaged"}},
    )
    backup = Backup().describes(restored_table).expects("VALIDATING", "FAILED")

    evidence = backup.validate(dynamodb_client)

    assert evidence["validationStatus"] == "FAILED"
    assert "every stored ETag matches its document: 1 mismatches" in backup.reported[-1]["ValidationStatusMessage"]
    assert {"RestoreValidationsReported", "RestoreValidationsFailed"} <= emitted_metrics(capsys.readouterr().out)


@pytest.mark.usefixtures("app_environment")
def test_a_restored_table_that_is_gone_is_reported_failed(dynamodb_client: Any) -> None:
    backup = Backup().describes("awsbackup-restore-test-deleted").expects("VALIDATING", "FAILED")

    backup.validate(dynamodb_client)

    assert "ResourceNotFoundException" in backup.reported[-1]["ValidationStatusMessage"]


@pytest.mark.parametrize(
    ("job", "reason"),
    [
        ({"CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN.replace("0a1b2c3d", "ffffffff")}}, "not " + PLAN_ARN),
        ({"CreatedBy": {}}, "no restore testing plan"),
        ({"ValidationStatus": "SUCCESSFUL"}, "validated already"),
        ({"Status": "FAILED"}, "status FAILED"),
        ({"CreatedResourceArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/mvdb-prod-movies"}, "not a restore test's"),
        ({"ResourceType": "EBS"}, "not a DynamoDB table restore"),
    ],
    ids=["another plan", "no plan", "validated already", "restore failed", "the live table", "not DynamoDB"],
)
def test_a_job_that_is_not_this_plans_completed_restore_test_is_left_alone(
    dynamodb_client: Any, job: dict[str, Any], reason: str
) -> None:
    backup = Backup().describes("awsbackup-restore-test-0123", **job)

    evidence = backup.validate(dynamodb_client)

    assert evidence["validated"] is False
    assert reason in evidence["reason"]
    assert backup.reported == []


def test_an_event_without_a_restore_job_is_ignored() -> None:
    assert lambda_handler({"detail-type": "Scheduled Event", "detail": {}}, None)["validated"] is False


@pytest.mark.usefixtures("app_environment")
def test_a_restore_test_of_an_advanced_dynamodb_backup_is_validated_too(
    dynamodb_client: Any, restored_table: str
) -> None:
    backup = (
        Backup().describes(restored_table, ResourceType="DynamoDB.FullyManaged").expects("VALIDATING", "SUCCESSFUL")
    )

    assert backup.validate(dynamodb_client)["validationStatus"] == "SUCCESSFUL"
