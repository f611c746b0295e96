"""The stack's properties, one test each, asserted on the SAM template translated to CloudFormation.

Each test states a property of the stack and reads the resources CloudFormation would create
(``template``: the offline translation) or, where the property is about how the template is
written, the SAM source (``sam_template``). Parameters are evaluated per environment where a
property differs between dev, staging and prod.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mvdb.api.scopes import ALL_SCOPES, AUDIT_SCOPE, READ_SCOPE, WRITE_SCOPE
from tests.infra.cfn import NO_VALUE, Template, as_list, get_att, ref

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
FUNCTION_TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",  # a delete names its deleter on the item first (the audit trail)
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
}
# AWS offers no resource-level permissions for these: "*" is the narrowest resource there is.
ACTIONS_WITHOUT_RESOURCE_SCOPE = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "s3:ListAllMyBuckets",  # the Synthetics runtime of the canary
    "cloudwatch:PutMetricData",  # the canary's metrics; narrowed by a cloudwatch:namespace condition
    "backup:DescribeRestoreJob",  # the restore validation function; it acts on its own plan's jobs only
    "backup:PutRestoreValidationResult",
    "dynamodb:ListStreams",  # a stream mapping's role (Lambda's DynamoDB execution role permissions)
}


ANY_METHOD = "x-amazon-apigateway-any-method"  # API Gateway's ANY: every method a resource does not declare


def _api_operations(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """The translated API's methods, ``(method, resource path)``, without the ANY methods."""
    _, api = template.only("AWS::ApiGateway::RestApi")
    paths = api["Properties"]["Body"]["paths"]
    return {
        (method.upper(), path): operation
        for path, item in paths.items()
        for method, operation in item.items()
        if method != ANY_METHOD
    }


def _statements_of(template: Template, role: str) -> list[dict[str, Any]]:
    return [statement for name, _, statement in template.policy_statements() if name == role]


# -- the function ---------------------------------------------------------------------------------


def test_function_runs_python313_on_arm64(template: Template) -> None:
    function = template.properties("MoviesFunction")
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "mvdb.app.lambda_handler"


def test_function_deploys_the_artifact_make_build_writes(sam_template: Template) -> None:
    code_uri = sam_template.properties("MoviesFunction")["CodeUri"]
    # Relative to infra/: the zip tools.build.lambda_artifact writes, which `sam build` leaves as is.
    assert (PROJECT_ROOT / "infra" / code_uri).resolve() == PROJECT_ROOT / "build" / "lambda" / "mvdb.zip"
    hook_uri = sam_template.properties("PreTrafficHookFunction")["CodeUri"]
    assert (PROJECT_ROOT / "infra" / hook_uri).resolve() == PROJECT_ROOT / "build" / "lambda" / "pre-traffic-hook.zip"


def test_function_and_stage_are_traced(template: Template) -> None:
    assert template.properties("MoviesFunction")["TracingConfig"] == {"Mode": "Active"}
    _, stage = template.only("AWS::ApiGateway::Stage")
    assert stage["Properties"]["TracingEnabled"] is True


def test_function_environment_comes_from_the_stack_and_its_parameters(template: Template) -> None:
    variables = template.properties("MoviesFunction")["Environment"]["Variables"]
    assert template.resolve(variables["TABLE_NAME"]) == ref("MoviesTable")
    assert variables["READ_ONLY"] == ref("ReadOnly")
    assert variables["REGION"] == ref("AWS::Region")
    assert variables["ENVIRONMENT"] == ref("Environment")
    assert variables["POWERTOOLS_LOG_LEVEL"] == ref("LogLevel")
    assert variables["POWERTOOLS_SERVICE_NAME"] == "mvdb"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "mvdb"
    # The service's own scope check stays on behind the gateway's authorizer.
    assert variables["REQUIRE_AUTH"] == "true"
    assert variables["CORS_ALLOW_ORIGINS"] == ref("CorsAllowOrigins")  # the gateway responses' origin too
    # The OpenAPI document's token URL (Swagger UI's "Authorize") is the stack's own token endpoint.
    assert variables["TOKEN_URL"] == template.document["Outputs"]["TokenUrl"]["Value"]


def test_function_keeps_its_metrics_on_for_they_carry_its_access_log(template: Template) -> None:
    # Each request's access-log fields ride on its EMF document: with Powertools' metrics disabled
    # (POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV without it) the function writes no line per
    # request, and every 100th request one line holding the values of the last 99.
    variables = template.properties("MoviesFunction")["Environment"]["Variables"]
    assert not {"POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV"} & set(variables)


def test_every_function_skips_pydantic_plugin_discovery_at_init(template: Template) -> None:
    # Globals merge into each function's variables; a function declaring its own keeps this one.
    functions = template.of_type("AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        assert function["Properties"]["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"] == "__all__", logical_id


def test_a_cut_over_serves_and_grants_the_restored_table_and_nothing_else(template: Template) -> None:
    restored = "mvdb-prod-restored-202611300359"
    cut_over = template.with_parameters(ActiveTableName=restored)
    variables = cut_over.resolve(template.properties("MoviesFunction")["Environment"]["Variables"])
    assert variables["TABLE_NAME"] == restored
    (table_statement,) = [
        s for s in _statements_of(cut_over, "MoviesFunctionRole") if s["Sid"] == "ReadAndWriteTheMoviesTable"
    ]
    assert cut_over.resolve(table_statement["Resource"]) == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ActiveTableName}"
    }


def test_function_concurrency_is_reserved_from_a_parameter(template: Template) -> None:
    def reserved(function: str, value: str) -> Any:
        return (
            template.with_parameters(ReservedConcurrency=value)
            .resolve(template.properties(function))
            .get("ReservedConcurrentExecutions", NO_VALUE)
        )

    assert reserved("MoviesFunction", "25") == "25"
    assert reserved("PreTrafficHookFunction", "25") == 1
    # 0 would throttle every request: it means "reserve nothing" (accounts whose quota is 10).
    assert reserved("MoviesFunction", "0") is NO_VALUE
    assert reserved("PreTrafficHookFunction", "0") is NO_VALUE


def test_every_function_logs_to_a_log_group_of_the_stack(template: Template) -> None:
    functions = template.of_type("AWS::Lambda::Function")
    assert set(functions) == {
        "MoviesFunction",
        "PreTrafficHookFunction",
        "SearchIndexFunction",
        "AuditTrailFunction",
        "RestoreValidationFunction",
    }
    for name, function in functions.items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert group == ref(f"{name}LogGroup"), name
        assert template.resource(group["Ref"])["Type"] == "AWS::Logs::LogGroup"


def test_every_log_group_has_retention_and_kms(template: Template) -> None:
    log_groups = template.of_type("AWS::Logs::LogGroup")
    # API function, hook, search index function, audit trail function, API access log, WAF, canary,
    # restore validation, failed backup jobs' events
    assert len(log_groups) == 9
    for name, group in log_groups.items():
        properties = group["Properties"]
        assert properties["RetentionInDays"] == ref("LogRetentionDays"), name
        assert properties["KmsKeyId"] == get_att("ObservabilityKey", "Arn"), name
    assert int(template.parameters["LogRetentionDays"]) >= 365  # the safe default; dev lowers it


# -- the table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_table_has_pitr_sse_kms_and_deletion_protection_outside_dev(template: Template, environment: str) -> None:
    table = template.with_parameters(Environment=environment).resolve(template.properties("MoviesTable"))
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": get_att("MoviesTableKey", "Arn"),
    }
    assert table["DeletionProtectionEnabled"] is (environment != "dev")


def test_table_and_the_keys_that_encrypt_data_are_never_deleted_by_cloudformation(template: Template) -> None:
    # DeletionPolicy takes no parameter, so Retain holds everywhere (dev teardown: make destroy).
    for name in ("MoviesTable", "MoviesTableKey", "ObservabilityKey"):
        resource = template.resource(name)
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


def test_kms_keys_are_customer_managed_and_rotate(template: Template) -> None:
    keys = template.of_type("AWS::KMS::Key")
    assert set(keys) == {"MoviesTableKey", "ObservabilityKey", "DeadLetterQueueKey", "BackupVaultKey", "AuditBucketKey"}
    for name, key in keys.items():
        assert key["Properties"]["EnableKeyRotation"] is True, name


def test_table_shape_is_literal_yaml_without_intrinsics(written_templates: dict[str, Template]) -> None:
    # src/mvdb_local/table.py creates local tables from these three properties as written.
    table = written_templates["Data"].properties("MoviesTable")
    shape = json.dumps({key: table[key] for key in ("KeySchema", "AttributeDefinitions", "BillingMode")})
    assert "Ref" not in shape
    assert "Fn::" not in shape


# -- least privilege --------------------------------------------------------------------------------


def test_no_iam_statement_grants_wildcard_actions(template: Template) -> None:
    statements = list(template.policy_statements())
    assert len(statements) >= 10  # roles, and both key policies, were read
    for resource, kind, statement in statements:
        assert "NotAction" not in statement, f"{resource} ({kind}) {statement.get('Sid')} uses NotAction"
        if statement["Effect"] == "Deny":
            continue  # a wildcard in a Deny (e.g. the TLS-only bucket policy's s3:*) denies more, grants nothing
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, f"{resource} ({kind}) {statement.get('Sid')}: action {action}"


def test_wildcard_resources_only_where_aws_offers_nothing_narrower(template: Template) -> None:
    for resource, kind, statement in template.policy_statements():
        if kind == "key policy":
            continue  # in a key policy, Resource "*" means the key itself
        if "*" in as_list(statement.get("Resource", [])):
            assert set(as_list(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCE_SCOPE, f"{resource} {statement}"


def test_function_may_touch_only_its_table_the_search_index_and_their_key(template: Template) -> None:
    statements = _statements_of(template, "MoviesFunctionRole")
    by_service: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            by_service.setdefault(action.split(":")[0], []).append(statement)
    assert set(by_service) == {"dynamodb", "kms", "logs", "xray", "s3"}
    table_statement, index_statement, records_statement = {id(s): s for s in by_service["dynamodb"]}.values()
    assert set(table_statement["Action"]) == FUNCTION_TABLE_ACTIONS
    assert as_list(template.resolve(table_statement["Resource"])) == [get_att("MoviesTable", "Arn")]  # no indexes exist
    # The search index is read only: the search index function writes it.
    assert as_list(index_statement["Action"]) == ["dynamodb:Query"]
    assert as_list(index_statement["Resource"]) == [get_att("SearchIndexTable", "Arn")]
    # Idempotency-Key records: their item operations (tests/infra/test_idempotency_table.py).
    assert as_list(records_statement["Resource"]) == [get_att("IdempotencyTable", "Arn")]
    key_statement, audit_key_statement = {id(s): s for s in by_service["kms"]}.values()
    assert set(key_statement["Action"]) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    assert as_list(key_statement["Resource"]) == [get_att("MoviesTableKey", "Arn")]
    # The history route: list and read the audit trail's records, decrypt them; nothing else.
    assert as_list(audit_key_statement["Action"]) == ["kms:Decrypt"]
    assert as_list(audit_key_statement["Resource"]) == [get_att("AuditBucketKey", "Arn")]
    assert sorted(a for s in by_service["s3"] for a in as_list(s["Action"])) == ["s3:GetObject", "s3:ListBucket"]
    (logs_statement,) = {id(s): s for s in by_service["logs"]}.values()
    assert as_list(logs_statement["Resource"]) == [get_att("MoviesFunctionLogGroup", "Arn")]
    # Nothing but our own statements: no AWS managed policy with broader grants is attached.
    assert "ManagedPolicyArns" not in template.properties("MoviesFunctionRole")


def test_table_key_serves_only_dynamodb_in_this_account(template: Template) -> None:
    key_policy = template.properties("MoviesTableKey")["KeyPolicy"]
    data_statements = [s for s in key_policy["Statement"] if "kms:Decrypt" in as_list(s["Action"])]
    assert len(data_statements) == 1
    conditions = data_statements[0]["Condition"]["StringEquals"]
    assert conditions["kms:ViaService"] == {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}
    assert conditions["kms:CallerAccount"] == ref("AWS::AccountId")
    for statement in key_policy["Statement"]:
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}


def _api_permissions(template: Template) -> dict[str, Any]:
    """The alias's permissions for API Gateway (one per method), not the restore validation function's."""
    return {
        name: permission
        for name, permission in template.of_type("AWS::Lambda::Permission").items()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }


def test_api_may_invoke_only_the_live_alias(template: Template) -> None:
    permissions = _api_permissions(template)
    _, api = template.only("AWS::ApiGateway::RestApi")
    assert len(permissions) == sum(len(item) for item in api["Properties"]["Body"]["paths"].values())  # ANY too
    for name, permission in permissions.items():
        properties = permission["Properties"]
        assert properties["FunctionName"] == ref("MoviesFunctionAliaslive"), name
        assert properties["Principal"] == "apigateway.amazonaws.com", name
        assert properties["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == ref("MoviesApi"), name


def test_only_the_restore_completed_rule_may_invoke_the_restore_validation_function(template: Template) -> None:
    permissions = template.of_type("AWS::Lambda::Permission")
    (properties,) = [
        p["Properties"] for p in permissions.values() if p["Properties"]["Principal"] != "apigateway.amazonaws.com"
    ]
    assert properties["FunctionName"] == ref("RestoreValidationFunction")
    assert properties["Principal"] == "events.amazonaws.com"
    assert template.resolve(properties["SourceArn"]) == get_att("RestoreJobCompletedRule", "Arn")


# Lambda quotas: a function's (here the alias's) resource-based policy is at most 20 KB, not adjustable;
# beyond it AddPermission fails with PolicyLengthExceededException and the deploy with it. Each API method
# adds one statement, so the worst case is counted: the longest values each part of a statement can take.
LAMBDA_POLICY_LIMIT_BYTES = 20 * 1024
LONGEST = {
    "AWS::Partition": "aws-us-gov",
    "AWS::Region": "ap-southeast-5",
    "AWS::AccountId": "123456789012",
    "__ApiId__": "a" * 10,  # API Gateway's REST API ids
}
LONGEST_STATEMENT_ID = "s" * 100  # AddPermission's StatementId: 1-100 characters
LONGEST_FUNCTION_NAME = "f" * 64  # Lambda function names: 1-64 characters


def _worst_case_policy_bytes(permissions: Mapping[str, Any]) -> int:
    """The size of the policy Lambda keeps for ``permissions`` (AWS::Lambda::Permission resources of one
    alias), every name at its longest."""
    statements = []
    for name, permission in permissions.items():
        properties = permission["Properties"]
        pattern, variables = properties["SourceArn"]["Fn::Sub"]
        values = {**LONGEST, **{k: LONGEST[k] if v == ref("MoviesApi") else v for k, v in variables.items()}}
        source_arn = pattern
        for variable, value in values.items():
            source_arn = source_arn.replace("${" + variable + "}", value)
        assert "${" not in source_arn, name
        statements.append(
            {
                "Sid": LONGEST_STATEMENT_ID,
                "Effect": "Allow",
                "Principal": {"Service": properties["Principal"]},
                "Action": properties["Action"],
                "Resource": f"arn:{LONGEST['AWS::Partition']}:lambda:{LONGEST['AWS::Region']}:"
                f"{LONGEST['AWS::AccountId']}:function:{LONGEST_FUNCTION_NAME}:live",
                "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}},
            }
        )
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(policy, separators=(",", ":")).encode())


def test_the_live_alias_policy_fits_lambdas_20_kb_with_the_longest_names(template: Template) -> None:
    assert _worst_case_policy_bytes(_api_permissions(template)) <= LAMBDA_POLICY_LIMIT_BYTES


def test_the_policy_size_gate_refuses_twice_todays_methods(template: Template) -> None:
    permissions = _api_permissions(template)
    doubled = {**permissions, **{f"{name}Copy": permission for name, permission in permissions.items()}}

    assert _worst_case_policy_bytes(doubled) > LAMBDA_POLICY_LIMIT_BYTES


def test_every_role_of_the_application_carries_the_permissions_boundary_the_pipeline_passes(template: Template) -> None:
    # The bootstrap's execution role may create roles only with its boundary attached.
    roles = template.of_type("AWS::IAM::Role")
    assert {"MoviesFunctionRole", "PreTrafficHookFunctionRole", "CodeDeployServiceRole", "ApiCanaryRole"} <= set(roles)
    for name in roles:
        bounded = template.with_parameters(PermissionsBoundaryArn="arn:aws:iam::111122223333:policy/mvdb-boundary")
        assert bounded.resolve(template.properties(name))["PermissionsBoundary"] == (
            "arn:aws:iam::111122223333:policy/mvdb-boundary"
        ), name
        assert "PermissionsBoundary" not in template.resolve(template.properties(name)), name


# -- safe deployments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "config"),
    [
        ("dev", "CodeDeployDefault.LambdaAllAtOnce"),
        ("staging", "CodeDeployDefault.LambdaCanary10Percent5Minutes"),
        ("prod", "CodeDeployDefault.LambdaCanary10Percent5Minutes"),
    ],
)
def test_live_alias_and_deployment_group_roll_back_on_alarms(template: Template, environment: str, config: str) -> None:
    deployed = template.with_parameters(Environment=environment)
    alias_name, alias = deployed.only("AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == ref("MoviesFunction")
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == ref("PreTrafficHookFunction")

    group_name = update["DeploymentGroupName"]["Ref"]
    group = deployed.resolve(deployed.properties(group_name))
    assert group["DeploymentStyle"] == {"DeploymentOption": "WITH_TRAFFIC_CONTROL", "DeploymentType": "BLUE_GREEN"}
    sub, variables = group["DeploymentConfigName"]["Fn::Sub"]
    assert sub.replace("${ConfigName}", variables["ConfigName"]) == config
    rollback = group["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])
    alarms = {alarm["Name"]["Ref"] for alarm in group["AlarmConfiguration"]["Alarms"]}
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert {"MoviesFunctionAliasErrorsAlarm", "MoviesFunctionNewVersionErrorsAlarm"} <= alarms
    assert alias_name.startswith("MoviesFunctionAlias")


def test_errors_alarms_watch_the_live_alias_and_the_new_version(template: Template) -> None:
    def dimensions(alarm: str) -> dict[str, Any]:
        properties = template.properties(alarm)
        assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "Errors")
        assert properties["ComparisonOperator"] == "GreaterThanThreshold" and properties["Threshold"] == 0
        return {d["Name"]: d["Value"] for d in properties["Dimensions"]}

    alias = dimensions("MoviesFunctionAliasErrorsAlarm")
    assert alias == {"FunctionName": ref("MoviesFunction"), "Resource": {"Fn::Sub": "${MoviesFunction}:live"}}
    new_version = dimensions("MoviesFunctionNewVersionErrorsAlarm")
    version_id = template.only("AWS::Lambda::Version")[0]
    # The version's number, cut from its ARN (what Ref of a Lambda version returns).
    version_number = {"Fn::Select": [7, {"Fn::Split": [":", ref(version_id)]}]}
    assert new_version == {**alias, "ExecutedVersion": version_number}


def test_api_errors_alarm_watches_this_api_and_stage(template: Template) -> None:
    alarm = template.properties("MoviesApiServerErrorsAlarm")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Average")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    _, api = template.only("AWS::ApiGateway::RestApi")
    _, stage = template.only("AWS::ApiGateway::Stage")
    assert dimensions == {"ApiName": api["Properties"]["Name"], "Stage": stage["Properties"]["StageName"]}
    assert 0 < alarm["Threshold"] < 1  # a rate: the share of requests answered 5XX


def test_pre_traffic_hook_may_only_invoke_the_new_version_and_report_to_this_stacks_deployments(
    template: Template,
) -> None:
    hook = template.properties("PreTrafficHookFunction")
    # SAM's CodeDeploy role (AWSCodeDeployRoleForLambda) may invoke only CodeDeployHook_* functions.
    assert hook["FunctionName"] == {"Fn::Sub": "CodeDeployHook_${AWS::StackName}"}
    assert hook["Handler"] == "handler.lambda_handler"
    version_id = template.only("AWS::Lambda::Version")[0]
    assert hook["Environment"]["Variables"]["TARGET_FUNCTION_VERSION_ARN"] == ref(version_id)
    grants = {
        action: statement["Resource"]
        for statement in _statements_of(template, "PreTrafficHookFunctionRole")
        for action in as_list(statement["Action"])
    }
    assert grants["lambda:InvokeFunction"] == ref(version_id)
    assert grants["codedeploy:PutLifecycleEventHookExecutionStatus"] == {
        "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
        "${ServerlessDeploymentApplication}/*"
    }
    assert "ServerlessDeploymentApplication" in template.resources


# -- the API ------------------------------------------------------------------------------------


def _declared_operations() -> dict[tuple[str, str], str | None]:
    """Each operation the service declares (method, the gateway's resource path) and its scope."""
    from mvdb.api.http_api import create_app
    from mvdb.config import Settings

    api = create_app(Settings(table_name="routes", region="us-east-1"))
    # The gateway's resource for a title is greedy ({title+}): a title may hold '/', sent as %2F.
    return {(op.method, op.path.replace("{title}", "{title+}")): op.scope for op in api.operations}


def _gateway_scopes(operation: dict[str, Any]) -> str | None:
    """The scope the gateway's authorizer requires for an operation of the translated API, None when open."""
    (requirement,) = operation["security"]
    ((authorizer, scopes),) = requirement.items()
    if authorizer == "NONE":
        return None
    assert authorizer == "CognitoAuthorizer"
    (scope,) = scopes
    return str(scope)


def test_the_gateways_authorizer_scopes_are_the_scopes_the_routes_declare(template: Template) -> None:
    declared = _declared_operations()
    gateway = {route: _gateway_scopes(operation) for route, operation in _api_operations(template).items()}
    assert {route: declared.get(route, "not declared") for route in gateway} == gateway


def test_every_declared_operation_is_a_method_of_the_gateway(template: Template) -> None:
    assert set(_api_operations(template)) >= set(_declared_operations())


def test_every_resource_sends_the_methods_it_does_not_declare_to_the_function_without_a_token(
    template: Template,
) -> None:
    # So that the function answers them 405 with Allow (before any scope check: it reads nothing else).
    _, api = template.only("AWS::ApiGateway::RestApi")
    paths = api["Properties"]["Body"]["paths"]
    resources = {path for _, path in _declared_operations()}
    assert {path for path, item in paths.items() if ANY_METHOD in item} == resources
    for path in resources:
        assert paths[path][ANY_METHOD]["security"] == [{"NONE": []}], path
        assert "x-amazon-apigateway-integration" in paths[path][ANY_METHOD], path


def test_reads_need_the_read_scope_and_changes_the_write_scope(template: Template) -> None:
    secured = {route: _gateway_scopes(op) for route, op in _api_operations(template).items() if _gateway_scopes(op)}
    assert secured == {
        ("GET", "/movies"): READ_SCOPE,
        ("HEAD", "/movies"): READ_SCOPE,
        ("POST", "/movies"): WRITE_SCOPE,
        ("GET", "/movies/{year}/{title+}"): READ_SCOPE,
        ("HEAD", "/movies/{year}/{title+}"): READ_SCOPE,
        **{(method, "/movies/{year}/{title+}"): WRITE_SCOPE for method in ("PUT", "PATCH", "DELETE")},
        **{(method, "/audit/movies/{year}/{title+}"): AUDIT_SCOPE for method in ("GET", "HEAD")},
    }


def test_the_authorizer_trusts_only_this_stacks_user_pool(template: Template) -> None:
    _, api = template.only("AWS::ApiGateway::RestApi")
    scheme = api["Properties"]["Body"]["components"]["securitySchemes"]["CognitoAuthorizer"]
    assert scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [get_att("MoviesUserPool", "Arn")]
    assert scheme["name"] == "Authorization"


def test_stage_has_json_access_logs_and_throttling(template: Template) -> None:
    _, stage = template.only("AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == ref("Environment")
    access_log = properties["AccessLogSetting"]
    assert access_log["DestinationArn"] == get_att("MoviesApiAccessLogGroup", "Arn")
    fields = json.loads(access_log["Format"])  # one JSON object per request
    assert {"requestId", "ip", "httpMethod", "resourcePath", "status", "clientId", "wafStatus"} <= set(fields)
    assert "\n" not in access_log["Format"]
    assert not any("header" in value.lower() or "body" in value.lower() for value in fields.values())
    settings = _method_settings(template)[("*", "/*")]  # every method's default; data routes keep it
    assert settings["ThrottlingRateLimit"] == ref("ApiThrottlingRateLimit")
    assert settings["ThrottlingBurstLimit"] == ref("ApiThrottlingBurstLimit")
    assert settings["DataTraceEnabled"] is False  # request and response bodies never reach the logs
    for setting in properties["MethodSettings"]:
        assert setting.get("DataTraceEnabled", False) is False and setting.get("LoggingLevel", "OFF") == "OFF"


def _method_settings(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, ResourcePath as the stage writes it: /~1a~1b for /a/b) -> its settings."""
    _, stage = template.only("AWS::ApiGateway::Stage")
    return {(s["HttpMethod"], s["ResourcePath"]): s for s in stage["Properties"]["MethodSettings"]}


def _encoded(path: str) -> str:
    return "/" if path == "/" else "/" + path.replace("/", "~1")


def test_each_method_open_without_a_token_has_a_small_throttle_of_its_own(template: Template) -> None:
    # API Gateway throttles per method; the data routes keep the stage's rate (/*/*), and nothing
    # anyone may call without a token draws on a bucket the size of theirs.
    settings = _method_settings(template)
    open_methods = {
        route for route, operation in _api_operations(template).items() if operation["security"] == [{"NONE": []}]
    }
    # The service's open operations (HEAD beside each GET) and the CORS pre-flights, which browsers send
    # without a token; the ANY methods (the function's 405) are not operations and keep the stage's rate.
    preflights = {("OPTIONS", "/movies"), ("OPTIONS", "/movies/{year}/{title+}")}
    assert open_methods == {route for route, scope in _declared_operations().items() if scope is None} | preflights
    limits = {}
    for method, path in open_methods:
        setting = settings[(method, _encoded(path))]
        limits[(method, path)] = (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"])
    assert all(rate <= 10 and burst <= 20 for rate, burst in limits.values()), limits
    assert limits[("GET", "/health")] == min(limits.values())  # it reads the table
    assert set(settings) == {("*", "/*")} | {(m, _encoded(p)) for m, p in open_methods}


def test_gateway_errors_are_problem_json(template: Template) -> None:
    _, api = template.only("AWS::ApiGateway::RestApi")
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "THROTTLED",
    } <= set(responses)
    for name, response in responses.items():
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        body = response["responseTemplates"]["application/json"]
        # $context.error.messageString is a quoted JSON string: substitute one to check the shape.
        document = json.loads(body.replace("$context.error.messageString", '"message"'))
        assert {"type", "title", "detail", "code"} <= set(document), name
    unauthorized = json.loads(responses["UNAUTHORIZED"]["responseTemplates"]["application/json"])
    assert unauthorized["status"] == 401
    # API Gateway's Cognito authorizer answers a token lacking the method's scope with 401 too.
    assert "scope" in unauthorized["detail"]
    # "when access is denied by a custom or Amazon Cognito authorizer" (Gateway response types for API Gateway)
    access_denied = json.loads(responses["ACCESS_DENIED"]["responseTemplates"]["application/json"])
    assert (access_denied["status"], access_denied["code"]) == (403, "insufficient-scope")


@pytest.mark.parametrize(
    ("origins", "accepted"),
    [
        ("", True),
        ("https://app.example.com", True),
        ("https://a.example:8443,https://b.example", True),
        ("https://app.example.com/", False),  # an origin has no path: it would never equal a browser's Origin
        ("https://app.example.com,", False),
        ("https://o'clock.example", False),  # a quote would end the gateway responses' static value
        ("https://a.example, https://b.example", False),
        ("http://app.example.com", False),
        ("*", False),
    ],
)
def test_allowed_origins_are_serialised_https_origins(template: Template, origins: str, accepted: bool) -> None:
    # The function compares each with the request's Origin; the gateway responses quote the first as a static value.
    pattern = template.document["Parameters"]["CorsAllowOrigins"]["AllowedPattern"]
    assert (re.fullmatch(pattern, origins) is not None) is accepted


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ("", None),
        ("https://app.example.com", "'https://app.example.com'"),
        ("https://a.example,https://b.example", "'https://a.example'"),
    ],
)
def test_every_gateway_response_carries_the_request_id_and_cors_for_the_first_allowed_origin(
    translated_document: dict[str, Any], origins: str, allowed: str | None
) -> None:
    # As the function's responses do (mvdb.api.responses); a gateway response cannot choose by the request.
    from mvdb.api.responses import CORS_EXPOSED_HEADERS
    from mvdb_local.gateway_responses import evaluate

    (api,) = (r for r in translated_document["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi")
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    for name, response in evaluate(responses, translated_document, {"CorsAllowOrigins": origins}).items():
        headers = {k.removeprefix("gatewayresponse.header."): v for k, v in response["responseParameters"].items()}
        assert headers["X-Request-Id"] == "context.requestId", name
        assert headers.get("Access-Control-Allow-Origin") == allowed, name
        assert headers["Vary"] == "'Origin'", name
        assert set(headers["Access-Control-Expose-Headers"].strip("'").split(", ")) == set(CORS_EXPOSED_HEADERS), name


# -- auth ---------------------------------------------------------------------------------------


def test_resource_server_defines_movies_read_write_and_audit(template: Template) -> None:
    server = template.properties("MoviesResourceServer")
    assert server["UserPoolId"] == ref("MoviesUserPool")
    scopes = {f"{server['Identifier']}/{scope['ScopeName']}" for scope in server["Scopes"]}
    assert scopes == set(ALL_SCOPES)


@pytest.mark.parametrize(
    ("client", "scopes"),
    [("MachineClient", [READ_SCOPE, WRITE_SCOPE]), ("ReadOnlyClient", [READ_SCOPE]), ("AuditorClient", [AUDIT_SCOPE])],
)
def test_app_clients_use_client_credentials_with_a_secret(template: Template, client: str, scopes: list[str]) -> None:
    resource = template.resource(client)
    properties = resource["Properties"]
    assert properties["AllowedOAuthFlows"] == ["client_credentials"]
    assert properties["AllowedOAuthFlowsUserPoolClient"] is True
    assert properties["GenerateSecret"] is True
    assert properties["AllowedOAuthScopes"] == scopes
    assert "MoviesResourceServer" in as_list(resource["DependsOn"])  # scopes exist before clients


def test_user_pool_admits_no_sign_up_and_is_protected_outside_dev(template: Template) -> None:
    for environment in ENVIRONMENTS:
        pool = template.with_parameters(Environment=environment).resolve(template.properties("MoviesUserPool"))
        assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
        assert pool["DeletionProtection"] == ("INACTIVE" if environment == "dev" else "ACTIVE")


# -- WAF ----------------------------------------------------------------------------------------


def test_waf_is_associated_with_the_stage(template: Template) -> None:
    _, association = template.only("AWS::WAFv2::WebACLAssociation")
    properties = association["Properties"]
    stage_name, _ = template.only("AWS::ApiGateway::Stage")
    stage_arn = "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${MoviesApi}/stages/${" + stage_name + "}"
    assert properties["ResourceArn"] == {"Fn::Sub": stage_arn}
    assert properties["WebACLArn"] == get_att("MoviesWebAcl", "Arn")
    assert template.properties("MoviesWebAcl")["Scope"] == "REGIONAL"


def test_waf_applies_a_per_ip_rate_limit_and_the_managed_rule_sets(template: Template) -> None:
    acl = template.properties("MoviesWebAcl")
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": ref("WafRateLimitPerIp")}
    response = rules["RateLimitPerIp"]["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    # WAF refuses a content-type header ("any header name except for content-type", WAF API reference);
    # the body's ContentType sets it.
    assert {h["Name"].lower() for h in response["ResponseHeaders"]} == {"retry-after"}
    assert acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["ContentType"] == "APPLICATION_JSON"
    for managed in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        statement = rules[managed]["Statement"]["ManagedRuleGroupStatement"]
        assert statement == {"VendorName": "AWS", "Name": managed}
        assert rules[managed]["OverrideAction"] == {"None": {}}  # enforced, not merely counted
    priorities = [rule["Priority"] for rule in acl["Rules"]]
    assert len(set(priorities)) == len(priorities)


def test_waf_limits_each_access_token_after_each_address(template: Template) -> None:
    acl = template.properties("MoviesWebAcl")
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["RateLimitPerToken"]["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "CUSTOM_KEYS"
    assert rate["CustomKeys"] == [
        {"Header": {"Name": "authorization", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}
    ]
    assert rate["Limit"] == ref("WafRateLimitPerToken")
    assert (
        rules["RateLimitPerIp"]["Priority"]
        < rules["RateLimitPerToken"]["Priority"]
        < min(
            rules[name]["Priority"] for name in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
        )
    )
    response = rules["RateLimitPerToken"]["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert {h["Name"].lower(): h["Value"] for h in response["ResponseHeaders"]} == {"retry-after": "60"}
    body = json.loads(acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])
    assert (body["status"], body["code"]) == (429, "rate-limited")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_access_token_may_use_at_most_a_fifth_of_the_data_routes_rate(template: Template, environment: str) -> None:
    import shlex
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / "infra" / "samconfig.toml").read_text())
    overrides = dict(
        pair.split("=", 1) for pair in shlex.split(config[environment]["deploy"]["parameters"]["parameter_overrides"])
    )
    deployed = template.with_parameters(**overrides)
    per_five_minutes = float(deployed.parameters["ApiThrottlingRateLimit"]) * 300
    assert float(deployed.parameters["WafRateLimitPerToken"]) <= per_five_minutes / 5
    assert (
        float(template.parameters["WafRateLimitPerToken"]) <= float(template.parameters["ApiThrottlingRateLimit"]) * 60
    )


def test_waf_keeps_no_access_token_in_its_samples_or_logs(template: Template) -> None:
    protections = template.properties("MoviesWebAcl")["DataProtectionConfig"]["DataProtections"]
    assert {"Field": {"FieldType": "SINGLE_HEADER", "FieldKeys": ["authorization"]}, "Action": "HASH"} in protections
    assert not any(p.get("ExcludeRateBasedDetails") for p in protections)  # the per-token rule's key stays hashed


def test_waf_logs_blocked_requests_without_tokens(template: Template) -> None:
    _, logging = template.only("AWS::WAFv2::LoggingConfiguration")
    properties = logging["Properties"]
    assert properties["ResourceArn"] == get_att("MoviesWebAcl", "Arn")
    assert properties["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    (destination,) = properties["LogDestinationConfigs"]
    assert destination["Fn::Sub"].endswith(":log-group:${MoviesWebAclLogGroup}")
    assert template.properties("MoviesWebAclLogGroup")["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")


# -- outputs and conventions --------------------------------------------------------------------


def test_outputs_needed_by_the_deployed_tests_exist(template: Template) -> None:
    outputs = {name: output["Value"] for name, output in template.document["Outputs"].items()}
    stage_name, _ = template.only("AWS::ApiGateway::Stage")
    assert outputs["ApiUrl"] == {
        "Fn::Sub": f"https://${{MoviesApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{stage_name}}}"
    }
    assert outputs["TokenUrl"] == {
        "Fn::Sub": "https://${MoviesUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"
    }
    assert template.resolve(outputs["TableName"]) == ref("MoviesTable")
    assert outputs["UserPoolId"] == ref("MoviesUserPool")
    assert outputs["MachineClientId"] == ref("MachineClient")
    assert outputs["ReadOnlyClientId"] == ref("ReadOnlyClient")
    assert outputs["FunctionName"] == ref("MoviesFunction")
    assert outputs["FunctionAliasArn"] == ref(template.only("AWS::Lambda::Alias")[0])
    assert outputs["Region"] == ref("AWS::Region")


def test_every_checkov_skip_is_justified_next_to_its_resource(sam_template: Template) -> None:
    skips = [
        (name, skip)
        for name, resource in sam_template.resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "expected the documented skips (e.g. CKV_AWS_117 on the functions)"
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "").split()) >= 8, f"{name}: skip {skip['id']} needs a reason"


def test_template_sections_are_in_reading_order(template_path: Path) -> None:
    sections = re.findall(r"^([A-Z]\w+):", template_path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert sections == [
        "AWSTemplateFormatVersion",
        "Transform",
        "Description",
        "Parameters",
        "Rules",
        "Conditions",
        "Globals",
        "Resources",
        "Outputs",
    ]
