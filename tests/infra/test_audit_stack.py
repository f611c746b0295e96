"""The audit trail's infrastructure: infra/stacks/audit.yaml and its part of the root.

The bucket cannot be altered (Object Lock in compliance mode, versioned, no delete, no
unconditional write), the function that writes it may only create records, and the API's role may
only list and read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template, as_list
from tools.build.sam_translate import load_sam_template

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AUDIT_STACK = PROJECT_ROOT / "infra" / "stacks" / "audit.yaml"


@pytest.fixture(scope="module")
def stack() -> Template:
    return Template(load_sam_template(AUDIT_STACK))


@pytest.fixture(scope="module")
def root(translated_document: dict[str, Any]) -> Template:
    return Template(translated_document)


def _actions(stack: Template, resource: str) -> dict[str, set[str]]:
    """Sid -> actions of every statement of ``resource``'s policies."""
    return {s["Sid"]: set(as_list(s["Action"])) for name, _, s in stack.policy_statements() if name == resource}


def test_the_bucket_is_locked_in_compliance_mode_versioned_and_encrypted_with_its_own_key(stack: Template) -> None:
    bucket = stack.properties("AuditBucket")
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (sse,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["AuditBucketKey", "Arn"]},
    }
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert stack.resource("AuditBucket")["DeletionPolicy"] == "Retain"


def test_dev_records_lapse_within_a_day_and_prod_keeps_them_seven_years(stack: Template) -> None:
    defaults = stack.document["Mappings"]["RetentionDefaults"]
    assert defaults["dev"] == {"Days": 1}  # so that make destroy ENV=dev can delete the bucket the next day
    assert defaults["prod"]["Days"] >= 6 * 365  # SEC 17a-4 keeps records six years
    retention = stack.properties("AuditBucket")["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"]
    (expire, _) = stack.properties("AuditBucket")["LifecycleConfiguration"]["Rules"]
    assert expire["ExpirationInDays"] == retention  # never a delete marker over a locked record


def test_nobody_deletes_unlocks_or_overwrites_a_record(stack: Template) -> None:
    statements = {s["Sid"]: s for name, _, s in stack.policy_statements() if name == "AuditBucketPolicy"}
    deny = statements["NobodyDeletesOrUnlocksARecord"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert set(as_list(deny["Action"])) >= {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"}
    only_create = statements["RecordsAreOnlyEverCreated"]
    assert (only_create["Effect"], only_create["Action"]) == ("Deny", "s3:PutObject")
    assert only_create["Condition"] == {"Null": {"s3:if-none-match": "true"}}
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_writer_may_only_create_records_under_movies(stack: Template) -> None:
    actions = _actions(stack, "AuditTrailFunctionRole")
    s3 = {action for acts in actions.values() for action in acts if action.startswith("s3:")}
    assert s3 == {"s3:PutObject"}  # no read, no delete, no retention or governance bypass
    (create,) = [
        s for n, _, s in stack.policy_statements() if n == "AuditTrailFunctionRole" and s["Sid"] == "CreateAuditRecords"
    ]
    assert create["Resource"] == {"Fn::Sub": "${AuditBucket.Arn}/movies/*"}


def test_the_api_role_may_only_list_and_read_the_records(stack: Template) -> None:
    actions = _actions(stack, "MoviesFunctionReadsTheAuditTrail")
    assert actions == {
        "ListAMoviesRecords": {"s3:ListBucket"},
        "ReadAuditRecords": {"s3:GetObject"},
        "DecryptAuditRecordsThroughS3": {"kms:Decrypt"},
    }


def test_the_function_reads_the_stream_as_the_indexer_does_and_keeps_trying_while_the_stream_holds_a_record(
    root: Template,
) -> None:
    from mvdb_local.streams import CONSUMERS, StreamConsumer

    mapping = root.resource("AuditTrailFunctionMoviesTableStream")["Properties"]
    # The stream of the table the API serves: the restored table's after a cut-over, as for the indexer.
    assert mapping["EventSourceArn"] == root.properties("SearchIndexFunctionMoviesTableStream")["EventSourceArn"]
    assert {"Key": "environment", "Value": {"Ref": "Environment"}} in mapping["Tags"]
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumRecordAgeInSeconds"] == 86400  # DynamoDB Streams keeps a record 24 hours
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["Audit", "Outputs.DeadLetterQueueArn"]
    }
    local = StreamConsumer("audit-trail", lambda event, context: None)
    assert (local.batch_size, local.maximum_retry_attempts, local.bisect_on_error) == (
        mapping["BatchSize"],
        mapping["MaximumRetryAttempts"],
        mapping["BisectBatchOnFunctionError"],
    )
    assert CONSUMERS["audit-trail"] == root.properties("AuditTrailFunction")["Handler"].replace(
        ".lambda_handler", ":lambda_handler"
    )


def test_both_functions_name_the_stacks_bucket(root: Template) -> None:
    for function in ("AuditTrailFunction", "MoviesFunction"):
        variables = root.properties(function)["Environment"]["Variables"]
        assert variables["AUDIT_BUCKET_NAME"] == {"Fn::GetAtt": ["Audit", "Outputs.AuditBucketName"]}
