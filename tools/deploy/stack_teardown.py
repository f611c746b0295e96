"""Delete an environment's stack (``make destroy ENV=...``), and in dev also what the stack retains.

The templates retain the movies table, the backup vault and the KMS keys in every environment (``DeletionPolicy``
cannot follow a parameter; see the comment above ``MoviesTable`` in infra/stacks/data.yaml), so
CloudFormation never deletes data. They live in nested stacks, which this tool looks into.
Outside dev that is the point: the table and keys stay after the stack is gone.
In dev, a teardown should leave nothing behind, so this tool notes the retained resources before
deleting the stack, then deletes the table, the vault's recovery points and the vault (dev's vault
has no lock), and schedules the keys' deletion (7 days, the minimum AWS allows; ``aws kms
cancel-key-deletion`` undoes it meanwhile). AWS Backup deletes recovery points asynchronously: a
vault still holding some is left, with the command that deletes it once they are gone.

Outside dev the user pool has deletion protection, which would make CloudFormation's delete
fail halfway; having been asked to delete the stack, this lifts it first (keeping the pool
closed to sign-up) and says so. For the same reason it empties the buckets the stacks delete
(the canary's reports, versioned): CloudFormation cannot delete a bucket that holds objects.

The audit trail's bucket is retained: its records are locked (S3 Object Lock, compliance mode)
until their retention lapses, and nobody, root included, can delete a locked version sooner.
In dev (one day by default) this removes its bucket policy (which denies every delete), deletes
the versions whose retention has lapsed, and deletes the bucket if that emptied it; otherwise it
leaves the bucket and says how long its records stay locked, and how to finish then.

What a run leaves (a bucket with locked records, a vault whose recovery points AWS Backup is still
deleting) the next ``make destroy`` finishes. By then the stack is gone: CloudFormation no longer
knows it by name, but ListStacks lists a deleted stack for 90 days with its unique ID, and
ListStackResources lists a deleted stack's resources by that ID (CloudFormation API Reference,
ListStacks and ListStackResources). So the rerun finds what the newest deleted stack of that name
retained, from AWS, on any teammate's machine, and deletes what is still there. A vault is looked
up with ListBackupVaults: AWS Backup answers a call about a vault that does not exist with
AccessDeniedException, which cannot be told from a real denial.

Exit status (``main``): 0 when nothing is left, 3 when something is left (each ``left ...`` line
says what, until when, and the command that finishes it), 1 when AWS or ``sam delete`` failed
(one line: the error), 2 when refused.

prod is refused unless ``--confirm-prod`` is given (``make destroy`` passes it only with
``CONFIRM_PROD_DESTROY=yes``).

Usage: ``python -m tools.deploy.stack_teardown --config infra/samconfig.toml --env dev --sam .tools/sam/bin/sam``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = [
    "RetainedResource",
    "TeardownRefused",
    "backup_vault_names",
    "deleted_stack_id",
    "empty_bucket",
    "lift_user_pool_protection",
    "remove_locked_bucket",
    "remove_retained",
    "stack_name",
    "stack_resources",
    "teardown",
]

ENVIRONMENTS = ("dev", "staging", "prod")
# The types the templates retain on deletion (DeletionPolicy: Retain). Buckets go before keys.
RETAINED_TYPES = ("AWS::DynamoDB::Table", "AWS::Backup::BackupVault", "AWS::S3::Bucket", "AWS::KMS::Key")
# The buckets among them (by logical ID): the audit trail's, whose records S3 Object Lock keeps in
# compliance mode. Every other bucket of the stacks is deleted with them, emptied first.
RETAINED_BUCKETS = frozenset({"AuditBucket"})
USER_POOL_TYPE = "AWS::Cognito::UserPool"
BUCKET_TYPE = "AWS::S3::Bucket"
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
KEY_DELETION_WINDOW_DAYS = 7
# What a dev teardown that left something tells its user to run: the same teardown, which finishes it.
RERUN_COMMAND = "make destroy ENV=dev"
# Every line about something a run could not delete yet starts so; main() exits 3 when one does.
LEFT = "left "
EXIT_LEFT = 3


class TeardownRefused(RuntimeError):
    """The teardown was not attempted; the message says why."""


@dataclass(frozen=True)
class RetainedResource:
    logical_id: str
    resource_type: str
    physical_id: str


def stack_name(config_file: Path, environment: str) -> str:
    """The stack of ``environment`` as infra/samconfig.toml names it."""
    config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    try:
        return str(config[environment]["global"]["parameters"]["stack_name"])
    except KeyError:
        raise TeardownRefused(f"{config_file} has no [{environment}.global.parameters] stack_name") from None


def stack_resources(cloudformation: Any, stack: str, types: Sequence[str]) -> list[RetainedResource]:
    """The resources of ``stack`` and of its nested stacks (at any depth) of the given types."""
    found = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page["StackResourceSummaries"]:
            physical_id = summary.get("PhysicalResourceId")
            if not physical_id:
                continue
            if summary["ResourceType"] == NESTED_STACK_TYPE:
                found += stack_resources(cloudformation, physical_id, types)
            elif summary["ResourceType"] in types:
                found.append(RetainedResource(summary["LogicalResourceId"], summary["ResourceType"], physical_id))
    return found


def deleted_stack_id(cloudformation: Any, stack: str) -> tuple[str, str] | None:
    """(unique ID, deletion time) of the root stack named ``stack`` deleted last, or None.

    ListStacks keeps deleted stacks for 90 days; a deleted stack is then known only by its ID
    (ListStackResources: "Deleted stacks: You must specify the unique stack ID").
    """
    newest: dict[str, Any] | None = None
    for page in cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=["DELETE_COMPLETE"]):
        for summary in page["StackSummaries"]:
            if summary["StackName"] != stack or summary.get("ParentId"):
                continue
            if newest is None or summary["DeletionTime"] > newest["DeletionTime"]:
                newest = summary
    if newest is None:
        return None
    return str(newest["StackId"]), f"{newest['DeletionTime']:%Y-%m-%d %H:%M} UTC"


def lift_user_pool_protection(cognito: Any, user_pool_id: str) -> str:
    """Turn the pool's deletion protection off, so that CloudFormation can delete it.

    UpdateUserPool resets every setting it is not given. The pool is about to be deleted, but
    until then it must stay closed to self sign-up, so that setting is passed on as it is.
    """
    pool = cognito.describe_user_pool(UserPoolId=user_pool_id)["UserPool"]
    if pool.get("DeletionProtection") != "ACTIVE":
        return f"user pool {user_pool_id} has no deletion protection"
    cognito.update_user_pool(
        UserPoolId=user_pool_id,
        DeletionProtection="INACTIVE",
        AdminCreateUserConfig=pool.get("AdminCreateUserConfig", {"AllowAdminCreateUserOnly": True}),
    )
    return f"lifted the deletion protection of user pool {user_pool_id}"


def empty_bucket(s3: Any, bucket: str) -> str:
    """Delete every object version and delete marker of ``bucket`` (it is about to be deleted)."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            removed += len(objects)
    return f"emptied bucket {bucket} ({removed} object versions)"


def remove_retained(
    resources: Sequence[RetainedResource], *, dynamodb: Any, kms: Any, backup: Any, s3: Any = None
) -> list[str]:
    """Delete retained tables, vaults (their recovery points first), the audit bucket (what is no longer
    locked), and schedule retained keys for deletion.

    Returns what was done, a line each. Order: tables, then vaults, then buckets, then keys: nothing
    outlives the key that encrypts it.
    """
    done = []
    order = {kind: position for position, kind in enumerate(RETAINED_TYPES)}
    for resource in sorted(resources, key=lambda r: order[r.resource_type]):
        if resource.resource_type == "AWS::DynamoDB::Table":
            try:
                dynamodb.delete_table(TableName=resource.physical_id)
            except dynamodb.exceptions.ResourceNotFoundException:
                done.append(f"table {resource.physical_id} is already deleted")
                continue
            done.append(f"deleted table {resource.physical_id}")
        elif resource.resource_type == "AWS::Backup::BackupVault":
            done.append(_remove_vault(backup, resource.physical_id))
        elif resource.resource_type == "AWS::S3::Bucket":
            done.append(remove_locked_bucket(s3, resource.physical_id))
        elif resource.resource_type == "AWS::KMS::Key":
            done.append(_schedule_key_deletion(kms, resource.physical_id))
    return done


def remove_locked_bucket(s3: Any, bucket: str) -> str:
    """Delete the versions of an Object Lock bucket whose retention has lapsed, then the bucket if empty.

    The bucket's policy denies every delete, so it goes first. A version still locked in
    compliance mode cannot be deleted by anyone (S3 user guide, "Locking objects with Object
    Lock"): S3 refuses it in the DeleteObjects response, and the bucket is left, with the rerun
    that finishes it once the retention lapses. A bucket already deleted (a rerun) is said so.
    """
    try:
        s3.delete_bucket_policy(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":
            raise
        return f"bucket {bucket} is already deleted"
    removed, locked = 0, 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            refused = len(response.get("Errors", []))
            locked += refused
            removed += len(objects) - refused
    if locked:
        return (
            f"{LEFT}bucket {bucket}: {locked} audit records are still locked (Object Lock, compliance mode; "
            f"{removed} removed); once their retention lapses (AuditRetentionDays, 1 day in dev), "
            f"run `{RERUN_COMMAND}` again: it deletes them and the bucket"
        )
    s3.delete_bucket(Bucket=bucket)
    return f"deleted bucket {bucket} and its {removed} object versions (their retention had lapsed)"


def _remove_vault(backup: Any, vault: str) -> str:
    """Delete every recovery point of ``vault``, then the vault, or say why it is left.

    Recovery points AWS Backup is already deleting (status DELETING; a rerun sees them) are not
    asked again: DeleteRecoveryPoint refuses a point Backup is acting on (InvalidResourceStateException).
    """
    points = [
        point
        for page in backup.get_paginator("list_recovery_points_by_backup_vault").paginate(BackupVaultName=vault)
        for point in page["RecoveryPoints"]
    ]
    for point in points:
        if point.get("Status") == "DELETING":
            continue
        try:
            backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=point["RecoveryPointArn"])
        except backup.exceptions.InvalidResourceStateException:
            continue  # Backup is acting on it (deleting it already): the vault is left below, to finish later
    try:
        backup.delete_backup_vault(BackupVaultName=vault)
    except backup.exceptions.InvalidRequestException as still_full:
        return (
            f"{LEFT}vault {vault}: {len(points)} recovery points are being deleted ({still_full}); "
            f"once AWS Backup has deleted them, run `{RERUN_COMMAND}` again: it deletes the vault"
        )
    return f"deleted vault {vault} and its {len(points)} recovery points"


def _schedule_key_deletion(kms: Any, key: str) -> str:
    """Schedule ``key``'s deletion, or say that it is already scheduled (a rerun) or gone."""
    try:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=KEY_DELETION_WINDOW_DAYS)
    except kms.exceptions.NotFoundException:
        return f"key {key} is already deleted"
    except kms.exceptions.KMSInvalidStateException:
        metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
        if metadata["KeyState"] != "PendingDeletion":
            raise
        return f"key {key} is already scheduled for deletion on {metadata['DeletionDate']:%Y-%m-%d}"
    return f"scheduled key {key} for deletion in {KEY_DELETION_WINDOW_DAYS} days"


def _retained(resources: Sequence[RetainedResource]) -> list[RetainedResource]:
    """The resources the templates retain: of RETAINED_TYPES, and of the buckets only RETAINED_BUCKETS."""
    return [
        r
        for r in resources
        if r.resource_type in RETAINED_TYPES and (r.resource_type != BUCKET_TYPE or r.logical_id in RETAINED_BUCKETS)
    ]


def _finish_deleted_stack(environment: str, stack: str, gone: ClientError, clients: Callable[[str], Any]) -> list[str]:
    """A rerun after the stack was deleted: remove (in dev) what the newest deleted stack of that name retained."""
    found = deleted_stack_id(clients("cloudformation"), stack)
    if found is None:
        return [
            f"stack {stack}: {gone.response['Error']['Message']}; CloudFormation lists no deleted stack of that name "
            "(it lists them for 90 days after their deletion): nothing to do"
        ]
    stack_id, deleted_at = found
    retained = _retained(stack_resources(clients("cloudformation"), stack_id, RETAINED_TYPES))
    report = [f"stack {stack} was deleted on {deleted_at} ({stack_id}); looking at what it retained"]
    if environment != "dev":
        return report + [f"kept {r.resource_type} {r.physical_id} (retained outside dev)" for r in retained]
    vaults = backup_vault_names(clients("backup"))
    for vault in (r for r in retained if r.resource_type == "AWS::Backup::BackupVault" and r.physical_id not in vaults):
        report.append(f"vault {vault.physical_id} is already deleted")
    still_there = [r for r in retained if r.resource_type != "AWS::Backup::BackupVault" or r.physical_id in vaults]
    return report + remove_retained(
        still_there, dynamodb=clients("dynamodb"), kms=clients("kms"), backup=clients("backup"), s3=clients("s3")
    )


def backup_vault_names(backup: Any) -> set[str]:
    """The names of the account's backup vaults in the client's Region (ListBackupVaults, every page)."""
    return {
        vault["BackupVaultName"]
        for page in backup.get_paginator("list_backup_vaults").paginate()
        for vault in page["BackupVaultList"]
    }


def teardown(
    environment: str,
    stack: str,
    *,
    delete_stack: Callable[[], object],
    clients: Callable[[str], Any],
    confirm_prod: bool = False,
) -> list[str]:
    """Delete ``stack`` (and in dev what it retains); returns a line per action taken."""
    if environment not in ENVIRONMENTS:
        raise TeardownRefused(f"unknown environment {environment!r}; expected one of {', '.join(ENVIRONMENTS)}")
    if environment == "prod" and not confirm_prod:
        raise TeardownRefused(
            "refusing to delete the prod stack without explicit confirmation (CONFIRM_PROD_DESTROY=yes)"
        )
    # Noted before deletion: once the stack is gone, CloudFormation knows it only by its unique ID.
    try:
        resources = stack_resources(clients("cloudformation"), stack, (*RETAINED_TYPES, USER_POOL_TYPE, BUCKET_TYPE))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationError":  # CloudFormation's "Stack with id ... does not exist"
            raise
        return _finish_deleted_stack(environment, stack, error, clients)
    retained = _retained(resources)
    report = []
    if environment != "dev":
        for pool in (r for r in resources if r.resource_type == USER_POOL_TYPE):
            report.append(lift_user_pool_protection(clients("cognito-idp"), pool.physical_id))
    for bucket in (r for r in resources if r.resource_type == BUCKET_TYPE and r not in retained):
        report.append(empty_bucket(clients("s3"), bucket.physical_id))
    delete_stack()
    report.append(f"deleted stack {stack}")
    if environment == "dev":
        report += remove_retained(
            retained, dynamodb=clients("dynamodb"), kms=clients("kms"), backup=clients("backup"), s3=clients("s3")
        )
    else:
        report += [f"kept {r.resource_type} {r.physical_id} (retained outside dev)" for r in retained]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete an environment's stack (and, in dev, what it retains).")
    parser.add_argument("--config", type=Path, required=True, help="infra/samconfig.toml")
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
    parser.add_argument("--sam", default="sam", help="the SAM CLI executable")
    parser.add_argument("--confirm-prod", action="store_true", help="required to delete the prod stack")
    args = parser.parse_args(argv)

    import boto3

    config = args.config.resolve()
    session = boto3.session.Session()
    try:
        stack = stack_name(config, args.env)
        report = teardown(
            args.env,
            stack,
            delete_stack=lambda: subprocess.run(
                [args.sam, "delete", "--config-file", str(config), "--config-env", args.env, "--no-prompts"],
                check=True,
            ),
            clients=session.client,
            confirm_prod=args.confirm_prod,
        )
    except TeardownRefused as refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        print(f"error: {' '.join(map(str, failed.cmd))} failed (exit status {failed.returncode})", file=sys.stderr)
        return 1
    print("\n".join(report))
    return EXIT_LEFT if any(line.startswith(LEFT) for line in report) else 0


if __name__ == "__main__":
    sys.exit(main())
