"""The teardown behind ``make destroy`` (tools/deploy/stack_teardown.py), without AWS or a network."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pytest_socket import disable_socket, enable_socket

from tools.deploy.stack_teardown import RetainedResource, TeardownRefused, stack_name, teardown

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAM_CONFIG = PROJECT_ROOT / "infra" / "samconfig.toml"


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


class _Clients:
    """boto3 clients with Stubbers: every AWS call must be one the test expects."""

    def __init__(self) -> None:
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="eu-west-1")
        self.clients = {name: session.client(name) for name in ("cloudformation", "dynamodb", "kms", "cognito-idp")}
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}
        for stubber in self.stubbers.values():
            stubber.activate()

    def __call__(self, name: str) -> Any:
        return self.clients[name]

    def expect_stack_resources(self, stack: str) -> None:
        summaries = [
            ("MoviesTable", "AWS::DynamoDB::Table", "mvdb-dev-MoviesTable-1ABC"),
            ("MoviesTableKey", "AWS::KMS::Key", "key-table"),
            ("ObservabilityKey", "AWS::KMS::Key", "key-logs"),
            ("MoviesFunction", "AWS::Lambda::Function", "mvdb-dev-MoviesFunction-1ABC"),
            ("MoviesUserPool", "AWS::Cognito::UserPool", "eu-west-1_POOL"),
        ]
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
    clients.stubbers["dynamodb"].add_response("delete_table", {}, {"TableName": "mvdb-dev-MoviesTable-1ABC"})
    for key in ("key-table", "key-logs"):
        clients.stubbers["kms"].add_response(
            "schedule_key_deletion", {"KeyId": key}, {"KeyId": key, "PendingWindowInDays": 7}
        )

    report = teardown("dev", "mvdb-dev", delete_stack=lambda: deleted.append(True), clients=clients)

    assert deleted == [True]
    clients.assert_all_called()  # and the dev user pool, never protected, was left to CloudFormation
    assert report[0] == "deleted stack mvdb-dev"
    assert report[1] == "deleted table mvdb-dev-MoviesTable-1ABC"  # the table goes before its key


def test_destroying_staging_lifts_the_user_pool_protection_and_keeps_the_table_and_keys(no_network: None) -> None:
    clients, deleted = _Clients(), []
    clients.expect_stack_resources("mvdb-staging")
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
    assert report[:2] == ["lifted the deletion protection of user pool eu-west-1_POOL", "deleted stack mvdb-staging"]
    assert "kept AWS::DynamoDB::Table mvdb-dev-MoviesTable-1ABC (retained outside dev)" in report


def test_retained_resources_are_the_types_the_template_retains() -> None:
    # Keep the teardown's notion of "retained" in step with the template's DeletionPolicy.
    from tools.build.sam_translate import load_sam_template
    from tools.deploy.stack_teardown import RETAINED_TYPES

    template = load_sam_template(PROJECT_ROOT / "infra" / "template.yaml")
    retained = {r["Type"] for r in template["Resources"].values() if r.get("DeletionPolicy") == "Retain"}
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
