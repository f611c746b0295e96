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
leaves the bucket and says until when its records are locked, and how to finish then.

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

__all__ = [
    "RetainedResource",
    "TeardownRefused",
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
            dynamodb.delete_table(TableName=resource.physical_id)
            done.append(f"deleted table {resource.physical_id}")
        elif resource.resource_type == "AWS::Backup::BackupVault":
            done.append(_remove_vault(backup, resource.physical_id))
        elif resource.resource_type == "AWS::S3::Bucket":
            done.append(remove_locked_bucket(s3, resource.physical_id))
        elif resource.resource_type == "AWS::KMS::Key":
            kms.schedule_key_deletion(KeyId=resource.physical_id, PendingWindowInDays=KEY_DELETION_WINDOW_DAYS)
            done.append(f"scheduled key {resource.physical_id} for deletion in {KEY_DELETION_WINDOW_DAYS} days")
    return done


def remove_locked_bucket(s3: Any, bucket: str) -> str:
    """Delete the versions of an Object Lock bucket whose retention has lapsed, then the bucket if empty.

    The bucket's policy denies every delete, so it goes first. A version still locked in
    compliance mode cannot be deleted by anyone (S3 user guide, "Locking objects with Object
    Lock"): S3 refuses it in the DeleteObjects response, and the bucket is left with the date
    its last lock lapses.
    """
    s3.delete_bucket_policy(Bucket=bucket)
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
            f"left bucket {bucket}: {locked} audit records are still locked (Object Lock, compliance mode; "
            f"{removed} removed); once their retention lapses (AuditRetentionDays, 1 day in dev): "
            f"run make destroy ENV=dev again, or empty it and aws s3api delete-bucket --bucket {bucket}"
        )
    s3.delete_bucket(Bucket=bucket)
    return f"deleted bucket {bucket} and its {removed} object versions (their retention had lapsed)"


def _remove_vault(backup: Any, vault: str) -> str:
    """Delete every recovery point of ``vault``, then the vault, or say why it is left."""
    points = [
        point["RecoveryPointArn"]
        for page in backup.get_paginator("list_recovery_points_by_backup_vault").paginate(BackupVaultName=vault)
        for point in page["RecoveryPoints"]
    ]
    for arn in points:
        backup.delete_recovery_point(BackupVaultName=vault, RecoveryPointArn=arn)
    try:
        backup.delete_backup_vault(BackupVaultName=vault)
    except backup.exceptions.InvalidRequestException as still_full:
        return (
            f"left vault {vault}: {len(points)} recovery points are being deleted ({still_full}); "
            f"then: aws backup delete-backup-vault --backup-vault-name {vault}"
        )
    return f"deleted vault {vault} and its {len(points)} recovery points"


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
    # Noted before deletion: once the stack is gone, nothing records which table and keys were its.
    resources = stack_resources(clients("cloudformation"), stack, (*RETAINED_TYPES, USER_POOL_TYPE, BUCKET_TYPE))
    retained = [
        r
        for r in resources
        if r.resource_type in RETAINED_TYPES and (r.resource_type != BUCKET_TYPE or r.logical_id in RETAINED_BUCKETS)
    ]
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
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
