"""AWS Backup restore testing: validate every restored copy of the movies table, and report it.

AWS Backup restores the table on the restore testing plan's schedule into a new table named
``awsbackup-restore-test-*``, and keeps it for the selection's validation window. An EventBridge
rule (``infra/stacks/backup.yaml``) invokes ``lambda_handler`` with each "Restore Job State
Change" event of the plan whose status is COMPLETED. For each restore job:

1. ``DescribeRestoreJob``: the job must have been started by this stack's plan
   (``RESTORE_TESTING_PLAN_ARN``), be a COMPLETED DynamoDB restore of a table named
   ``awsbackup-restore-test-*`` and not be validated yet; anything else is logged and left alone.
   IAM cannot do this filtering: ``PutRestoreValidationResult`` has no resource-level permissions.
2. ``PutRestoreValidationResult`` VALIDATING.
3. The table checks (``table_checks``: key schema, every item a valid movie with its ETag
   intact, at least ``MINIMUM_ITEM_COUNT`` items, content digest) and the read checks of the
   deployed tests (``read_checks``), the latter through the movies function's own handler
   serving the restored table read-only (``in_process``).
4. ``PutRestoreValidationResult`` SUCCESSFUL or FAILED, with a summary; then one log line
   ``restore validation`` holding the whole evidence (job, recovery point, counts, digest,
   timings, every check) and the metrics ``RestoreValidationsReported`` and, on failure,
   ``RestoreValidationsFailed``. Reporting the result ends the validation window: AWS Backup
   deletes the restored table ("The data will be deleted upon the completion of the validation
   script or the end of the specified retention period, whichever comes first", Backup API
   reference, RestoreTestingSelectionForCreate).

An error in the checks is a FAILED validation with its reason; an error reporting it is raised,
so that Lambda retries the event and the alarm on the function's errors fires.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Final

from mvdb.verification.read_checks import CheckResult, run_read_checks
from mvdb.verification.table_checks import inspect_table, table_results

__all__ = [
    "FAILED_METRIC",
    "METRICS_NAMESPACE_VARIABLE",
    "REPORTED_METRIC",
    "RESTORE_TABLE_PREFIX",
    "lambda_handler",
    "validate_restore_job",
]

# AWS Backup's name for the tables restore tests create ("Restore testing inferred metadata":
# targetTableName, "a random value starting with awsbackup-restore-test-").
RESTORE_TABLE_PREFIX: Final = "awsbackup-restore-test-"
REPORTED_METRIC: Final = "RestoreValidationsReported"
FAILED_METRIC: Final = "RestoreValidationsFailed"
METRICS_NAMESPACE_VARIABLE: Final = "POWERTOOLS_METRICS_NAMESPACE"
# ValidationStatusMessage has no documented length limit; the full evidence goes to the log.
_MESSAGE_LIMIT = 1000
_FINAL_STATUSES = frozenset({"SUCCESSFUL", "FAILED", "TIMED_OUT"})

logger = logging.getLogger("mvdb.restore_validation")
logger.setLevel(logging.INFO)


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def lambda_handler(event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
    """One EventBridge "Restore Job State Change" event; returns what was done (for the logs)."""
    detail = event.get("detail") or {}
    restore_job_id = detail.get("restoreJobId")
    if not restore_job_id:
        logger.warning("not a restore job event: %s", json.dumps(event, default=str)[:500])
        return {"validated": False, "reason": "no restoreJobId in the event"}
    return validate_restore_job(
        str(restore_job_id),
        backup=_client("backup"),
        dynamodb=_client("dynamodb"),
        plan_arn=os.environ["RESTORE_TESTING_PLAN_ARN"],
        minimum_count=int(os.environ.get("MINIMUM_ITEM_COUNT", "1")),
    )


def validate_restore_job(
    restore_job_id: str, *, backup: Any, dynamodb: Any, plan_arn: str, minimum_count: int = 1
) -> dict[str, Any]:
    """Validate restore job ``restore_job_id`` of ``plan_arn`` and report the result to AWS Backup.

    Returns the evidence (``validated`` False with a ``reason`` when the job is not one to
    validate). Raises botocore errors from the Backup calls.
    """
    job = backup.describe_restore_job(RestoreJobId=restore_job_id)
    reason = _not_ours(job, plan_arn)
    if reason:
        logger.info("restore job %s left alone: %s", restore_job_id, reason)
        return {"validated": False, "restoreJobId": restore_job_id, "reason": reason}
    table = str(job["CreatedResourceArn"]).split(":table/", 1)[1]
    backup.put_restore_validation_result(RestoreJobId=restore_job_id, ValidationStatus="VALIDATING")
    started = time.perf_counter()
    evidence: dict[str, Any] = {
        "restoreJobId": restore_job_id,
        "recoveryPointArn": job.get("RecoveryPointArn"),
        "recoveryPointCreationDate": str(job.get("RecoveryPointCreationDate")),
        "restoredTable": table,
        "restoreCompletionDate": str(job.get("CompletionDate")),
    }
    results: list[CheckResult] = []
    try:
        report = inspect_table(dynamodb, table)
        evidence["table"] = report.as_dict()
        results += table_results(report, minimum_count=minimum_count)
        if report.item_count:
            from mvdb.verification.in_process import HandlerReadApi, serve_table

            results += run_read_checks(HandlerReadApi(serve_table(table)))
    except Exception as error:  # the validation fails with the reason: never unreported
        logger.exception("restore validation of %s broke", table)
        results.append(CheckResult("validation ran to the end", False, f"{type(error).__name__}: {error}"))
    passed = all(result.passed for result in results)
    status = "SUCCESSFUL" if passed else "FAILED"
    evidence.update(
        validationStatus=status,
        validationSeconds=round(time.perf_counter() - started, 3),
        checks=[result.__dict__ for result in results],
    )
    backup.put_restore_validation_result(
        RestoreJobId=restore_job_id, ValidationStatus=status, ValidationStatusMessage=_summary(evidence, results)
    )
    logger.info("restore validation %s", json.dumps(evidence, default=str))
    _emit_metrics(failed=not passed)
    return {"validated": True, **evidence}


def _not_ours(job: Mapping[str, Any], plan_arn: str) -> str | None:
    created_by = (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn")
    resource = str(job.get("CreatedResourceArn") or "")
    if created_by != plan_arn:
        return f"started by {created_by or 'no restore testing plan'}, not {plan_arn}"
    if job.get("Status") != "COMPLETED":
        return f"status {job.get('Status')}"
    # "DynamoDB", or "DynamoDB.FullyManaged" for a backup with AWS Backup's advanced DynamoDB features.
    if not str(job.get("ResourceType")).startswith("DynamoDB") or ":table/" not in resource:
        return f"not a DynamoDB table restore ({job.get('ResourceType')} {resource})"
    if not resource.split(":table/", 1)[1].startswith(RESTORE_TABLE_PREFIX):
        return f"{resource} is not a restore test's table ({RESTORE_TABLE_PREFIX}*)"
    if job.get("ValidationStatus") in _FINAL_STATUSES:
        return f"validated already ({job['ValidationStatus']})"
    return None


def _summary(evidence: Mapping[str, Any], results: list[CheckResult]) -> str:
    table = evidence.get("table") or {}
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    text = (
        f"{len(results) - len(failed)}/{len(results)} checks passed; {table.get('item_count', '?')} items, "
        f"content sha256 {table.get('content_sha256', '?')}, {evidence['validationSeconds']} s"
    )
    if failed:
        text += "; failed: " + "; ".join(failed)
    return text[:_MESSAGE_LIMIT]


def _emit_metrics(*, failed: bool) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    namespace = os.environ.get(METRICS_NAMESPACE_VARIABLE, "mvdb")
    dimensions = {"environment": os.environ.get("ENVIRONMENT", "local")}
    with single_metric(
        name=REPORTED_METRIC, unit=MetricUnit.Count, value=1, namespace=namespace, default_dimensions=dimensions
    ):
        pass
    if failed:
        with single_metric(
            name=FAILED_METRIC, unit=MetricUnit.Count, value=1, namespace=namespace, default_dimensions=dimensions
        ):
            pass
