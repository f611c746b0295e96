"""What could a dev pipeline run do to prod? Nothing: every path a dev identity could take is tried, and refused.

The identities of the dev environment: its GitHub and Bitbucket deploy roles, its CloudFormation
execution role, and any role that execution role manages to create (an attacker who controls a
dev run writes the dev template: a "backdoor" role with ``*:*``, trusted by whoever they like).
Each attempt below is one way to get code running in prod, to read prod's data or secrets, or to
escape the environment; IAM's verdict comes from tests/infra/iam_evaluation.py over the
bootstrap as deployed (tests/deploy/bootstrap_model.py), in both account models of docs/cicd.md:
one account per environment (the default) and one shared account.

``MVDB_BOOTSTRAP_SOURCE`` points the suite at another bootstrap (a directory like
infra/bootstrap/, or the single-template fixture of the bootstrap before the environments were
sealed): ``test_gates_bite.py`` runs this suite against that fixture and expects it to fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.bootstrap_model import (
    APP,
    BITBUCKET_ENVIRONMENT,
    BITBUCKET_REPOSITORY,
    BITBUCKET_WORKSPACE,
    BITBUCKET_WORKSPACE_UUID,
    GITHUB_REPOSITORY,
    GITHUB_WORKFLOW_REF,
    REGION,
    Account,
    Role,
    bootstrap_accounts,
)
from tests.infra.iam_evaluation import Decision, trust_admits

pytestmark = pytest.mark.infra

SOURCE_ENV = "MVDB_BOOTSTRAP_SOURCE"
SOURCE = Path(os.environ[SOURCE_ENV]) if os.environ.get(SOURCE_ENV) else None
LAYOUTS = ["shared"] if SOURCE is not None and SOURCE.is_file() else ["per-environment", "shared"]
ENV_TAG = "aws:ResourceTag/environment"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module", params=LAYOUTS)
def accounts(request: pytest.FixtureRequest) -> dict[str, Account]:
    return bootstrap_accounts(request.param, source=SOURCE)


# --- the dev identities -----------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    label: str
    account: Account
    role: Role


def _may(
    account: Account, role: Role, action: str, resource: str, context: dict[str, Any], owner: str | None = None
) -> bool:
    return account.evaluate(role, action, resource, context, resource_account=owner) is Decision.ALLOW


def backdoor_role(accounts: dict[str, Account]) -> Role | None:
    """The strongest role the dev execution role can create: without a boundary if it may, else with dev's."""
    dev = accounts["dev"]
    exec_role = dev.role(f"{APP}-cfn-exec-dev")
    arn = f"arn:aws:iam::{dev.number}:role/{APP}-dev-backdoor"
    boundary_arn = f"arn:aws:iam::{dev.number}:policy/{APP}-pipeline-boundary-dev"
    for boundary in (None, boundary_arn):
        context = {"iam:PermissionsBoundary": boundary} if boundary else {}
        if all(_may(dev, exec_role, action, arn, context) for action in ("iam:CreateRole", "iam:PutRolePolicy")):
            document = dev.managed_policies.get(boundary) if boundary else None
            return Role(
                f"{APP}-dev-backdoor",
                arn,
                trust={},
                policies=[EVERYTHING],
                boundary=document,
                tags={"environment": "dev"},
            )
    return None


def dev_actors(accounts: dict[str, Account]) -> list[Actor]:
    dev = accounts["dev"]
    actors = [
        Actor(name, dev, dev.role(name))
        for name in sorted(dev.roles)
        if name.endswith("-dev") and ("-deploy-" in name or "-cfn-exec-" in name)
    ]
    assert len(actors) == 3, [a.label for a in actors]
    backdoor = backdoor_role(accounts)
    if backdoor is not None:
        actors.append(Actor("a role the dev execution role created", dev, backdoor))
    return actors


# --- prod's resources, as an attacker would address them --------------------------------------


@dataclass(frozen=True)
class Call:
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    owner: str = "prod"  # the environment whose account holds the resource


@dataclass(frozen=True)
class Attempt:
    """One escalation: it succeeds only if every call it needs is allowed."""

    description: str
    calls: tuple[Call, ...]


def prod_resources(accounts: dict[str, Account]) -> dict[str, Any]:
    prod = accounts["prod"]
    acct = prod.number
    ra = f"{REGION}:{acct}"
    prod_tag = {ENV_TAG: "prod"}
    bucket = next(arn for arn in prod.resource_policies if arn.startswith("arn:aws:s3:::") and "accesslogs" not in arn)
    return {
        "account": acct,
        "stack": f"arn:aws:cloudformation:{ra}:stack/{APP}-prod/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
        # CloudFormation names a nested stack <root stack>-<logical id>-<suffix>.
        "nested_stack": f"arn:aws:cloudformation:{ra}:stack/{APP}-prod-Data-1A2B3C4D5E6F7/4b5a6978-0f1e-4d3c-8695",
        "exec_role": f"arn:aws:iam::{acct}:role/{APP}-cfn-exec-prod",
        "deploy_roles": [r.arn for n, r in prod.roles.items() if n.endswith("-deploy-prod")],
        "function_role": f"arn:aws:iam::{acct}:role/{APP}-prod-MoviesFunctionRole-1A2B3C",
        "function": f"arn:aws:lambda:{ra}:function:{APP}-prod-MoviesFunction-1A2B3C",
        "hook": f"arn:aws:lambda:{ra}:function:CodeDeployHook_{APP}-prod",
        "table": f"arn:aws:dynamodb:{ra}:table/{APP}-prod-MoviesTable-1A2B3C",
        "stream": f"arn:aws:dynamodb:{ra}:table/{APP}-prod-MoviesTable-1A2B3C/stream/2026-11-30T00:00:00.000",
        "indexer": f"arn:aws:lambda:{ra}:function:{APP}-prod-search-indexer",
        "mapping": f"arn:aws:lambda:{ra}:event-source-mapping:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "dead_letters": f"arn:aws:sqs:{ra}:{APP}-prod-Search-1A2B-SearchIndexDeadLetterQueue-3C4D",
        "pool": f"arn:aws:cognito-idp:{ra}:userpool/{REGION}_Prod12345",
        "api": f"arn:aws:apigateway:{REGION}::/restapis/prodapi001",
        "web_acl": f"arn:aws:wafv2:{ra}:regional/webacl/{APP}-prod-movies/0b1c2d3e",
        "key": f"arn:aws:kms:{ra}:key/7f6e5d4c-0000-4000-8000-000000000000",
        "code_signing_config": f"arn:aws:lambda:{ra}:code-signing-config:csc-0a1b2c3d4e5f67890",
        "signing_profile": _profile_prod_trusts(prod),
        "artifact": f"{bucket}/{APP}/prod/0123456789abcdef0123456789abcdef",
        "alarm": f"arn:aws:cloudwatch:{ra}:alarm:{APP}-prod-MoviesFunctionAliasErrorsAlarm-1A2B",
        "topic": f"arn:aws:sns:{ra}:{APP}-prod-alarms",
        # The identity stack's <stack>/canary-client; Secrets Manager appends six random characters.
        "canary_secret": f"arn:aws:secretsmanager:{ra}:secret:{APP}-prod/canary-client-AbCdEf",
        "deployment_group": f"arn:aws:codedeploy:{ra}:deploymentgroup:{APP}-prod-App-1A2B/{APP}-prod-Group-1A2B",
        "boundary": f"arn:aws:iam::{acct}:policy/{APP}-pipeline-boundary-prod",
        "dev_role": f"arn:aws:iam::{accounts['dev'].number}:role/{APP}-dev-MoviesFunctionRole-1A2B3C",
        "vault": f"arn:aws:backup:{ra}:backup-vault:{APP}-prod-movies",
        # The audit trail's bucket (S3 Object Lock); CloudFormation names it <stack>-<logical id>-<suffix>, lowercased.
        "audit_bucket": f"arn:aws:s3:::{APP}-prod-audit-1a2b3c4d5e6f-auditbucket-7a8b9c0d1e2f",
        "backup_plan": f"arn:aws:backup:{ra}:backup-plan:5e6f7a8b-0000-4000-8000-000000000000",
        "restore_testing_plan": f"arn:aws:backup:{ra}:restore-testing-plan:{APP}_prod_movies-0b1c2d3e",
        # AWS Backup's recovery points of a table with advanced backups; the plan tags each with its environment.
        "recovery_point": f"arn:aws:backup:{ra}:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45",
        "restore_role": f"arn:aws:iam::{acct}:role/{APP}-prod-Backup-1A2B-RestoreRole-3C4D",
        # The rest of the audit trail: its key (tagged like every resource of the stack), its dead-letter
        # queue and its function's role (named <nested stack>-<logical id>-<suffix>), its function and
        # stream mapping (the root template's), and a replication role an attacker would pass to S3.
        "audit_key": f"arn:aws:kms:{ra}:key/3c4d5e6f-0000-4000-8000-000000000000",
        "audit_dead_letters": f"arn:aws:sqs:{ra}:{APP}-prod-Audit-1A2B-AuditDeadLetterQueue-3C4D",
        "audit_function_role": f"arn:aws:iam::{acct}:role/{APP}-prod-Audit-1A2B-AuditTrailFunctionRole-3C4D",
        "audit_function": f"arn:aws:lambda:{ra}:function:{APP}-prod-audit-trail",
        "audit_mapping": f"arn:aws:lambda:{ra}:event-source-mapping:5e6f7a8b-4b5a-4978-8695-a4b3c2d1e0f9",
        "replication_role": f"arn:aws:iam::{acct}:role/{APP}-prod-Audit-1A2B-ReplicationRole-3C4D",
        # The Idempotency-Key records (the data stack's table, named by CloudFormation).
        "idempotency_table": f"arn:aws:dynamodb:{ra}:table/{APP}-prod-Data-1A2B-IdempotencyTable-3C4D",
        "prod_tag": prod_tag,
    }


def _profile_prod_trusts(prod: Account) -> tuple[str, dict[str, str]]:
    """The signing profile prod's code-signing config trusts, and the tags it carries.

    Sealed: the prod environment's own bootstrap profile. Before sealing, prod trusted the dev
    stack's profile (docs/cicd.md then), which CloudFormation tags with the dev stack's name.
    """
    for stack in prod.stacks:
        if stack.name == f"{APP}-pipeline-prod":
            (logical_id,) = stack.resources("AWS::Signer::SigningProfile")
            return stack.get_att(logical_id, "Arn"), {ENV_TAG: "prod"}
    dev_stack_profile = f"arn:aws:signer:{REGION}:{prod.number}:/signing-profiles/SigningProfile_a1b2c3d4e5"
    return dev_stack_profile, {"aws:ResourceTag/aws:cloudformation:stack-name": f"{APP}-dev"}


def attempts(p: dict[str, Any], dev_boundary: str) -> Iterator[Attempt]:
    tag = p["prod_tag"]
    stage = f"{p['api']}/stages/prod"
    with_own_boundary = {"iam:PermissionsBoundary": dev_boundary}
    # Issue: the dev execution role could reach prod or the account.
    dev_role = p["dev_role"]
    yield Attempt("create a role without the permissions boundary", (Call("iam:CreateRole", dev_role, owner="dev"),))
    yield Attempt(
        "give a dev role any policy without the boundary", (Call("iam:PutRolePolicy", dev_role, owner="dev"),)
    )
    yield Attempt(
        "make a dev role trusted by another account without the boundary",
        (Call("iam:UpdateAssumeRolePolicy", dev_role, owner="dev"),),
    )
    yield Attempt(
        "create a movies/write app client on the prod user pool",
        (Call("cognito-idp:CreateUserPoolClient", p["pool"], tag),),
    )
    yield Attempt(
        "delete the prod API's authorizer", (Call("apigateway:DELETE", f"{p['api']}/authorizers/abc123", tag),)
    )
    yield Attempt(
        "disassociate the prod web ACL from the prod stage",
        (Call("wafv2:DisassociateWebACL", stage), Call("apigateway:SetWebACL", stage, tag)),
    )
    yield Attempt("rewrite the prod table key's policy", (Call("kms:PutKeyPolicy", p["key"], tag),))
    # Issue: the dev deploy role could reach prod's secrets, signing and artifacts.
    yield Attempt("read the prod app clients' secrets", (Call("cognito-idp:DescribeUserPoolClient", p["pool"], tag),))
    profile, profile_tags = p["signing_profile"]
    # The prod canary's client credentials: read, replaced (the canary would then run as whoever
    # wrote them), shared with another account, or decrypted through Secrets Manager.
    secret = p["canary_secret"]
    yield Attempt("read the prod canary's client secret", (Call("secretsmanager:GetSecretValue", secret),))
    yield Attempt("replace the prod canary's client secret", (Call("secretsmanager:PutSecretValue", secret),))
    yield Attempt(
        "let another account read the prod canary's client secret", (Call("secretsmanager:PutResourcePolicy", secret),)
    )
    yield Attempt(
        "decrypt the prod canary's client secret with its key",
        (
            Call(
                "kms:Decrypt",
                p["key"],
                {
                    **tag,
                    "kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": secret,
                },
            ),
        ),
    )
    yield Attempt("sign code with the profile prod trusts", (Call("signer:StartSigningJob", profile, profile_tags),))
    yield Attempt(
        "let another account sign with the profile prod trusts",
        (Call("signer:AddProfilePermission", profile, profile_tags),),
    )
    yield Attempt("overwrite an artifact prod deploys from", (Call("s3:PutObject", p["artifact"]),))
    yield Attempt("read an artifact prod deploys from", (Call("s3:GetObject", p["artifact"]),))
    # More ways to get code running in prod.
    yield Attempt(
        "create a change set for the prod stack with its execution role",
        (
            Call(
                "cloudformation:CreateChangeSet",
                p["stack"],
                {"cloudformation:RoleArn": p["exec_role"], "aws:RequestTag/environment": "prod"},
            ),
        ),
    )
    yield Attempt("execute a change set of the prod stack", (Call("cloudformation:ExecuteChangeSet", p["stack"]),))
    yield Attempt("update a nested stack of prod directly", (Call("cloudformation:UpdateStack", p["nested_stack"]),))
    yield Attempt("delete a nested stack of prod", (Call("cloudformation:DeleteStack", p["nested_stack"]),))
    yield Attempt(
        "hand prod's execution role to CloudFormation",
        (Call("iam:PassRole", p["exec_role"], {"iam:PassedToService": "cloudformation.amazonaws.com"}),),
    )
    yield Attempt("replace the prod function's code", (Call("lambda:UpdateFunctionCode", p["function"]),))
    yield Attempt("add a layer to the prod function", (Call("lambda:UpdateFunctionConfiguration", p["function"]),))
    yield Attempt("point prod's live alias at another version", (Call("lambda:UpdateAlias", f"{p['function']}:live"),))
    yield Attempt("let another principal invoke the prod function", (Call("lambda:AddPermission", p["function"]),))
    # A custom resource's ServiceToken makes CloudFormation invoke it with the execution role.
    yield Attempt("invoke the prod function from a custom resource", (Call("lambda:InvokeFunction", p["function"]),))
    yield Attempt("publish to prod's alarm topic from a custom resource", (Call("sns:Publish", p["topic"]),))
    yield Attempt(
        "associate another web ACL with the prod stage",
        (Call("wafv2:AssociateWebACL", stage), Call("apigateway:SetWebACL", stage, tag)),
    )
    yield Attempt("replace the prod pre-traffic hook's code", (Call("lambda:UpdateFunctionCode", p["hook"]),))
    yield Attempt(
        "trust another signing profile in prod's code-signing config",
        (Call("lambda:UpdateCodeSigningConfig", p["code_signing_config"], tag),),
    )
    yield Attempt("detach prod's code-signing config", (Call("lambda:DeleteFunctionCodeSigningConfig", p["function"]),))
    yield Attempt(
        "run a dev function as prod's function role",
        (Call("iam:PassRole", p["function_role"], {"iam:PassedToService": "lambda.amazonaws.com"}),),
    )
    yield Attempt("widen prod's function role", (Call("iam:PutRolePolicy", p["function_role"], with_own_boundary),))
    yield Attempt(
        "start a CodeDeploy deployment of prod", (Call("codedeploy:CreateDeployment", p["deployment_group"]),)
    )
    yield Attempt("delete prod's rollback alarm", (Call("cloudwatch:DeleteAlarms", p["alarm"]),))
    yield Attempt("subscribe to prod's alarm topic", (Call("sns:Subscribe", p["topic"]),))
    yield Attempt(
        "change the prod API's integration", (Call("apigateway:PATCH", f"{p['api']}/resources/r1/methods/GET", tag),)
    )
    yield Attempt(
        "retag the prod user pool as dev",
        (
            Call(
                "cognito-idp:TagResource",
                p["pool"],
                {**tag, "aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
            ),
        ),
    )
    yield Attempt(
        "retag the prod API as dev",
        (
            Call(
                "apigateway:PUT",
                f"arn:aws:apigateway:{REGION}::/tags/{p['api'].replace('/', '%2F')}",
                {"aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
            ),
        ),
    )
    yield Attempt(
        "remove the environment tag from the prod API",
        (
            Call(
                "apigateway:DELETE",
                f"arn:aws:apigateway:{REGION}::/tags/{p['api'].replace('/', '%2F')}",
                {"aws:TagKeys": ["environment"]},
            ),
        ),
    )
    yield Attempt(
        "put a new tag on the prod API",
        (
            Call(
                "apigateway:PUT",
                f"arn:aws:apigateway:{REGION}::/tags/{p['api'].replace('/', '%2F')}",
                {"aws:RequestTag/owner": "attacker", "aws:TagKeys": ["owner"]},
            ),
        ),
    )
    # The account's CloudWatch Logs: one set of resource policies, deliveries and saved queries.
    yield Attempt(
        "overwrite the account's log resource policy prod's WAF delivers through",
        (Call("logs:PutResourcePolicy", "*"),),
    )
    yield Attempt("delete the account's log resource policy", (Call("logs:DeleteResourcePolicy", "*"),))
    yield Attempt("delete prod's WAF log delivery", (Call("logs:DeleteLogDelivery", "*"),))
    yield Attempt("delete prod's saved Logs Insights queries", (Call("logs:DeleteQueryDefinition", "*"),))
    yield Attempt("rewrite prod's saved Logs Insights queries", (Call("logs:PutQueryDefinition", "*"),))
    # Account-wide telemetry and reads that name no environment.
    account_region = f"{REGION}:{p['account']}"
    yield Attempt(
        "publish data points into prod's mvdb metrics",
        (Call("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "mvdb"}),),
    )
    yield Attempt(
        "read prod's signing jobs",
        (Call("signer:DescribeSigningJob", f"arn:aws:signer:{account_region}:/signing-jobs/0a1b2c3d"),),
    )
    yield Attempt("read prod's alarm definitions", (Call("cloudwatch:DescribeAlarms", p["alarm"]),))
    yield Attempt(
        "read the content of prod's canary layer",
        (Call("lambda:GetLayerVersion", f"arn:aws:lambda:{account_region}:layer:cwsyn-{APP}-prod-api-0a1b:1"),),
    )
    # Prod's data.
    yield Attempt("read the prod table", (Call("dynamodb:Scan", p["table"]),))
    yield Attempt("write the prod table", (Call("dynamodb:PutItem", p["table"]),))
    yield Attempt("switch off prod's point-in-time recovery", (Call("dynamodb:UpdateContinuousBackups", p["table"]),))
    # The search index's stream: a mapping is scoped by the function it feeds and its environment tag, the
    # stream read by that function's role. lambda:FunctionArn is the function the request names, so the
    # tag is what keeps a dev role off prod's mapping when it names a dev function.
    on_prod_indexer = {"lambda:FunctionArn": p["indexer"], **tag}
    dev_indexer = p["indexer"].replace(f"{APP}-prod-", f"{APP}-dev-")  # a dev function, were the accounts shared
    yield Attempt(
        "feed prod's table stream to a dev function",
        (
            Call("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": dev_indexer}),
            Call("dynamodb:GetRecords", p["stream"]),
        ),
    )
    yield Attempt(
        "stop prod's search indexing", (Call("lambda:DeleteEventSourceMapping", p["mapping"], on_prod_indexer),)
    )
    yield Attempt(
        "reconfigure prod's stream mapping", (Call("lambda:UpdateEventSourceMapping", p["mapping"], on_prod_indexer),)
    )
    yield Attempt(
        "point prod's stream mapping at a dev function",
        (Call("lambda:UpdateEventSourceMapping", p["mapping"], {"lambda:FunctionArn": dev_indexer, **tag}),),
    )
    # (Every mapping is created tagged, so none is without the tag that this refusal rests on.)
    yield Attempt(
        "retag prod's stream mapping into dev, to change it then",
        (Call("lambda:TagResource", p["mapping"], {**tag, "aws:RequestTag/environment": "dev"}),),
    )
    yield Attempt("read prod's search dead letters", (Call("sqs:ReceiveMessage", p["dead_letters"]),))
    yield Attempt("delete prod's search dead-letter queue", (Call("sqs:DeleteQueue", p["dead_letters"]),))
    yield Attempt("decrypt with the prod table key", (Call("kms:Decrypt", p["key"], tag),))
    yield Attempt("grant itself the prod table key", (Call("kms:CreateGrant", p["key"], tag),))
    # Prod's backups: its vault (locked), its plan, its recovery points, and restoring them.
    vault, plan, point = p["vault"], p["backup_plan"], p["recovery_point"]
    yield Attempt("delete prod's backup vault", (Call("backup:DeleteBackupVault", vault),))
    yield Attempt("remove the prod vault's lock", (Call("backup:DeleteBackupVaultLockConfiguration", vault),))
    yield Attempt("loosen the prod vault's lock", (Call("backup:PutBackupVaultLockConfiguration", vault),))
    yield Attempt("rewrite the prod vault's access policy", (Call("backup:PutBackupVaultAccessPolicy", vault),))
    yield Attempt("copy dev's backups into prod's vault", (Call("backup:CopyIntoBackupVault", vault),))
    yield Attempt("change prod's backup plan", (Call("backup:UpdateBackupPlan", plan, tag),))
    yield Attempt("delete prod's backup plan", (Call("backup:DeleteBackupPlan", plan, tag),))
    yield Attempt("take the prod table out of its backup plan", (Call("backup:DeleteBackupSelection", plan, tag),))
    yield Attempt(
        "change prod's restore drill", (Call("backup:UpdateRestoreTestingSelection", p["restore_testing_plan"], tag),)
    )
    yield Attempt("delete a prod recovery point", (Call("backup:DeleteRecoveryPoint", point, tag),))
    yield Attempt(
        "shorten a prod recovery point's retention", (Call("backup:UpdateRecoveryPointLifecycle", point, tag),)
    )
    yield Attempt(
        "take a prod recovery point out of its vault", (Call("backup:DisassociateRecoveryPoint", point, tag),)
    )
    yield Attempt(
        "retag a prod recovery point as dev",
        (
            Call(
                "backup:TagResource",
                point,
                {**tag, "aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
            ),
        ),
    )
    yield Attempt("start a restore of a prod recovery point", (Call("backup:StartRestoreJob", point, tag),))
    yield Attempt(
        "restore a prod recovery point as prod's restore role",
        (Call("iam:PassRole", p["restore_role"], {"iam:PassedToService": "backup.amazonaws.com"}),),
    )
    # A dev restore testing plan may name prod's vault and table; its restore then runs as a dev
    # role, which must decrypt the backup with prod's vault key through AWS Backup.
    yield Attempt(
        "decrypt a prod recovery point through AWS Backup",
        (Call("kms:Decrypt", p["key"], {**tag, "kms:ViaService": f"backup.{REGION}.amazonaws.com"}),),
    )
    yield Attempt(
        "restore the prod table to a point in time", (Call("dynamodb:RestoreTableToPointInTime", p["table"]),)
    )
    yield Attempt("export the prod table", (Call("dynamodb:ExportTableToPointInTime", p["table"]),))
    # Prod's audit trail: its records, their lock, the bucket's policy and its key.
    audit, record = (
        p["audit_bucket"],
        f"{p['audit_bucket']}/movies/2013/0a1b2c/0000000000000000000000000000000000000001-e1.json",
    )
    yield Attempt("delete a record of prod's audit trail", (Call("s3:DeleteObject", record),))
    yield Attempt("delete a version of a record of prod's audit trail", (Call("s3:DeleteObjectVersion", record),))
    yield Attempt("forge a record in prod's audit trail", (Call("s3:PutObject", record),))
    yield Attempt("shorten a prod audit record's retention", (Call("s3:PutObjectRetention", record),))
    yield Attempt(
        "shorten prod's audit retention for new records", (Call("s3:PutBucketObjectLockConfiguration", audit),)
    )
    yield Attempt(
        "remove the policy that denies deletes in prod's audit bucket", (Call("s3:DeleteBucketPolicy", audit),)
    )
    yield Attempt("rewrite the policy of prod's audit bucket", (Call("s3:PutBucketPolicy", audit),))
    yield Attempt("read prod's audit trail", (Call("s3:GetObject", record),))
    yield Attempt("expire prod's audit records early by lifecycle", (Call("s3:PutLifecycleConfiguration", audit),))
    yield Attempt("read an earlier version of a record of prod's audit trail", (Call("s3:GetObjectVersion", record),))
    yield Attempt("list every version in prod's audit bucket", (Call("s3:ListBucketVersions", audit),))
    yield Attempt("suspend versioning of prod's audit bucket", (Call("s3:PutBucketVersioning", audit),))
    # Replication copies every new record into a bucket of the attacker's, as a role passed to S3.
    yield Attempt(
        "replicate prod's audit trail into another bucket",
        (
            Call("s3:PutReplicationConfiguration", audit),
            Call("iam:PassRole", p["replication_role"], {"iam:PassedToService": "s3.amazonaws.com"}),
        ),
    )
    yield Attempt(
        "delete a prod audit record by bypassing governance retention",
        (Call("s3:BypassGovernanceRetention", record), Call("s3:DeleteObjectVersion", record)),
    )
    audit_key = p["audit_key"]
    yield Attempt(
        "decrypt prod's audit records through S3",
        (Call("kms:Decrypt", audit_key, {**tag, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}),),
    )
    yield Attempt("decrypt with prod's audit key", (Call("kms:Decrypt", audit_key, tag),))
    yield Attempt("rewrite the policy of prod's audit key", (Call("kms:PutKeyPolicy", audit_key, tag),))
    yield Attempt("schedule the deletion of prod's audit key", (Call("kms:ScheduleKeyDeletion", audit_key, tag),))
    yield Attempt("disable prod's audit key", (Call("kms:DisableKey", audit_key, tag),))
    yield Attempt("read prod's audit dead letters", (Call("sqs:ReceiveMessage", p["audit_dead_letters"]),))
    yield Attempt("purge prod's audit dead letters", (Call("sqs:PurgeQueue", p["audit_dead_letters"]),))
    yield Attempt(
        "reconfigure prod's audit dead-letter queue", (Call("sqs:SetQueueAttributes", p["audit_dead_letters"]),)
    )
    yield Attempt(
        "widen the role of prod's audit trail function",
        (Call("iam:PutRolePolicy", p["audit_function_role"], with_own_boundary),),
    )
    yield Attempt(
        "attach a managed policy to the role of prod's audit trail function",
        (
            Call(
                "iam:AttachRolePolicy",
                p["audit_function_role"],
                {
                    **with_own_boundary,
                    "iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                },
            ),
        ),
    )
    on_prod_audit_function = {"lambda:FunctionArn": p["audit_function"], **tag}
    yield Attempt(
        "stop prod's audit trail",
        (Call("lambda:DeleteEventSourceMapping", p["audit_mapping"], on_prod_audit_function),),
    )
    yield Attempt(
        "reconfigure prod's audit trail mapping",
        (Call("lambda:UpdateEventSourceMapping", p["audit_mapping"], on_prod_audit_function),),
    )
    dev_audit_function = p["audit_function"].replace(f"{APP}-prod-", f"{APP}-dev-")
    yield Attempt(
        "point prod's audit trail mapping at a dev function",
        (
            Call(
                "lambda:UpdateEventSourceMapping", p["audit_mapping"], {"lambda:FunctionArn": dev_audit_function, **tag}
            ),
        ),
    )
    # Prod's Idempotency-Key records: a forged one would answer a client's retry with a made-up response.
    idempotency = p["idempotency_table"]
    yield Attempt("forge an idempotency record in prod", (Call("dynamodb:PutItem", idempotency),))
    yield Attempt("read prod's idempotency records", (Call("dynamodb:GetItem", idempotency),))
    yield Attempt(
        "switch off the expiry of prod's idempotency records", (Call("dynamodb:UpdateTimeToLive", idempotency),)
    )
    yield Attempt("delete prod's idempotency table", (Call("dynamodb:DeleteTable", idempotency),))
    # Escaping the environment altogether.
    yield Attempt("loosen its own permissions boundary", (Call("iam:CreatePolicyVersion", dev_boundary, owner="dev"),))
    yield Attempt(
        "remove a role's permissions boundary",
        (Call("iam:DeleteRolePermissionsBoundary", dev_role, with_own_boundary, owner="dev"),),
    )
    yield Attempt("assume prod's deploy role", tuple(Call("sts:AssumeRole", arn) for arn in p["deploy_roles"][:1]))
    yield Attempt("leave the organization", (Call("organizations:LeaveOrganization", "*"),))


def _attempt_ids() -> list[str]:
    keys = (
        "stack",
        "nested_stack",
        "exec_role",
        "function_role",
        "function",
        "hook",
        "table",
        "stream",
        "indexer",
        "mapping",
        "dead_letters",
        "pool",
        "api",
        "web_acl",
        "key",
        "code_signing_config",
        "artifact",
        "alarm",
        "topic",
        "canary_secret",
        "deployment_group",
        "boundary",
        "dev_role",
        "vault",
        "audit_bucket",
        "backup_plan",
        "restore_testing_plan",
        "recovery_point",
        "restore_role",
        "audit_key",
        "audit_dead_letters",
        "audit_function_role",
        "audit_function",
        "audit_mapping",
        "replication_role",
        "idempotency_table",
    )
    placeholders = {
        **dict.fromkeys((*keys, "account"), "x"),
        "deploy_roles": ["x"],
        "prod_tag": {},
        "signing_profile": ("x", {}),
    }
    return [a.description for a in attempts(placeholders, "x")]


# What the shared-account model cannot prevent: these actions name no resource and take no
# condition that tells environments apart (Service Authorization Reference), so the dev
# execution role holds them account-wide. docs/security.md lists each as residual risk; with one
# account per environment (the default) they stay in dev's account and are refused above.
SHARED_ACCOUNT_RESIDUAL = {
    "delete prod's WAF log delivery",
    "delete prod's saved Logs Insights queries",
    "rewrite prod's saved Logs Insights queries",
    "publish data points into prod's mvdb metrics",
    "read prod's signing jobs",
    "read prod's alarm definitions",
    "read the content of prod's canary layer",
}


@pytest.mark.parametrize("description", _attempt_ids())
def test_no_dev_identity_can(accounts: dict[str, Account], description: str) -> None:
    resources = prod_resources(accounts)
    dev_boundary = f"arn:aws:iam::{accounts['dev'].number}:policy/{APP}-pipeline-boundary-dev"
    attempt = next(a for a in attempts(resources, dev_boundary) if a.description == description)
    succeeded = [
        actor.label
        for actor in dev_actors(accounts)
        if all(
            _may(actor.account, actor.role, c.action, c.resource, c.context, accounts[c.owner].number)
            for c in attempt.calls
        )
    ]
    if accounts["dev"] is accounts["prod"] and description in SHARED_ACCOUNT_RESIDUAL and SOURCE is None:
        assert succeeded, f"{description}: refused now; drop it from SHARED_ACCOUNT_RESIDUAL and docs/security.md"
        return
    assert succeeded == [], f"{description}: allowed for {succeeded}"


def test_every_residual_risk_of_the_shared_account_is_documented() -> None:
    security = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert set(_attempt_ids()) >= SHARED_ACCOUNT_RESIDUAL
    undocumented = [d for d in sorted(SHARED_ACCOUNT_RESIDUAL) if f"*{d}*" not in security]
    assert undocumented == []


# --- prod's own execution role and prod's audit trail ---------------------------------------------
# Prod's execution role builds the audit stack, so it may change that stack's bucket policy, lifecycle,
# default retention, key policy and stream mapping: docs/security.md ("Residual risk: an environment's
# own pipeline and its audit trail") lists each in italics (OWN_AUDIT_TRAIL_RESIDUAL), so that list
# cannot go stale. Everything else below it must be refused. The verdict is IAM's alone: the audit
# bucket's policy and the key's policy are not counted, since this role may rewrite both.


def own_audit_trail_attempts(p: dict[str, Any]) -> Iterator[Attempt]:
    tag = p["prod_tag"]
    audit = p["audit_bucket"]
    record = f"{audit}/movies/2013/0a1b2c/0000000000000000000000000000000000000001-e1.json"
    yield Attempt("read a record of its audit trail", (Call("s3:GetObject", record),))
    yield Attempt("read an earlier version of a record of its audit trail", (Call("s3:GetObjectVersion", record),))
    yield Attempt("list every version in its audit bucket", (Call("s3:ListBucketVersions", audit),))
    yield Attempt("delete a version of a record of its audit trail", (Call("s3:DeleteObjectVersion", record),))
    yield Attempt(
        "delete an audit record by bypassing governance retention",
        (Call("s3:BypassGovernanceRetention", record), Call("s3:DeleteObjectVersion", record)),
    )
    yield Attempt("shorten an audit record's retention", (Call("s3:PutObjectRetention", record),))
    yield Attempt(
        "replicate its audit trail into another bucket",
        (
            Call("s3:PutReplicationConfiguration", audit),
            Call("iam:PassRole", p["replication_role"], {"iam:PassedToService": "s3.amazonaws.com"}),
        ),
    )
    # A compliance-mode default retention on any other bucket of the stack would keep it from ever being emptied.
    canary_bucket = f"arn:aws:s3:::{APP}-prod-canaryartifactsbucket-1a2b3c4d5e6f"
    yield Attempt(
        "lock another bucket of its stack with Object Lock",
        (Call("s3:PutBucketObjectLockConfiguration", canary_bucket),),
    )
    audit_key = p["audit_key"]
    yield Attempt(
        "decrypt its audit records through S3",
        (Call("kms:Decrypt", audit_key, {**tag, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}),),
    )
    yield Attempt("decrypt with its audit key", (Call("kms:Decrypt", audit_key, tag),))
    yield Attempt("schedule the deletion of its audit key", (Call("kms:ScheduleKeyDeletion", audit_key, tag),))
    yield Attempt("disable its audit key", (Call("kms:DisableKey", audit_key, tag),))
    yield Attempt("read its audit dead letters", (Call("sqs:ReceiveMessage", p["audit_dead_letters"]),))
    yield Attempt("purge its audit dead letters", (Call("sqs:PurgeQueue", p["audit_dead_letters"]),))
    yield Attempt("read its idempotency records", (Call("dynamodb:GetItem", p["idempotency_table"]),))
    yield Attempt("forge an idempotency record", (Call("dynamodb:PutItem", p["idempotency_table"]),))
    yield Attempt("delete its idempotency table", (Call("dynamodb:DeleteTable", p["idempotency_table"]),))
    # What building the audit stack needs, and what it lets this role do to the trail's future.
    yield Attempt("rewrite the policy of its audit bucket", (Call("s3:PutBucketPolicy", audit),))
    yield Attempt("remove the policy of its audit bucket", (Call("s3:DeleteBucketPolicy", audit),))
    yield Attempt("expire its audit records early by lifecycle", (Call("s3:PutLifecycleConfiguration", audit),))
    yield Attempt("shorten its audit retention for new records", (Call("s3:PutBucketObjectLockConfiguration", audit),))
    yield Attempt("hide its audit records behind delete markers", (Call("s3:DeleteObject", record),))
    yield Attempt("rewrite the policy of its audit key", (Call("kms:PutKeyPolicy", audit_key, tag),))
    yield Attempt(
        "stop its audit trail",
        (
            Call(
                "lambda:DeleteEventSourceMapping",
                p["audit_mapping"],
                {"lambda:FunctionArn": p["audit_function"], **tag},
            ),
        ),
    )


OWN_AUDIT_TRAIL_RESIDUAL = {
    "rewrite the policy of its audit bucket",
    "remove the policy of its audit bucket",
    "expire its audit records early by lifecycle",
    "shorten its audit retention for new records",
    "hide its audit records behind delete markers",
    "rewrite the policy of its audit key",
    "stop its audit trail",
}


def _own_attempt_ids() -> list[str]:
    placeholders: dict[str, Any] = {
        "audit_bucket": "x",
        "replication_role": "x",
        "audit_key": "x",
        "audit_dead_letters": "x",
        "idempotency_table": "x",
        "audit_mapping": "x",
        "audit_function": "x",
        "prod_tag": {},
    }
    return [a.description for a in own_audit_trail_attempts(placeholders)]


@pytest.mark.parametrize("description", _own_attempt_ids())
def test_what_prods_own_execution_role_may_do_to_its_audit_trail(
    accounts: dict[str, Account], description: str
) -> None:
    if SOURCE is not None and SOURCE.is_file():
        pytest.skip("the bootstrap before sealing had no audit trail")
    prod = accounts["prod"]
    role = prod.role(f"{APP}-cfn-exec-prod")
    attempt = next(a for a in own_audit_trail_attempts(prod_resources(accounts)) if a.description == description)
    allowed = all(_may(prod, role, c.action, c.resource, c.context) for c in attempt.calls)
    if description in OWN_AUDIT_TRAIL_RESIDUAL:
        assert allowed, f"{description}: refused now; drop it from OWN_AUDIT_TRAIL_RESIDUAL and docs/security.md"
    else:
        assert not allowed, f"{description}: allowed to {role.name}"


def test_every_residual_risk_of_prods_own_pipeline_to_its_audit_trail_is_documented() -> None:
    security = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert set(_own_attempt_ids()) >= OWN_AUDIT_TRAIL_RESIDUAL
    undocumented = [d for d in sorted(OWN_AUDIT_TRAIL_RESIDUAL) if f"*{d}*" not in security]
    assert undocumented == []


# --- what the dev identities can still do: the escalation tests must not pass by denying all ---


def test_the_dev_execution_role_can_create_a_role_only_with_its_boundary(accounts: dict[str, Account]) -> None:
    dev = accounts["dev"]
    role = dev.role(f"{APP}-cfn-exec-dev")
    arn = f"arn:aws:iam::{dev.number}:role/{APP}-dev-MoviesFunctionRole-1A2B3C"
    boundary = f"arn:aws:iam::{dev.number}:policy/{APP}-pipeline-boundary-dev"
    assert _may(dev, role, "iam:CreateRole", arn, {"iam:PermissionsBoundary": boundary})
    assert not _may(dev, role, "iam:CreateRole", arn, {})
    prod_boundary = boundary.replace("-dev", "-prod")
    assert not _may(dev, role, "iam:CreateRole", arn, {"iam:PermissionsBoundary": prod_boundary})


def test_a_role_under_the_dev_boundary_still_works_in_dev(accounts: dict[str, Account]) -> None:
    dev = accounts["dev"]
    backdoor = backdoor_role(accounts)
    assert backdoor is not None and backdoor.boundary is not None
    ra = f"{REGION}:{dev.number}"
    assert _may(dev, backdoor, "dynamodb:GetItem", f"arn:aws:dynamodb:{ra}:table/{APP}-dev-MoviesTable-1A2B", {})
    assert _may(dev, backdoor, "kms:Decrypt", f"arn:aws:kms:{ra}:key/0b1c", {ENV_TAG: "dev"})
    # The canary's role reads its client credentials under the boundary.
    assert _may(
        dev,
        backdoor,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{ra}:secret:{APP}-dev/canary-client-AbCdEf",
        {},
    )


def test_the_dev_execution_role_still_builds_the_dev_backup_stack(accounts: dict[str, Account]) -> None:
    dev = accounts["dev"]
    role = dev.role(f"{APP}-cfn-exec-dev")
    ra = f"{REGION}:{dev.number}"
    assert _may(dev, role, "backup:CreateBackupVault", f"arn:aws:backup:{ra}:backup-vault:{APP}-dev-movies", {})
    plan = f"arn:aws:backup:{ra}:backup-plan:0b1c2d3e-0000-4000-8000-000000000000"
    assert _may(dev, role, "backup:CreateBackupPlan", plan, {"aws:RequestTag/environment": "dev"})
    assert _may(dev, role, "backup:CreateBackupSelection", plan, {ENV_TAG: "dev"})
    drill = f"arn:aws:backup:{ra}:restore-testing-plan:{APP}_dev_movies-0b1c2d3e"
    assert _may(dev, role, "backup:CreateRestoreTestingSelection", drill, {})
    passed = f"arn:aws:iam::{dev.number}:role/{APP}-dev-Backup-1A2B-RestoreRole-3C4D"
    assert _may(dev, role, "iam:PassRole", passed, {"iam:PassedToService": "backup.amazonaws.com"})


def test_the_dev_execution_role_still_builds_the_dev_audit_trail(accounts: dict[str, Account]) -> None:
    # The refusals above are not for want of a grant: the same calls on dev's own audit trail pass.
    dev = accounts["dev"]
    role = dev.role(f"{APP}-cfn-exec-dev")
    ra = f"{REGION}:{dev.number}"
    tag = {ENV_TAG: "dev"}
    bucket = f"arn:aws:s3:::{APP}-dev-audit-1a2b3c4d5e6f-auditbucket-7a8b9c0d1e2f"
    assert _may(dev, role, "s3:PutBucketObjectLockConfiguration", bucket, {})
    assert _may(dev, role, "s3:PutBucketPolicy", bucket, {})
    assert _may(dev, role, "kms:PutKeyPolicy", f"arn:aws:kms:{ra}:key/3c4d5e6f-0000-4000-8000-000000000000", tag)
    assert _may(
        dev, role, "sqs:SetQueueAttributes", f"arn:aws:sqs:{ra}:{APP}-dev-Audit-1A2B-AuditDeadLetterQueue-3C4D", {}
    )
    boundary = {"iam:PermissionsBoundary": f"arn:aws:iam::{dev.number}:policy/{APP}-pipeline-boundary-dev"}
    function_role = f"arn:aws:iam::{dev.number}:role/{APP}-dev-Audit-1A2B-AuditTrailFunctionRole-3C4D"
    assert _may(dev, role, "iam:PutRolePolicy", function_role, boundary)
    mapping = f"arn:aws:lambda:{ra}:event-source-mapping:5e6f7a8b-4b5a-4978-8695-a4b3c2d1e0f9"
    feeds = {"lambda:FunctionArn": f"arn:aws:lambda:{ra}:function:{APP}-dev-audit-trail", **tag}
    assert _may(dev, role, "lambda:UpdateEventSourceMapping", mapping, feeds)
    idempotency = f"arn:aws:dynamodb:{ra}:table/{APP}-dev-Data-1A2B-IdempotencyTable-3C4D"
    assert _may(dev, role, "dynamodb:UpdateTimeToLive", idempotency, {})


def test_the_dev_execution_role_tags_the_stream_mappings_it_creates(accounts: dict[str, Account]) -> None:
    # Tag on create: the mapping has no tags yet, so only the request's tag is there to check.
    dev = accounts["dev"]
    role = dev.role(f"{APP}-cfn-exec-dev")
    mapping = f"arn:aws:lambda:{REGION}:{dev.number}:event-source-mapping:0b1c2d3e-0000-4000-8000-000000000000"
    assert _may(dev, role, "lambda:TagResource", mapping, {"aws:RequestTag/environment": "dev"})
    assert _may(dev, role, "lambda:TagResource", mapping, {"aws:RequestTag/environment": "dev", ENV_TAG: "dev"})
    assert not _may(dev, role, "lambda:TagResource", mapping, {"aws:RequestTag/environment": "prod"})


def test_a_role_under_the_dev_boundary_still_backs_up_restores_and_validates_in_dev(
    accounts: dict[str, Account],
) -> None:
    dev = accounts["dev"]
    backdoor = backdoor_role(accounts)
    assert backdoor is not None and backdoor.boundary is not None
    ra = f"{REGION}:{dev.number}"
    vault = f"arn:aws:backup:{ra}:backup-vault:{APP}-dev-movies"
    assert _may(dev, backdoor, "backup:CopyFromBackupVault", vault, {})
    point = f"arn:aws:backup:{ra}:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
    assert _may(dev, backdoor, "backup:TagResource", point, {"aws:RequestTag/environment": "dev"})
    copy = f"arn:aws:dynamodb:{ra}:table/awsbackup-restore-test-5f1e2d3c"
    assert _may(dev, backdoor, "dynamodb:RestoreTableFromAwsBackup", copy, {})
    assert _may(dev, backdoor, "dynamodb:Scan", copy, {})
    assert _may(dev, backdoor, "backup:PutRestoreValidationResult", "*", {})
    via_dynamodb = {ENV_TAG: "dev", "kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
    assert _may(dev, backdoor, "kms:CreateGrant", f"arn:aws:kms:{ra}:key/0b1c", via_dynamodb)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_signs_with_its_own_profile(accounts: dict[str, Account], env: str) -> None:
    account = accounts[env]
    profile = next(
        stack.get_att(logical_id, "Arn")
        for stack in account.stacks
        if stack.name == f"{APP}-pipeline-{env}"
        for logical_id in stack.resources("AWS::Signer::SigningProfile")
    )
    deploy = account.role(f"{APP}-github-deploy-{env}")
    assert _may(account, deploy, "signer:StartSigningJob", profile, {ENV_TAG: env})


# --- trust: no dev token reaches another environment's role, and dev deploys come from main --


GITHUB = "token.actions.githubusercontent.com"
BITBUCKET = f"api.bitbucket.org/2.0/workspaces/{BITBUCKET_WORKSPACE}/pipelines-config/identity/oidc"


def _github(account: Account, sub: str) -> tuple[dict[str, str], dict[str, str]]:
    return (
        {"Federated": f"arn:aws:iam::{account.number}:oidc-provider/{GITHUB}"},
        {f"{GITHUB}:sub": sub, f"{GITHUB}:aud": "sts.amazonaws.com"},
    )


def _bitbucket(account: Account, sub: str) -> tuple[dict[str, str], dict[str, str]]:
    return (
        {"Federated": f"arn:aws:iam::{account.number}:oidc-provider/{BITBUCKET}"},
        {f"{BITBUCKET}:sub": sub, f"{BITBUCKET}:aud": f"ari:cloud:bitbucket::workspace/{BITBUCKET_WORKSPACE_UUID}"},
    )


def dev_tokens(account: Account) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Every token a dev pipeline run can obtain, whatever branch or workflow it runs from."""
    workflow = GITHUB_WORKFLOW_REF
    return {
        "GitHub dev job, deploy workflow on main": _github(
            account, f"repo:{GITHUB_REPOSITORY}:environment:dev:job_workflow_ref:{workflow}"
        ),
        "GitHub dev job, default sub": _github(account, f"repo:{GITHUB_REPOSITORY}:environment:dev"),
        "Bitbucket dev deployment step": _bitbucket(
            account, f"{BITBUCKET_REPOSITORY}:{BITBUCKET_ENVIRONMENT['dev']}:{{7e6d}}"
        ),
    }


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_no_dev_token_assumes_a_role_of_another_environment(accounts: dict[str, Account], env: str) -> None:
    account = accounts[env]
    admitted = [
        (role.name, label)
        for role in account.roles.values()
        if role.name.endswith(f"-deploy-{env}")
        for label, (principal, claims) in dev_tokens(account).items()
        if trust_admits(role.trust, principal, claims)
    ]
    assert admitted == []


DEV_SUB = f"repo:{GITHUB_REPOSITORY}:environment:dev"


@pytest.mark.parametrize(
    "sub",
    [
        f"{DEV_SUB}:job_workflow_ref:{GITHUB_WORKFLOW_REF.replace('refs/heads/main', 'refs/heads/feature')}",
        f"{DEV_SUB}:job_workflow_ref:{GITHUB_WORKFLOW_REF.replace('deploy.yml', 'ci.yml')}",
        DEV_SUB,
    ],
    ids=["another-branch", "another-workflow", "no-workflow-claim"],
)
def test_github_dev_deploys_come_only_from_the_deploy_workflow_on_main(accounts: dict[str, Account], sub: str) -> None:
    dev = accounts["dev"]
    role = dev.role(f"{APP}-github-deploy-dev")
    principal, claims = _github(dev, sub)
    assert not trust_admits(role.trust, principal, claims)
