"""The project's cfn-lint rules (tools/cfn_lint_rules): each one fails its broken fixture.

Each fixture is the smallest template that breaks one service rule the resource schemas do not
carry (the rule module's docstring cites the API reference). cfn-lint runs once per test run, as
``make check-infra`` runs it (``--append-rules``, repository root on PYTHONPATH), over all the
fixtures (one process shared by the xdist workers, tests/shared_output.py: cfn-lint's start-up
costs more than a template); each test reads the findings for its fixture. That no rule, the
project's included, fires on the application's templates and their translation is the
``make check-infra`` step that lints them with the same command just before these tests run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_output import produced_once

pytestmark = [pytest.mark.infra, pytest.mark.slow, pytest.mark.xdist_group("cfn-lint-rules")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
RULES = PROJECT_ROOT / "tools" / "cfn_lint_rules"
LINT_TIMEOUT_S = 300

_FUNCTION = """
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
"""

FIXTURES = {
    # WAF refuses a custom response header named content-type (any case).
    "E9101": """
Resources:
  Acl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Scope: REGIONAL
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: acl}
      DataProtectionConfig:
        DataProtections: [{Field: {FieldType: SINGLE_HEADER, FieldKeys: [authorization]}, Action: HASH}]
      CustomResponseBodies:
        Limited: {ContentType: APPLICATION_JSON, Content: '{"status":429}'}
      Rules:
        - Name: Rate
          Priority: 0
          Statement: {RateBasedStatement: {AggregateKeyType: IP, Limit: 100}}
          Action:
            Block:
              CustomResponse:
                ResponseCode: 429
                CustomResponseBodyKey: Limited
                ResponseHeaders: [{Name: content-type, Value: application/problem+json}]
          VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: rate}
""",
    # Active tracing on a Python runtime (the default of a parameter).
    "E9102": """
Parameters:
  Runtime: {Type: String, Default: syn-python-selenium-14.0}
Resources:
  Canary:
    Type: AWS::Synthetics::Canary
    Properties:
      Name: check
      RuntimeVersion: !Ref Runtime
      ExecutionRoleArn: arn:aws:iam::111122223333:role/canary
      ArtifactS3Location: s3://bucket/runs
      Schedule: {Expression: rate(5 minutes)}
      RunConfig: {ActiveTracing: true, TimeoutInSeconds: 60}
      StartCanaryAfterCreation: true
      Code: {Handler: canary.handler, Script: "def handler(event, context): return 1"}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/cwsyn-check-${Canary.Id}
      RetentionInDays: 7
      KmsKeyId: arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-0000-4000-8000-000000000000
""",
    # A deprecated runtime, offered as a parameter's default.
    "E9103": """
Parameters:
  CanaryRuntimeVersion: {Type: String, Default: syn-python-selenium-5.1}
Resources:
  Handle: {Type: AWS::CloudFormation::WaitConditionHandle}
Outputs:
  Runtime: {Value: !Ref CanaryRuntimeVersion}
""",
    # Reserved 950 + 100 unreserved > the default quota of 1,000.
    "E9104": f"""
Parameters:
  Reserved: {{Type: Number, Default: 950}}
Resources:
{_FUNCTION}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      Role: !GetAtt Role.Arn
      LoggingConfig: {{LogGroup: app}}
      Code: {{ZipFile: "def handler(event, context): return 1"}}
      ReservedConcurrentExecutions: !Ref Reserved
""",
    # Enforce in prod, and a layer from a parameter that no Rule keeps out of prod.
    "E9105": f"""
Parameters:
  Environment: {{Type: String, AllowedValues: [dev, prod], Default: dev}}
  LayerArn: {{Type: String, Default: ""}}
Conditions:
  IsProd: !Equals [!Ref Environment, prod]
  HasLayer: !Not [!Equals [!Ref LayerArn, ""]]
Resources:
{_FUNCTION}
  Signing:
    Type: AWS::Lambda::CodeSigningConfig
    Properties:
      AllowedPublishers:
        SigningProfileVersionArns: [arn:aws:signer:us-east-1:111122223333:/signing-profiles/p/abcdefghij]
      CodeSigningPolicies: {{UntrustedArtifactOnDeployment: !If [IsProd, Enforce, Warn]}}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      Role: !GetAtt Role.Arn
      LoggingConfig: {{LogGroup: app}}
      Code: {{S3Bucket: bucket, S3Key: app.zip}}
      CodeSigningConfigArn: !Ref Signing
      Layers: !If [HasLayer, [!Ref LayerArn], !Ref AWS::NoValue]
""",
    # A composite alarm as a CodeDeploy rollback alarm.
    "E9106": """
Resources:
  Errors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  Unhealthy:
    Type: AWS::CloudWatch::CompositeAlarm
    Properties:
      AlarmRule: !Sub ALARM("${Errors}")
  Application: {Type: AWS::CodeDeploy::Application, Properties: {ComputePlatform: Lambda}}
  Group:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      ApplicationName: !Ref Application
      ServiceRoleArn: arn:aws:iam::111122223333:role/codedeploy
      DeploymentStyle: {DeploymentOption: WITH_TRAFFIC_CONTROL, DeploymentType: BLUE_GREEN}
      AlarmConfiguration:
        Enabled: true
        Alarms: [{Name: !Ref Unhealthy}]
""",
    # Two queries returning data (ReturnData defaults to true).
    "E9107": """
Resources:
  Burn:
    Type: AWS::CloudWatch::Alarm
    Properties:
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanThreshold
      Metrics:
        - {Id: errors, MetricStat: {Period: 300, Stat: Sum, Metric: {Namespace: AWS/ApiGateway, MetricName: 5XXError}}}
        - {Id: rate, Expression: errors / 300}
""",
    # A log group whose key does not admit CloudWatch Logs.
    "E9108": """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: [kms:DescribeKey]
            Resource: "*"
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 30
      KmsKeyId: !GetAtt Key.Arn
""",
    # An access log format without a request ID.
    "E9109": """
Resources:
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: api}}
  Deployment: {Type: AWS::ApiGateway::Deployment, Properties: {RestApiId: !Ref Api}}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: dev
      AccessLogSetting:
        DestinationArn: arn:aws:logs:us-east-1:111122223333:log-group:access
        Format: '{"status":"$context.status"}'
""",
    # A topic with a policy that admits CloudWatch from anywhere and never refuses plain HTTP.
    "E9110": """
Resources:
  Topic: {Type: AWS::SNS::Topic}
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: cloudwatch.amazonaws.com}, Action: sns:Publish, Resource: !Ref Topic}
""",
    # A log group kept forever, under no key of ours.
    "E9111": """
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /aws/apigateway/access
""",
    # A canary whose function's log group Lambda creates (its role may), with no retention or key.
    "E9112": """
Resources:
  CanaryRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: logs
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents]
                Resource: !Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/cwsyn-*
  Canary:
    Type: AWS::Synthetics::Canary
    Properties:
      Name: check
      RuntimeVersion: syn-python-selenium-14.0
      ExecutionRoleArn: !GetAtt CanaryRole.Arn
      ArtifactS3Location: s3://bucket/runs
      Schedule: {Expression: rate(5 minutes)}
      RunConfig: {TimeoutInSeconds: 60}
      StartCanaryAfterCreation: true
      Code: {Handler: canary.handler, Script: "def handler(event, context): return 1"}
""",
    # A key that CloudWatch Logs may use for every log group of the account.
    "E9113": """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: !Sub "logs.${AWS::Region}.amazonaws.com"}
            Action: [kms:Encrypt, kms:Decrypt, kms:GenerateDataKey]
            Resource: "*"
            Condition:
              ArnLike:
                kms:EncryptionContext:aws:logs:arn: arn:aws:logs:us-east-1:111122223333:log-group:*
""",
    # A rate limit per access token, whose key (the bearer token) WAF would keep in its logs and samples.
    "E9114": """
Resources:
  Acl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Scope: REGIONAL
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: false, CloudWatchMetricsEnabled: true, MetricName: acl}
      Rules:
        - Name: PerToken
          Priority: 0
          Statement:
            RateBasedStatement:
              AggregateKeyType: CUSTOM_KEYS
              CustomKeys: [{Header: {Name: Authorization, TextTransformations: [{Priority: 0, Type: NONE}]}}]
              Limit: 100
          Action: {Block: {}}
          VisibilityConfig: {SampledRequestsEnabled: false, CloudWatchMetricsEnabled: true, MetricName: token}
""",
    # Per-method throttling on a path written unencoded: UpdateStage refuses it.
    "E9115": """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: api
      Body:
        openapi: "3.0.1"
        info: {title: api, version: "1"}
        paths:
          /health: {get: {responses: {"200": {description: ok}}}}
  Deployment: {Type: AWS::ApiGateway::Deployment, Properties: {RestApiId: !Ref Api}}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: dev
      MethodSettings:
        - {ResourcePath: /health, HttpMethod: GET, ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10}
""",
    # A stream mapping left at Lambda's defaults (retries for the record's life, nothing kept); the
    # settings one by one: tests/infra/test_stream_mapping_rule.py.
    "E9116": """
Resources:
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: indexer
      EventSourceArn: arn:aws:dynamodb:us-east-1:111122223333:table/movies/stream/2026-11-30T00:00:00.000
      StartingPosition: TRIM_HORIZON
""",
    # A plan name built from a stack name keeps its hyphens; a validation window over a week.
    "E9117": """
Parameters:
  RootStackName: {Type: String}
  ValidationWindowHours: {Type: Number, MinValue: 1, MaxValue: 240, Default: 4}
Resources:
  Plan:
    Type: AWS::Backup::RestoreTestingPlan
    Properties:
      RestoreTestingPlanName: !Sub ${RootStackName}_movies
      ScheduleExpression: cron(0 6 ? * * *)
      RecoveryPointSelection: {Algorithm: LATEST_WITHIN_WINDOW, IncludeVaults: ["*"], RecoveryPointTypes: [SNAPSHOT]}
  Selection:
    Type: AWS::Backup::RestoreTestingSelection
    Properties:
      RestoreTestingPlanName: !Ref Plan
      RestoreTestingSelectionName: movies_table
      ProtectedResourceType: DynamoDB
      ProtectedResourceArns: ["*"]
      IamRoleArn: arn:aws:iam::111122223333:role/restore
      ValidationWindowHours: !Ref ValidationWindowHours
""",
    # A lock changeable for 1 day only, and backups kept shorter than the lock's minimum.
    "E9118": """
Parameters:
  RetentionDays: {Type: Number, Default: 7}
Resources:
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      BackupVaultName: movies
      LockConfiguration: {MinRetentionDays: 35, MaxRetentionDays: 3650, ChangeableForDays: 1}
  Plan:
    Type: AWS::Backup::BackupPlan
    Properties:
      BackupPlan:
        BackupPlanName: movies
        BackupPlanRule:
          - {RuleName: daily, TargetBackupVault: !Ref Vault, Lifecycle: {DeleteAfterDays: !Ref RetentionDays}}
""",
    # A table the stack may delete, without deletion protection, under the AWS managed key.
    "E9122": """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      SSESpecification: {SSEEnabled: true}
""",
    # Records locked 2,557 days, the current version expired after 30: delete markers hide them.
    "E9119": """
Parameters:
  RetentionDays: {Type: Number, Default: 2557}
Resources:
  AuditBucket:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockEnabled: true
      ObjectLockConfiguration:
        ObjectLockEnabled: Enabled
        Rule: {DefaultRetention: {Mode: COMPLIANCE, Days: !Ref RetentionDays}}
      VersioningConfiguration: {Status: Enabled}
      LifecycleConfiguration:
        Rules: [{Id: expire, Status: Enabled, ExpirationInDays: 30}]
""",
}


def _lint(paths: list[Path]) -> dict[str, set[str]]:
    """Path -> IDs of the project rules (E91xx/W91xx) that fired on it."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", "--append-rules", str(RULES), "--", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
        env=env,
        cwd=PROJECT_ROOT,
    )
    assert "E0002" not in result.stdout, result.stdout[-3000:]  # a rule that crashed
    found: dict[str, set[str]] = {str(path): set() for path in paths}
    for line in result.stdout.splitlines():
        match = re.match(r"^(?P<file>.+?):\d+:\d+:\d+:\d+:(?P<rule>[EW]91\d\d):", line)
        if match:
            found[match["file"]].add(match["rule"])
    return found


def _lint_fixtures(directory: Path) -> None:
    """Write every fixture to ``directory`` and lint them; writes ``findings.json``: {rule: [IDs that fired]}."""
    fixtures = {}
    for rule, body in FIXTURES.items():
        fixtures[rule] = directory / f"{rule}.yaml"
        fixtures[rule].write_text('AWSTemplateFormatVersion: "2010-09-09"\n' + body, encoding="utf-8")
    found = _lint(list(fixtures.values()))
    findings = {rule: sorted(found[str(path)]) for rule, path in fixtures.items()}
    (directory / "findings.json").write_text(json.dumps(findings), encoding="utf-8")


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    directory = produced_once(tmp_path_factory, "project-rule-findings", _lint_fixtures)
    found: dict[str, list[str]] = json.loads((directory / "findings.json").read_text(encoding="utf-8"))
    return found


def test_every_project_rule_has_a_fixture() -> None:
    ids = set()
    for module in RULES.glob("[a-z]*.py"):
        ids.update(re.findall(r'^    id = "([EW]91\d\d)"', module.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert ids == set(FIXTURES)


@pytest.mark.parametrize("rule", sorted(FIXTURES))
def test_each_rule_fails_its_broken_fixture_and_only_that_rule_fires(findings: dict[str, list[str]], rule: str) -> None:
    assert findings[rule] == [rule]
