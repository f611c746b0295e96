"""The teardown behind ``make destroy`` (tools/deploy/stack_teardown.py), without AWS or a network."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pytest_socket import disable_socket, enable_socket

from tests.infra.doc_commands import problems as command_problems
from tools.deploy.stack_teardown import RetainedResource, TeardownRefused, stack_name, teardown

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAM_CONFIG = PROJECT_ROOT / "infra" / "samconfig.toml"
AUDIT_BUCKET = "mvdb-dev-audit-1abc-auditbucket-2def"
DEV_TABLE = "mvdb-dev-Data-1ABC-MoviesTable-1ABC"
DEV_KEYS = ("key-table", "key-logs", "key-backups", "key-audit")


@pytest.fixture
def no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()


def test_stack_names_come_from_samconfig() -> None:
    assert [stack_name(SAM_CONFIG, env) for env in ("dev", "staging", "prod")] == [
        "mvdb-dev",
        "mvdb-staging",
        "mvdb-prod",
    ]


def _utc(moment: str) -> datetime:
    """A timestamp as botocore parses one (timezone-aware)."""
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


class _Clients:
    """boto3 clients with Stubbers: every AWS call must be one the test expects."""

    def __init__(self) -> None:
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="eu-west-1")
        services = ("cloudformation", "dynamodb", "kms", "cognito-idp", "s3", "backup")
        self.clients = {name: session.client(name) for name in services}
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}
        for stubber in self.stubbers.values():
            stubber.activate()

    def __call__(self, name: str) -> Any:
        return self.clients[name]

    def expect_stack_resources(self, stack: str, *, listed_as: str | None = None, audit: bool = False) -> None:
        """The root stack's resources, then those of its nested stacks, as CloudFormation lists them.

        ``listed_as``: the ID the root is listed by (a deleted stack is listed by its ID only);
        ``audit``: with the audit stack (its retained bucket and key).
        """
        nested = f"arn:aws:cloudformation:eu-west-1:111122223333:stack/{stack}-%s-1ABC/0f1e"
        self._expect_listing(
            listed_as or stack,
            [
                ("Data", "AWS::CloudFormation::Stack", nested % "Data"),
                ("MoviesFunction", "AWS::Lambda::Function", f"{stack}-MoviesFunction-1ABC"),
                ("Identity", "AWS::CloudFormation::Stack", nested % "Identity"),
                ("Telemetry", "AWS::CloudFormation::Stack", nested % "Telemetry"),
                ("Canary", "AWS::CloudFormation::Stack", nested % "Canary"),
                ("Backup", "AWS::CloudFormation::Stack", nested % "Backup"),
                *([("Audit", "AWS::CloudFormation::Stack", nested % "Audit")] if audit else []),
            ],
        )
        self._expect_listing(
            nested % "Data",
            [
                ("MoviesTableKey", "AWS::KMS::Key", "key-table"),
                ("MoviesTable", "AWS::DynamoDB::Table", f"{stack}-Data-1ABC-MoviesTable-1ABC"),
            ],
        )
        self._expect_listing(nested % "Identity", [("MoviesUserPool", "AWS::Cognito::UserPool", "eu-west-1_POOL")])
        self._expect_listing(nested % "Telemetry", [("ObservabilityKey", "AWS::KMS::Key", "key-logs")])
        self._expect_listing(nested % "Canary", [("CanaryArtifactsBucket", "AWS::S3::Bucket", f"{stack}-reports")])
        self._expect_listing(
            nested % "Backup",
            [
                ("BackupVaultKey", "AWS::KMS::Key", "key-backups"),
                ("MoviesBackupVault", "AWS::Backup::BackupVault", f"{stack}-movies"),
            ],
        )
        if audit:
            self._expect_listing(
                nested % "Audit",
                [("AuditBucketKey", "AWS::KMS::Key", "key-audit"), ("AuditBucket", "AWS::S3::Bucket", AUDIT_BUCKET)],
            )

    def expect_reports_emptied(self, stack: str) -> None:
        """The canary's versioned report bucket is emptied, every version and delete marker, before the delete."""
        self.stubbers["s3"].add_response(
            "list_object_versions",
            {
                "Versions": [{"Key": "runs/1/report.json", "VersionId": "v1"}],
                "DeleteMarkers": [{"Key": "runs/0/report.json", "VersionId": "v0"}],
            },
            {"Bucket": f"{stack}-reports"},
        )
        self.stubbers["s3"].add_response(
            "delete_objects",
            {},
            {
                "Bucket": f"{stack}-reports",
                "Delete": {
                    "Objects": [
                        {"Key": "runs/1/report.json", "VersionId": "v1"},
                        {"Key": "runs/0/report.json", "VersionId": "v0"},
                    ],
                    "Quiet": True,
                },
            },
        )

    def expect_stack_gone(self, stack: str) -> str:
        """CloudFormation no longer knows ``stack`` by name; ListStacks lists it deleted, by its unique ID."""
        self.stubbers["cloudformation"].add_client_error(
            "list_stack_resources",
            "ValidationError",
            f"Stack with id {stack} does not exist",
            400,
            expected_params={"StackName": stack},
        )
        deleted_root = f"arn:aws:cloudformation:eu-west-1:111122223333:stack/{stack}/9a8b"

        def deleted(stack_id: str, name: str, day: str, **parent: str) -> dict[str, Any]:
            times = {"CreationTime": _utc(f"{day}T09:00"), "DeletionTime": _utc(f"{day}T18:00")}
            return {"StackId": stack_id, "StackName": name, "StackStatus": "DELETE_COMPLETE", **times, **parent}

        self.stubbers["cloudformation"].add_response(
            "list_stacks",
            {
                "StackSummaries": [  # the one deleted last; an older one of that name and a nested one are not it
                    deleted(f"{deleted_root[:-4]}/0001", stack, "2026-10-01"),
                    deleted(deleted_root, stack, "2026-11-30"),
                    deleted(
                        f"{deleted_root[:-4]}-Data-1ABC/0f1e", f"{stack}-Data-1ABC", "2026-11-30", ParentId=deleted_root
                    ),
                ]
            },
            {"StackStatusFilter": ["DELETE_COMPLETE"]},
        )
        return deleted_root

    def _expect_listing(self, stack: str, summaries: list[tuple[str, str, str]]) -> None:
        self.stubbers["cloudformation"].add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": logical,
                        "ResourceType": kind,
                        "PhysicalResourceId": physical,
                        "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                        "ResourceStatus": "CREATE_COMPLETE",
                    }
                    for logical, kind, physical in summaries
                ]
            },
            {"StackName": stack},
        )

    def assert_all_called(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def test_destroying_prod_is_refused_without_confirmation(no_network: None) -> None:
    clients, deleted = _Clients(), []

    with pytest.raises(TeardownRefused, match="CONFIRM_PROD_DESTROY=yes"):
        teardown("prod", "mvdb-prod", delete_stack=lambda: deleted.append(True), clients=clients)
    assert deleted == []  # and no AWS call: the Stubbers expected none


def test_destroying_dev_also_removes_the_retained_table_and_keys(no_network: None) -> None:
    clients, deleted = _Clients(), []
    clients.expect_stack_resources("mvdb-dev")
    clients.expect_reports_emptied("mvdb-dev")
    clients.stubbers["dynamodb"].add_response("delete_table", {}, {"TableName": DEV_TABLE})
    point = "arn:aws:backup:eu-west-1:111122223333:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
    vault = {"BackupVaultName": "mvdb-dev-movies"}
    clients.stubbers["backup"].add_response(
        "list_recovery_points_by_backup_vault", {"RecoveryPoints": [{"RecoveryPointArn": point}]}, vault
    )
    clients.stubbers["backup"].add_response("delete_recovery_point", {}, {**vault, "RecoveryPointArn": point})
    clients.stubbers["backup"].add_response("delete_backup_vault", {}, vault)
    for key in ("key-table", "key-logs", "key-backups"):
        clients.stubbers["kms"].add_response(
            "schedule_key_deletion", {"KeyId": key}, {"KeyId": key, "PendingWindowInDays": 7}
        )

    report = teardown("dev", "mvdb-dev", delete_stack=lambda: deleted.append(True), clients=clients)

    assert deleted == [True]
    clients.assert_all_called()  # and the dev user pool, never protected, was left to CloudFormation
    assert report[0] == "emptied bucket mvdb-dev-reports (2 object versions)"
    assert report[1] == "deleted stack mvdb-dev"
    assert report[2] == "deleted table mvdb-dev-Data-1ABC-MoviesTable-1ABC"  # the table goes before its key
    # The vault, emptied, goes after the table and before its key.
    assert report[3] == "deleted vault mvdb-dev-movies and its 1 recovery points"
    assert report[4:] == [
        f"scheduled key {key} for deletion in 7 days" for key in ("key-table", "key-logs", "key-backups")
    ]


def test_a_dev_vault_whose_recovery_points_are_still_being_deleted_is_left_with_the_command(no_network: None) -> None:
    clients = _Clients()
    vault = {"BackupVaultName": "mvdb-dev-movies"}
    clients.stubbers["backup"].add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": []}, vault)
    clients.stubbers["backup"].add_client_error(
        "delete_backup_vault", "InvalidRequestException", "Backup vault cannot be deleted", 400, expected_params=vault
    )
    from tools.deploy.stack_teardown import remove_retained

    report = remove_retained(
        [RetainedResource("MoviesBackupVault", "AWS::Backup::BackupVault", "mvdb-dev-movies")],
        dynamodb=clients("dynamodb"),
        kms=clients("kms"),
        backup=clients("backup"),
    )

    clients.assert_all_called()
    assert report[0].startswith("left vault mvdb-dev-movies: 0 recovery points are being deleted")
    assert report[0].endswith("run `make destroy ENV=dev` again: it deletes the vault")


def _expect_audit_bucket_emptying(clients: _Clients, refused: list[str]) -> None:
    """The bucket policy (it denies every delete) goes first; then every version, some refused as locked."""
    s3 = clients.stubbers["s3"]
    s3.add_response("delete_bucket_policy", {}, {"Bucket": AUDIT_BUCKET})
    versions = [{"Key": f"movies/2013/abc/{n}.json", "VersionId": f"v{n}"} for n in range(3)]
    s3.add_response("list_object_versions", {"Versions": versions}, {"Bucket": AUDIT_BUCKET})
    errors = [{"Key": f"movies/2013/abc/{n}.json", "VersionId": n, "Code": "AccessDenied"} for n in refused]
    s3.add_response(
        "delete_objects",
        {"Errors": errors},
        {"Bucket": AUDIT_BUCKET, "Delete": {"Objects": versions, "Quiet": True}},
    )


def test_a_dev_audit_bucket_whose_records_have_lapsed_is_emptied_and_deleted(no_network: None) -> None:
    from tools.deploy.stack_teardown import remove_retained

    clients = _Clients()
    _expect_audit_bucket_emptying(clients, refused=[])
    clients.stubbers["s3"].add_response("delete_bucket", {}, {"Bucket": AUDIT_BUCKET})

    report = remove_retained(
        [RetainedResource("AuditBucket", "AWS::S3::Bucket", AUDIT_BUCKET)],
        dynamodb=clients("dynamodb"),
        kms=clients("kms"),
        backup=clients("backup"),
        s3=clients("s3"),
    )

    clients.assert_all_called()
    assert report == [f"deleted bucket {AUDIT_BUCKET} and its 3 object versions (their retention had lapsed)"]


def test_a_dev_audit_bucket_with_records_still_locked_is_left_with_what_to_do_then(no_network: None) -> None:
    from tools.deploy.stack_teardown import remove_retained

    clients = _Clients()
    _expect_audit_bucket_emptying(clients, refused=["v1", "v2"])  # compliance mode: refused even to root

    (line,) = remove_retained(
        [RetainedResource("AuditBucket", "AWS::S3::Bucket", AUDIT_BUCKET)],
        dynamodb=clients("dynamodb"),
        kms=clients("kms"),
        backup=clients("backup"),
        s3=clients("s3"),
    )

    clients.assert_all_called()  # and no delete_bucket: it would fail on the locked versions
    assert line.startswith(f"left bucket {AUDIT_BUCKET}: 2 audit records are still locked")
    assert "1 removed" in line
    assert line.endswith("run `make destroy ENV=dev` again: it deletes them and the bucket")


def test_the_retained_buckets_are_the_ones_the_templates_retain() -> None:
    from tools.build.sam_translate import load_sam_template
    from tools.deploy.stack_teardown import RETAINED_BUCKETS

    retained = {
        name
        for path in (PROJECT_ROOT / "infra" / "stacks").glob("*.yaml")
        for name, r in load_sam_template(path)["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and r.get("DeletionPolicy") == "Retain"
    }
    assert retained == RETAINED_BUCKETS


def test_destroying_staging_lifts_the_user_pool_protection_and_keeps_the_table_and_keys(no_network: None) -> None:
    clients, deleted = _Clients(), []
    clients.expect_stack_resources("mvdb-staging")
    clients.expect_reports_emptied("mvdb-staging")
    closed = {"AllowAdminCreateUserOnly": True}
    clients.stubbers["cognito-idp"].add_response(
        "describe_user_pool",
        {"UserPool": {"Id": "eu-west-1_POOL", "DeletionProtection": "ACTIVE", "AdminCreateUserConfig": closed}},
        {"UserPoolId": "eu-west-1_POOL"},
    )
    clients.stubbers["cognito-idp"].add_response(
        "update_user_pool",
        {},
        {"UserPoolId": "eu-west-1_POOL", "DeletionProtection": "INACTIVE", "AdminCreateUserConfig": closed},
    )

    report = teardown("staging", "mvdb-staging", delete_stack=lambda: deleted.append(True), clients=clients)

    assert deleted == [True]
    clients.assert_all_called()  # and neither delete_table nor schedule_key_deletion was called
    assert report[:3] == [
        "lifted the deletion protection of user pool eu-west-1_POOL",
        "emptied bucket mvdb-staging-reports (2 object versions)",
        "deleted stack mvdb-staging",
    ]
    assert "kept AWS::DynamoDB::Table mvdb-staging-Data-1ABC-MoviesTable-1ABC (retained outside dev)" in report
    assert "kept AWS::Backup::BackupVault mvdb-staging-movies (retained outside dev)" in report


def test_retained_resources_are_the_types_the_templates_retain() -> None:
    # Keep the teardown's notion of "retained" in step with the templates' DeletionPolicy.
    from tools.build.sam_translate import load_sam_template
    from tools.deploy.stack_teardown import RETAINED_TYPES

    paths = [PROJECT_ROOT / "infra" / "template.yaml", *sorted((PROJECT_ROOT / "infra" / "stacks").glob("*.yaml"))]
    templates = [load_sam_template(path) for path in paths]
    retained = {r["Type"] for t in templates for r in t["Resources"].values() if r.get("DeletionPolicy") == "Retain"}
    assert retained == set(RETAINED_TYPES)
    assert RetainedResource("T", "AWS::DynamoDB::Table", "t").resource_type in retained


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ENV=prod"], "refusing to destroy prod"),
        (["ENV=qa"], "ENV must be dev, staging or prod"),
    ],
)
def test_make_destroy_refuses_before_doing_anything(arguments: list[str], message: str) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "destroy", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CONFIRM_"))},
    )
    assert result.returncode == 2
    assert message in result.stdout
    assert "stack_teardown" not in result.stdout


def _expect_table_already_deleted(clients: _Clients) -> None:
    clients.stubbers["dynamodb"].add_client_error(
        "delete_table", "ResourceNotFoundException", "Requested resource not found", 400,
        expected_params={"TableName": DEV_TABLE},
    )  # fmt: skip


def _expect_dev_leftovers_removed(clients: _Clients) -> None:
    """A rerun, a day later: the table and keys went the first time; the vault's recovery points are
    gone and the audit records' retention has lapsed, so both go now."""
    clients.stubbers["backup"].add_response(
        "list_backup_vaults", {"BackupVaultList": [{"BackupVaultName": "mvdb-dev-movies"}]}, {}
    )
    _expect_table_already_deleted(clients)
    vault = {"BackupVaultName": "mvdb-dev-movies"}
    clients.stubbers["backup"].add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": []}, vault)
    clients.stubbers["backup"].add_response("delete_backup_vault", {}, vault)
    _expect_audit_bucket_emptying(clients, refused=[])
    clients.stubbers["s3"].add_response("delete_bucket", {}, {"Bucket": AUDIT_BUCKET})
    for key in DEV_KEYS:
        clients.stubbers["kms"].add_client_error(
            "schedule_key_deletion",
            "KMSInvalidStateException",
            f"{key} is pending deletion.",
            400,
            expected_params={"KeyId": key, "PendingWindowInDays": 7},
        )
        clients.stubbers["kms"].add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": key, "KeyState": "PendingDeletion", "DeletionDate": _utc("2026-12-07T18:00")}},
            {"KeyId": key},
        )


def test_a_dev_rerun_after_the_stack_is_gone_finishes_what_the_first_run_left(no_network: None) -> None:
    clients, deleted = _Clients(), []
    root = clients.expect_stack_gone("mvdb-dev")
    clients.expect_stack_resources("mvdb-dev", listed_as=root, audit=True)
    _expect_dev_leftovers_removed(clients)

    report = teardown("dev", "mvdb-dev", delete_stack=lambda: deleted.append(True), clients=clients)

    clients.assert_all_called()
    assert deleted == []  # no second `sam delete`: there is no stack
    assert report == [
        f"stack mvdb-dev was deleted on 2026-11-30 18:00 UTC ({root}); looking at what it retained",
        "table mvdb-dev-Data-1ABC-MoviesTable-1ABC is already deleted",
        "deleted vault mvdb-dev-movies and its 0 recovery points",
        f"deleted bucket {AUDIT_BUCKET} and its 3 object versions (their retention had lapsed)",
        *[f"key {key} is already scheduled for deletion on 2026-12-07" for key in DEV_KEYS],
    ]


def test_a_dev_rerun_says_what_is_already_deleted(no_network: None) -> None:
    clients = _Clients()
    root = clients.expect_stack_gone("mvdb-dev")
    clients.expect_stack_resources("mvdb-dev", listed_as=root, audit=True)
    # AWS Backup answers a call about a missing vault with AccessDeniedException: it is looked for in the list.
    clients.stubbers["backup"].add_response("list_backup_vaults", {"BackupVaultList": []}, {})
    _expect_table_already_deleted(clients)
    clients.stubbers["s3"].add_client_error(
        "delete_bucket_policy", "NoSuchBucket", "The specified bucket does not exist", 404, {"Bucket": AUDIT_BUCKET}
    )
    for key in DEV_KEYS:
        clients.stubbers["kms"].add_client_error(
            "schedule_key_deletion", "NotFoundException", f"Key '{key}' does not exist", 400,
            expected_params={"KeyId": key, "PendingWindowInDays": 7},
        )  # fmt: skip

    report = teardown("dev", "mvdb-dev", delete_stack=list, clients=clients)

    clients.assert_all_called()
    assert report[1:] == [
        "vault mvdb-dev-movies is already deleted",
        "table mvdb-dev-Data-1ABC-MoviesTable-1ABC is already deleted",
        f"bucket {AUDIT_BUCKET} is already deleted",
        *[f"key {key} is already deleted" for key in DEV_KEYS],
    ]


def test_a_dev_rerun_too_soon_leaves_the_locked_bucket_again_with_the_same_advice(no_network: None) -> None:
    from tools.deploy.stack_teardown import remove_retained

    clients = _Clients()
    _expect_audit_bucket_emptying(clients, refused=["v0", "v1", "v2"])

    (line,) = remove_retained(
        [RetainedResource("AuditBucket", "AWS::S3::Bucket", AUDIT_BUCKET)],
        dynamodb=clients("dynamodb"), kms=clients("kms"), backup=clients("backup"), s3=clients("s3"),
    )  # fmt: skip

    clients.assert_all_called()
    assert line.startswith(f"left bucket {AUDIT_BUCKET}: 3 audit records are still locked")
    assert line.endswith("run `make destroy ENV=dev` again: it deletes them and the bucket")


def test_recovery_points_already_being_deleted_are_not_deleted_again(no_network: None) -> None:
    from tools.deploy.stack_teardown import remove_retained

    clients = _Clients()
    vault = {"BackupVaultName": "mvdb-dev-movies"}
    point = "arn:aws:backup:eu-west-1:111122223333:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
    clients.stubbers["backup"].add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [{"RecoveryPointArn": point, "Status": "DELETING"}]},
        vault,
    )
    clients.stubbers["backup"].add_client_error(
        "delete_backup_vault", "InvalidRequestException", "Backup vault cannot be deleted", 400, expected_params=vault
    )

    (line,) = remove_retained(
        [RetainedResource("MoviesBackupVault", "AWS::Backup::BackupVault", "mvdb-dev-movies")],
        dynamodb=clients("dynamodb"), kms=clients("kms"), backup=clients("backup"),
    )  # fmt: skip

    clients.assert_all_called()  # no delete_recovery_point: Backup refuses one for a point it is acting on
    assert line.startswith("left vault mvdb-dev-movies: 1 recovery points are being deleted")


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_rerun_outside_dev_after_the_stack_is_gone_deletes_nothing(environment: str, no_network: None) -> None:
    clients, stack = _Clients(), f"mvdb-{environment}"
    root = clients.expect_stack_gone(stack)
    clients.expect_stack_resources(stack, listed_as=root, audit=True)

    report = teardown(environment, stack, delete_stack=list, clients=clients, confirm_prod=True)

    clients.assert_all_called()  # nothing but the listings: no delete of any kind
    assert report[0].startswith(f"stack {stack} was deleted on 2026-11-30 18:00 UTC")
    assert f"kept AWS::S3::Bucket {AUDIT_BUCKET} (retained outside dev)" in report
    assert f"kept AWS::DynamoDB::Table {stack}-Data-1ABC-MoviesTable-1ABC (retained outside dev)" in report
    assert all(line.startswith("kept ") for line in report[1:])


def test_the_deleted_stack_and_the_vaults_are_looked_for_on_every_page(no_network: None) -> None:
    from tools.deploy.stack_teardown import backup_vault_names, deleted_stack_id

    clients = _Clients()
    stack_id = "arn:aws:cloudformation:eu-west-1:111122223333:stack/mvdb-dev/9a8b"
    summary: dict[str, Any] = {"StackId": stack_id, "StackName": "mvdb-dev", "StackStatus": "DELETE_COMPLETE"}
    summary |= {"CreationTime": _utc("2026-11-30T09:00"), "DeletionTime": _utc("2026-11-30T18:00")}
    deleted = {"StackStatusFilter": ["DELETE_COMPLETE"]}
    clients.stubbers["cloudformation"].add_response("list_stacks", {"StackSummaries": [], "NextToken": "2"}, deleted)
    clients.stubbers["cloudformation"].add_response(
        "list_stacks", {"StackSummaries": [summary]}, {**deleted, "NextToken": "2"}
    )
    clients.stubbers["backup"].add_response(
        "list_backup_vaults", {"BackupVaultList": [{"BackupVaultName": "other"}], "NextToken": "2"}, {}
    )
    clients.stubbers["backup"].add_response(
        "list_backup_vaults", {"BackupVaultList": [{"BackupVaultName": "mvdb-dev-movies"}]}, {"NextToken": "2"}
    )

    assert deleted_stack_id(clients("cloudformation"), "mvdb-dev") == (stack_id, "2026-11-30 18:00 UTC")
    assert backup_vault_names(clients("backup")) == {"other", "mvdb-dev-movies"}
    clients.assert_all_called()


def test_a_rerun_of_prod_after_the_stack_is_gone_is_still_refused_without_confirmation(no_network: None) -> None:
    clients = _Clients()

    with pytest.raises(TeardownRefused, match="CONFIRM_PROD_DESTROY=yes"):
        teardown("prod", "mvdb-prod", delete_stack=list, clients=clients)
    clients.assert_all_called()  # refused before any AWS call, the stack's state unknown


def test_a_rerun_when_cloudformation_lists_no_deleted_stack_has_nothing_to_do(no_network: None) -> None:
    clients = _Clients()
    clients.stubbers["cloudformation"].add_client_error(
        "list_stack_resources", "ValidationError", "Stack with id mvdb-dev does not exist", 400,
        expected_params={"StackName": "mvdb-dev"},
    )  # fmt: skip
    clients.stubbers["cloudformation"].add_response(
        "list_stacks", {"StackSummaries": []}, {"StackStatusFilter": ["DELETE_COMPLETE"]}
    )

    report = teardown("dev", "mvdb-dev", delete_stack=list, clients=clients)

    clients.assert_all_called()
    assert report == [
        "stack mvdb-dev: Stack with id mvdb-dev does not exist; CloudFormation lists no deleted stack of that name "
        "(it lists them for 90 days after their deletion): nothing to do"
    ]


def _run_main(monkeypatch: pytest.MonkeyPatch, clients: _Clients, *arguments: str) -> int:
    """The command line, with the stubbed clients as its boto3 session's."""
    from tools.deploy import stack_teardown

    class Session:
        def client(self, name: str) -> Any:
            return clients(name)

    monkeypatch.setattr(boto3.session, "Session", Session)
    return stack_teardown.main(["--config", str(SAM_CONFIG), "--sam", "false", *arguments])


def test_the_command_exits_3_when_something_is_left(
    no_network: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = _Clients()
    root = clients.expect_stack_gone("mvdb-dev")
    clients.expect_stack_resources("mvdb-dev", listed_as=root, audit=True)
    clients.stubbers["backup"].add_response("list_backup_vaults", {"BackupVaultList": []}, {})
    _expect_table_already_deleted(clients)
    _expect_audit_bucket_emptying(clients, refused=["v2"])
    for key in DEV_KEYS:
        clients.stubbers["kms"].add_response(
            "schedule_key_deletion", {"KeyId": key}, {"KeyId": key, "PendingWindowInDays": 7}
        )

    status = _run_main(monkeypatch, clients, "--env", "dev")

    clients.assert_all_called()
    assert status == 3
    assert f"left bucket {AUDIT_BUCKET}: 1 audit records are still locked" in capsys.readouterr().out


def test_the_command_exits_0_when_nothing_is_left(
    no_network: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = _Clients()
    root = clients.expect_stack_gone("mvdb-dev")
    clients.expect_stack_resources("mvdb-dev", listed_as=root, audit=True)
    _expect_dev_leftovers_removed(clients)

    assert _run_main(monkeypatch, clients, "--env", "dev") == 0
    assert "left " not in capsys.readouterr().out


def test_an_aws_error_is_one_line_and_exit_1_not_a_traceback(
    no_network: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = _Clients()
    clients.stubbers["cloudformation"].add_client_error(
        "list_stack_resources", "AccessDenied", "User is not authorized to perform: cloudformation:ListStackResources",
        403, expected_params={"StackName": "mvdb-dev"},
    )  # fmt: skip

    status = _run_main(monkeypatch, clients, "--env", "dev")

    output = capsys.readouterr()
    assert status == 1
    assert output.err == (
        "error: An error occurred (AccessDenied) when calling the ListStackResources operation: "
        "User is not authorized to perform: cloudformation:ListStackResources\n"
    )
    assert output.out == ""


def test_a_failed_sam_delete_is_one_line_and_exit_1(
    no_network: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = _Clients()
    clients.expect_stack_resources("mvdb-dev")
    clients.expect_reports_emptied("mvdb-dev")

    status = _run_main(monkeypatch, clients, "--env", "dev")  # --sam false: the command fails

    assert status == 1
    assert capsys.readouterr().err.startswith("error: false delete --config-file ")


# === Every command the teardown tells its user to run works ======================================
# A "run this" that does not work is worse than none: the first version advised running
# `make destroy ENV=dev` again, which then crashed. Each command the tool prints is in backticks
# (so it can be found), is checked as a document's commands are (tests/infra/doc_commands.py: the
# make target and variables exist, an aws operation and its options exist in botocore's models),
# and the one it advises for what it leaves, the rerun, is run here and finishes the job.
_COMMAND = re.compile(r"\b(?:make|aws|sam)\s+[a-z][a-z0-9-]*")


def _advice_problems(lines: list[str], directory: Path) -> list[str]:
    """What is wrong with the commands ``lines`` advise: one outside backticks, or one the docs' check refuses."""
    found = [
        f"a command outside backticks: {line!r}" for line in lines if _COMMAND.search(re.sub(r"`[^`]*`", "", line))
    ]
    page = directory / "teardown-output.md"
    page.write_text("\n\n".join(lines), encoding="utf-8")
    return found + [str(problem) for problem in command_problems(page)]


def _first_dev_run_that_leaves_the_bucket_and_the_vault() -> list[str]:
    clients = _Clients()
    clients.expect_stack_resources("mvdb-dev", audit=True)
    clients.expect_reports_emptied("mvdb-dev")
    clients.stubbers["dynamodb"].add_response("delete_table", {}, {"TableName": DEV_TABLE})
    vault = {"BackupVaultName": "mvdb-dev-movies"}
    clients.stubbers["backup"].add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": []}, vault)
    clients.stubbers["backup"].add_client_error(
        "delete_backup_vault", "InvalidRequestException", "Backup vault cannot be deleted", 400, expected_params=vault
    )
    _expect_audit_bucket_emptying(clients, refused=["v1"])
    for key in DEV_KEYS:
        clients.stubbers["kms"].add_response(
            "schedule_key_deletion", {"KeyId": key}, {"KeyId": key, "PendingWindowInDays": 7}
        )
    report = teardown("dev", "mvdb-dev", delete_stack=list, clients=clients)
    clients.assert_all_called()
    return report


def _rerun_problem() -> str | None:
    """None when a rerun, once what was left can go, finishes it; else what went wrong."""
    clients = _Clients()
    root = clients.expect_stack_gone("mvdb-dev")
    clients.expect_stack_resources("mvdb-dev", listed_as=root, audit=True)
    _expect_dev_leftovers_removed(clients)
    try:
        report = teardown("dev", "mvdb-dev", delete_stack=list, clients=clients)
        clients.assert_all_called()
    except Exception as failed:  # the gate reports any failure of the rerun, whatever it is
        return f"the rerun failed: {failed!r}"
    left = [line for line in report if line.startswith("left ")]
    return f"the rerun left {left}" if left else None


def test_every_command_the_teardown_advises_is_checked_and_its_rerun_finishes_the_job(
    no_network: None, tmp_path: Path
) -> None:
    from tools.deploy.stack_teardown import RERUN_COMMAND

    report = _first_dev_run_that_leaves_the_bucket_and_the_vault()
    left = [line for line in report if line.startswith("left ")]
    assert [line.split(":")[0] for line in left] == ["left vault mvdb-dev-movies", f"left bucket {AUDIT_BUCKET}"]

    assert _advice_problems(report, tmp_path) == []
    assert {command for line in left for command in re.findall(r"`([^`]+)`", line)} == {RERUN_COMMAND}
    assert _rerun_problem() is None
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", *RERUN_COMMAND.split()[1:]],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert re.search(r"-m tools\.deploy\.stack_teardown .*--env dev\b", dry_run.stdout)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (  # the first version's advice: unquoted, and "empty it" is no command
            "left bucket b: 2 audit records are still locked; run make destroy ENV=dev again, "
            "or empty it and aws s3api delete-bucket --bucket b",
            "a command outside backticks",
        ),
        ("left vault v: then `aws backup delete-backup-vaults --backup-vault-name v`", "delete-backup-vaults"),
        ("left vault v: then `aws backup delete-backup-vault --vault-name v`", "--vault-name"),
        ("left bucket b: run `make destroy ENVIRONMENT=dev` again", "ENVIRONMENT"),
    ],
)
def test_the_advice_gate_fails_a_broken_command(line: str, problem: str, tmp_path: Path) -> None:
    assert problem in "\n".join(_advice_problems([line], tmp_path))


def test_the_advice_gate_fails_a_rerun_that_crashes_once_the_stack_is_gone(
    no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.deploy import stack_teardown

    def as_the_first_version(environment: str, stack: str, gone: Exception, clients: object) -> list[str]:
        raise gone  # it listed the stack's resources by name, whatever the answer

    monkeypatch.setattr(stack_teardown, "_finish_deleted_stack", as_the_first_version)

    assert "Stack with id mvdb-dev does not exist" in str(_rerun_problem())
