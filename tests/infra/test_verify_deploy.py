"""``make verify-deploy``, offline: a deployed stack recorded as AWS answers it, healthy and then broken.

Every AWS call goes to a real boto3 client whose answers come from a botocore Stubber, which also
checks the call and its parameters: a call the verifier should not make, or with other parameters,
fails the test. The shapes are AWS's (the Stubber validates responses against the service models).
The token endpoint and the API are a stand-in function answering as Cognito and API Gateway do
(a token lacking the method's scope gets 401). Nothing here reaches a network.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.deploy.verify_deploy import Fact, verify

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACK, REGION, ACCOUNT = "mvdb-dev", "eu-west-1", "111122223333"
NESTED = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}-%s-1ABC/0f1e"
FUNCTION, HOOK = f"{STACK}-MoviesFunction-1ABC", f"CodeDeployHook_{STACK}"
TABLE, POOL = f"{STACK}-Data-1ABC-MoviesTable-1ABC", f"{REGION}_POOL"
API_URL = f"https://abc123.execute-api.{REGION}.amazonaws.com/dev"
TOKEN_URL = f"https://mvdb-dev-{ACCOUNT}.auth.{REGION}.amazoncognito.com/oauth2/token"
SHA = "ab" * 32
PROFILE = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/mvdbdev/abcdefghij"
CSC = f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-0123456789abcdef0"
KEY_ID = "7f6e5d4c-0000-4000-8000-000000000000"
MAPPING = "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"  # the stream mapping's UUID
ALARMS = {"AliasErrors": "mvdb-dev-alias-errors", "FastBurn": "mvdb-dev-fast-burn"}
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def _summary(logical: str, kind: str, physical: str, status: str = "CREATE_COMPLETE") -> dict[str, Any]:
    return {
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "PhysicalResourceId": physical,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": status,
    }


def _configuration(version: str, **changes: Any) -> dict[str, Any]:
    variables = {"TABLE_NAME": TABLE, "ENVIRONMENT": "dev", "POWERTOOLS_LOG_LEVEL": "DEBUG", "REGION": REGION}
    return {
        "FunctionName": FUNCTION,
        "Version": version,
        "Runtime": "python3.13",
        "Architectures": ["arm64"],
        "Handler": "mvdb.app.lambda_handler",
        "MemorySize": 512,
        "Timeout": 15,
        "Role": f"arn:aws:iam::{ACCOUNT}:role/movies",
        "CodeSha256": "c29tZQ==",
        "Description": f"configuration {SHA}" if version != "$LATEST" else f"mvdb movies API {SHA}",
        "Environment": {"Variables": variables},
        "TracingConfig": {"Mode": "Active"},
        "SigningProfileVersionArn": PROFILE,
        "SigningJobArn": f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-jobs/job-{version.strip('$')}",
        **changes,
    }


class Recorded:
    """A deployed mvdb-dev as AWS answers it; ``broken`` names the facts to spoil."""

    def __init__(self, broken: frozenset[str] = frozenset()) -> None:
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=REGION)
        services = (
            "cloudformation",
            "lambda",
            "wafv2",
            "synthetics",
            "cloudwatch",
            "cognito-idp",
            "dynamodb",
            "signer",
            "apigateway",
            "kms",
        )
        self.clients = {name: session.client(name) for name in services}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        self.http_calls: list[tuple[str, str]] = []
        self._record(broken)
        for stub in self.stubs.values():
            stub.activate()

    def __call__(self, service: str) -> Any:
        return self.clients[service]

    def _record(self, broken: frozenset[str]) -> None:
        cfn, fn = self.stubs["cloudformation"], self.stubs["lambda"]
        outputs = {"FunctionName": FUNCTION, "TableName": TABLE, "ApiUrl": API_URL, "TokenUrl": TOKEN_URL,
                   "UserPoolId": POOL, "MachineClientId": "machine", "ReadOnlyClientId": "reader"}  # fmt: skip
        parameters = {"Environment": "dev", "LogLevel": "DEBUG", "FunctionConfigurationSha256": SHA}
        cfn.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": STACK, "CreationTime": NOW, "StackStatus": "UPDATE_COMPLETE",
                         "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                         "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]}]},
            {"StackName": STACK},
        )  # fmt: skip
        hook_status = "UPDATE_FAILED" if "stacks" in broken else "UPDATE_COMPLETE"
        listings = {
            STACK: [
                _summary("MoviesFunction", "AWS::Lambda::Function", FUNCTION, "UPDATE_COMPLETE"),
                _summary("PreTrafficHookFunction", "AWS::Lambda::Function", HOOK, hook_status),
                _summary("Data", "AWS::CloudFormation::Stack", NESTED % "Data"),
                _summary("Deployment", "AWS::CloudFormation::Stack", NESTED % "Deployment"),
                _summary("Canary", "AWS::CloudFormation::Stack", NESTED % "Canary"),
                _summary("CodeSigningConfig", "AWS::Lambda::CodeSigningConfig", CSC),
                _summary("SearchIndexFunctionMoviesTableStream", "AWS::Lambda::EventSourceMapping", MAPPING),
            ],
            NESTED % "Data": [
                _summary("MoviesTable", "AWS::DynamoDB::Table", TABLE),
                _summary("TableKey", "AWS::KMS::Key", KEY_ID),
            ],
            NESTED % "Deployment": [
                _summary("MoviesFunctionAliasErrorsAlarm", "AWS::CloudWatch::Alarm", ALARMS["AliasErrors"]),
                _summary("AvailabilityFastBurnAlarm", "AWS::CloudWatch::CompositeAlarm", ALARMS["FastBurn"]),
            ],
            NESTED % "Canary": [_summary("ApiCanary", "AWS::Synthetics::Canary", f"{STACK}-api")],
        }
        for stack, summaries in listings.items():
            cfn.add_response("list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": stack})

        # the live alias: at the newest version, published with the last deploy's configuration
        live = "6" if "alias" in broken else "7"
        fn.add_response(
            "get_alias", {"Name": "live", "FunctionVersion": live}, {"FunctionName": FUNCTION, "Name": "live"}
        )
        fn.add_response(
            "list_versions_by_function",
            {"Versions": [{"Version": v} for v in ("$LATEST", "5", "6", "7")]},
            {"FunctionName": FUNCTION},
        )
        variables = {"TABLE_NAME": TABLE, "ENVIRONMENT": "dev", "REGION": REGION, "POWERTOOLS_LOG_LEVEL": "INFO"}
        stale = {"Environment": {"Variables": variables}} if "configuration" in broken else {}
        fn.add_response(
            "get_function_configuration", _configuration(live, **stale), {"FunctionName": FUNCTION, "Qualifier": live}
        )
        fn.add_response(
            "get_function_configuration", _configuration("$LATEST"), {"FunctionName": FUNCTION, "Qualifier": "$LATEST"}
        )

        stage = f"arn:aws:apigateway:{REGION}::/restapis/abc123/stages/dev"
        web_acl = {
            "Name": f"{STACK}-movies",
            "Id": "a1",
            "ARN": f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/{STACK}-movies/a1",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"},
        }
        acl = {} if "waf" in broken else {"WebACL": web_acl}
        self.stubs["wafv2"].add_response("get_web_acl_for_resource", acl, {"ResourceArn": stage})

        state = "FAILED" if "canary" in broken else "PASSED"
        runs = [
            {
                "Name": f"{STACK}-api",
                "Status": {"State": "FAILED"},
                "Timeline": {"Started": NOW - dt.timedelta(minutes=10)},
            },
            {"Name": f"{STACK}-api", "Status": {"State": state}, "Timeline": {"Started": NOW}},
        ]
        self.stubs["synthetics"].add_response(
            "get_canary_runs", {"CanaryRuns": runs}, {"Name": f"{STACK}-api", "MaxResults": 5}
        )

        alias_state = "ALARM" if "alarms" in broken else "OK"
        self.stubs["cloudwatch"].add_response(
            "describe_alarms",
            {"MetricAlarms": [{"AlarmName": ALARMS["AliasErrors"], "StateValue": alias_state}],
             "CompositeAlarms": [{"AlarmName": ALARMS["FastBurn"], "StateValue": "INSUFFICIENT_DATA"}]},
            {"AlarmNames": list(ALARMS.values()), "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
        )  # fmt: skip

        for client in ("machine", "reader"):
            self.stubs["cognito-idp"].add_response(
                "describe_user_pool_client",
                {"UserPoolClient": {"ClientId": client, "ClientSecret": f"{client}-secret-of-the-app-client"}},
                {"UserPoolId": POOL, "ClientId": client},
            )

        pitr = "DISABLED" if "backups" in broken else "ENABLED"
        self.stubs["dynamodb"].add_response(
            "describe_continuous_backups",
            {"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED",
                                              "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": pitr}}},
            {"TableName": TABLE},
        )  # fmt: skip

        # the search index's stream mapping
        result = "PROBLEM: Function call failed" if "mapping" in broken else "OK"
        fn.add_response(
            "get_event_source_mapping",
            {"UUID": MAPPING, "State": "Enabled", "LastProcessingResult": result},
            {"UUID": MAPPING},
        )

        # code signatures: the API function's live version and the hook's $LATEST
        for name, qualifier in ((FUNCTION, "live"), (HOOK, "$LATEST")):
            configuration = _configuration("7" if qualifier == "live" else "$LATEST", FunctionName=name)
            if "signature" in broken and name == HOOK:
                configuration.pop("SigningProfileVersionArn")
                configuration.pop("SigningJobArn")
            fn.add_response("get_function_configuration", configuration, {"FunctionName": name, "Qualifier": qualifier})
            fn.add_response("get_function_code_signing_config", {"CodeSigningConfigArn": CSC, "FunctionName": name},
                            {"FunctionName": name})  # fmt: skip
            fn.add_response(
                "get_code_signing_config",
                {"CodeSigningConfig": {"CodeSigningConfigId": "csc-0123456789abcdef0", "CodeSigningConfigArn": CSC,
                                       "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
                                       "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Warn"},
                                       "LastModified": "2026-11-28T12:00:00Z"}},
                {"CodeSigningConfigArn": CSC},
            )  # fmt: skip
            if not ("signature" in broken and name == HOOK):
                job = configuration["SigningJobArn"].rsplit("/", 1)[-1]
                self.stubs["signer"].add_response(
                    "describe_signing_job", {"jobId": job, "status": "Succeeded"}, {"jobId": job}
                )

        # the environment tag on what the execution role changes only under it
        api = f"arn:aws:apigateway:{REGION}::/restapis/abc123"
        api_tags = {"project": "mvdb"} if "tags" in broken else {"environment": "dev", "project": "mvdb"}
        self.stubs["apigateway"].add_response("get_tags", {"tags": api_tags}, {"resourceArn": api})
        self.stubs["apigateway"].add_response(
            "get_tags", {"tags": {"environment": "dev"}}, {"resourceArn": f"{api}/stages/dev"}
        )
        self.stubs["cognito-idp"].add_response(
            "describe_user_pool",
            {"UserPool": {"Id": POOL, "UserPoolTags": {"environment": "dev"}}},
            {"UserPoolId": POOL},
        )
        self.stubs["kms"].add_response(
            "list_resource_tags", {"Tags": [{"TagKey": "environment", "TagValue": "dev"}]}, {"KeyId": KEY_ID}
        )
        fn.add_response("list_tags", {"Tags": {"environment": "dev"}}, {"Resource": CSC})

    def http(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        """Cognito's token endpoint and API Gateway with the Cognito authorizer, as they answer."""
        self.http_calls.append((method, url))
        if url == TOKEN_URL:
            client = (
                "reader"
                if "reader" in __import__("base64").b64decode(headers["Authorization"][6:]).decode()
                else "machine"
            )
            return 200, json.dumps({"access_token": f"{client}-token", "token_type": "Bearer"}).encode()
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if method == "POST" and token == "reader-token":
            return 401, b'{"code":"unauthenticated"}'  # the token lacks movies/write
        return (200, b'{"items":[]}') if method == "GET" else (400, b'{"code":"validation-failed"}')

    def all_called(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def _lines(facts: list[Fact]) -> list[str]:
    return [str(fact) for fact in facts]


def _verified(broken: frozenset[str] = frozenset()) -> tuple[list[Fact], Recorded]:
    recorded = Recorded(broken)
    return verify(STACK, REGION, recorded, recorded.http), recorded


def test_a_healthy_stack_passes_every_fact_with_read_only_calls() -> None:
    facts, recorded = _verified()

    assert all(fact.ok for fact in facts), "\n".join(_lines(facts))
    recorded.all_called()  # and no call beyond the recorded ones (the Stubbers refuse any other)
    assert [fact.subject for fact in facts] == [
        "stacks", "live alias", "live version", "live version", "live version", "waf", "canary", "alarms",
        "auth", "auth", "table", "stream mapping", "code signature", "code signature", "environment tag",
    ]  # fmt: skip
    assert recorded.http_calls == [("POST", TOKEN_URL), ("GET", f"{API_URL}/movies?limit=1"),
                                   ("POST", TOKEN_URL), ("POST", f"{API_URL}/movies")]  # fmt: skip


@pytest.mark.parametrize(
    ("broken", "failing"),
    [
        ("stacks", "FAIL stacks: PreTrafficHookFunction (AWS::Lambda::Function) is UPDATE_FAILED"),
        ("alias", "FAIL live alias: serves version 6; the newest published is 7"),
        ("configuration", "FAIL live version: differs from $LATEST in ['Environment']"),
        ("waf", "FAIL waf: web ACL None protects the stage"),
        ("canary", "FAIL canary: mvdb-dev-api: last run FAILED"),
        ("alarms", "FAIL alarms: not healthy: {'mvdb-dev-alias-errors': 'ALARM'}"),
        ("backups", f"FAIL table: {TABLE}: point-in-time recovery DISABLED"),
        ("signature", f"FAIL code signature: {HOOK}:$LATEST carries no signature"),
        (
            "mapping",
            "FAIL stream mapping: SearchIndexFunctionMoviesTableStream: Enabled, "
            "last processing result 'PROBLEM: Function call failed'",
        ),
        (
            "tags",
            "FAIL environment tag: not tagged environment=dev (the execution role could not change them): "
            "{'REST API abc123': None}",
        ),
    ],
)
def test_each_broken_fact_is_reported_on_its_own_line(broken: str, failing: str) -> None:
    facts, _ = _verified(frozenset({broken}))

    assert next(line for line in _lines(facts) if line.startswith("FAIL")).startswith(failing)


def test_a_read_only_token_admitted_to_a_write_fails_the_auth_fact() -> None:
    recorded = Recorded()

    def admitting(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        if method == "POST" and url.endswith("/movies"):
            return 400, b"{}"  # the gateway let it through; only validation refused it
        return recorded.http(method, url, headers, body)

    facts = verify(STACK, REGION, recorded, admitting)

    assert "FAIL auth: a read-only token is refused on a write: POST /movies answered 400" in "\n".join(_lines(facts))


def test_make_verify_deploy_requires_a_stack_name() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "verify-deploy"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "STACK_NAME is required" in result.stdout
