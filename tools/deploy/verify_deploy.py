"""Verify a deployed stack, read-only: ``make verify-deploy STACK_NAME=mvdb-dev`` (AWS_REGION set).

One line per fact, ``PASS`` or ``FAIL``, and exit status 0 only when every fact holds:

* every stack of the application (the root and its nested stacks) and every resource in them is
  CREATE_COMPLETE or UPDATE_COMPLETE;
* the ``live`` alias serves the newest published version and nothing else, that version was
  published with the configuration the last deploy passed (its description carries
  ``FunctionConfigurationSha256``), its configuration equals ``$LATEST``'s (what CloudFormation
  set from the template), and it runs what the template says (runtime, architecture, table,
  environment, log level from the stack's parameters);
* the WAF web ACL of the stack is associated with the API stage;
* the synthetic canary (where deployed) has run and its last run passed;
* every alarm of the application is OK or INSUFFICIENT_DATA;
* a client-credentials token of the machine client reads movies, and a token of the read-only
  client is refused on a write (API Gateway answers 401 for a token lacking the method's scope);
  the refused write never reaches the function, so nothing is written;
* point-in-time recovery is on for the table;
* every event source mapping (the search index's stream) is ``Enabled`` and its last processing
  result is not a ``PROBLEM`` (GetEventSourceMapping);
* each function's code carries a valid signature: made by a profile version its code signing
  config trusts, by a signing job that succeeded and was not revoked;
* the REST API, its stage, the user pool, every KMS key and every code signing config of the
  application carry the tag ``environment=<the stack's Environment>``: the pipeline's execution
  role changes them only under that tag (infra/bootstrap/execution-policies.yaml), so a resource
  without it cannot be updated by the next deploy, and one with another environment's tag would
  be that environment's to change.

Read-only AWS calls only (Describe*, Get*, List*), plus one token request and two API requests.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Fact", "Http", "StackFacts", "verify"]

COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
HEALTHY_ALARM_STATES = {"OK", "INSUFFICIENT_DATA"}
VERSIONED_CONFIGURATION = (
    "Runtime", "Handler", "MemorySize", "Timeout", "Role", "Environment", "TracingConfig", "Architectures",
    "CodeSha256", "Layers", "SnapStart", "LoggingConfig", "EphemeralStorage",
)  # fmt: skip
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Fact:
    ok: bool
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.subject}: {self.text}"


Http = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]  # (method, url, headers, body)


def urllib_http(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    """(status, body) of one HTTPS request."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise ValueError(f"refusing a request to {url}: https only")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310  # nosec B310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@dataclass
class StackFacts:
    """What the checks need to know about the deployed stack, read once."""

    name: str
    region: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: list[dict[str, Any]]  # every resource of every stack: LogicalResourceId, Type, PhysicalId, Status
    stacks: dict[str, str]  # stack name or ID -> status


def read_stack(cloudformation: Any, stack_name: str, region: str) -> StackFacts:
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    facts = StackFacts(
        name=stack_name,
        region=region,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        resources=[],
        stacks={stack_name: described["StackStatus"]},
    )
    pending = [stack_name]
    while pending:
        stack = pending.pop(0)
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
            for summary in page["StackResourceSummaries"]:
                resource = {
                    "LogicalResourceId": summary["LogicalResourceId"],
                    "Type": summary["ResourceType"],
                    "PhysicalId": summary.get("PhysicalResourceId", ""),
                    "Status": summary["ResourceStatus"],
                    "Stack": stack,
                }
                facts.resources.append(resource)
                if resource["Type"] == "AWS::CloudFormation::Stack" and resource["PhysicalId"]:
                    facts.stacks[resource["PhysicalId"]] = resource["Status"]
                    pending.append(resource["PhysicalId"])
    return facts


def _of_type(facts: StackFacts, *types: str) -> list[dict[str, Any]]:
    return [r for r in facts.resources if r["Type"] in types]


def check_stacks(facts: StackFacts) -> Iterator[Fact]:
    unfinished = [
        f"{r['LogicalResourceId']} ({r['Type']}) is {r['Status']}"
        for r in facts.resources
        if r["Status"] not in COMPLETE
    ]
    unfinished += [f"stack {s} is {status}" for s, status in facts.stacks.items() if status not in COMPLETE]
    if unfinished:
        yield from (Fact(False, "stacks", line) for line in unfinished)
    else:
        yield Fact(
            True, "stacks", f"{len(facts.stacks)} stacks and {len(facts.resources)} resources CREATE/UPDATE_COMPLETE"
        )


def _configuration(lambda_client: Any, function: str, qualifier: str) -> dict[str, Any]:
    return dict(lambda_client.get_function_configuration(FunctionName=function, Qualifier=qualifier))


def check_live_alias(facts: StackFacts, lambda_client: Any) -> Iterator[Fact]:
    function = facts.outputs["FunctionName"]
    alias = lambda_client.get_alias(FunctionName=function, Name="live")
    versions = [
        int(v["Version"])
        for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function)
        for v in page["Versions"]
        if v["Version"] != "$LATEST"
    ]
    live, newest = alias["FunctionVersion"], str(max(versions, default=0))
    weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights") or {}
    yield Fact(
        live == newest and not weights,
        "live alias",
        f"serves version {live}" + (f" and {weights}" if weights else "") + f"; the newest published is {newest}",
    )
    published = _configuration(lambda_client, function, live)
    latest = _configuration(lambda_client, function, "$LATEST")
    expected_description = f"configuration {facts.parameters.get('FunctionConfigurationSha256', '?')}"
    yield Fact(
        published.get("Description") == expected_description,
        "live version",
        f"published with {published.get('Description')!r}; the stack's last deploy passed {expected_description!r}",
    )
    differing = sorted(key for key in VERSIONED_CONFIGURATION if published.get(key) != latest.get(key))
    yield Fact(
        not differing,
        "live version",
        "configuration equals $LATEST (what CloudFormation set from the template)"
        if not differing
        else f"differs from $LATEST in {differing}: a configuration change never reached the alias",
    )
    variables = published.get("Environment", {}).get("Variables", {})
    expected = {
        "Runtime": ("python3.13", published.get("Runtime")),
        "Architectures": (["arm64"], published.get("Architectures")),
        "TABLE_NAME": (facts.outputs.get("TableName"), variables.get("TABLE_NAME")),
        "ENVIRONMENT": (facts.parameters.get("Environment"), variables.get("ENVIRONMENT")),
        "POWERTOOLS_LOG_LEVEL": (facts.parameters.get("LogLevel"), variables.get("POWERTOOLS_LOG_LEVEL")),
        "REGION": (facts.region, variables.get("REGION")),
    }
    wrong = {name: found for name, (want, found) in expected.items() if want != found}
    yield Fact(
        not wrong,
        "live version",
        "runs python3.13 on arm64 against the stack's table, environment, region and log level"
        if not wrong
        else f"does not match the template and parameters: {wrong}",
    )


def _stage_arn(api_url: str, region: str) -> str:
    match = re.match(r"^https://([a-z0-9]+)\.execute-api\.[^/]+/([^/]+)/?$", api_url)
    if not match:
        raise ValueError(f"ApiUrl {api_url!r} is not an execute-api stage URL")
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:apigateway:{region}::/restapis/{match[1]}/stages/{match[2]}"


def check_waf(facts: StackFacts, wafv2: Any) -> Iterator[Fact]:
    stage = _stage_arn(facts.outputs["ApiUrl"], facts.region)
    acl = wafv2.get_web_acl_for_resource(ResourceArn=stage).get("WebACL")
    expected = f"{facts.name}-movies"
    yield Fact(
        bool(acl) and acl.get("Name") == expected,
        "waf",
        f"web ACL {acl.get('Name') if acl else None!r} protects the stage (expected {expected!r})",
    )


def check_canary(facts: StackFacts, synthetics: Any) -> Iterator[Fact]:
    canaries = _of_type(facts, "AWS::Synthetics::Canary")
    if not canaries:
        yield Fact(True, "canary", "not deployed in this environment (SyntheticCanary)")
        return
    for canary in canaries:
        runs = synthetics.get_canary_runs(Name=canary["PhysicalId"], MaxResults=5).get("CanaryRuns", [])
        latest = max(runs, key=lambda run: run.get("Timeline", {}).get("Started", 0), default=None)
        last = latest["Status"] if latest else {}
        yield Fact(
            bool(runs) and last.get("State") == "PASSED",
            "canary",
            f"{canary['PhysicalId']}: "
            + (
                f"last run {last.get('State')} ({last.get('StateReason', '')})".rstrip(" ()")
                if runs
                else "has not run yet"
            ),
        )


def check_alarms(facts: StackFacts, cloudwatch: Any) -> Iterator[Fact]:
    names = [r["PhysicalId"] for r in _of_type(facts, *ALARM_TYPES)]
    states: dict[str, str] = {}
    for start in range(0, len(names), 100):
        described = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for alarm in [*described.get("MetricAlarms", []), *described.get("CompositeAlarms", [])]:
            states[alarm["AlarmName"]] = alarm["StateValue"]
    bad = {name: states.get(name, "MISSING") for name in names if states.get(name) not in HEALTHY_ALARM_STATES}
    yield Fact(
        not bad,
        "alarms",
        f"{len(names)} alarms OK or INSUFFICIENT_DATA" if not bad else f"not healthy: {bad}",
    )


def _token(http: Http, token_url: str, client_id: str, secret: str, scope: str) -> tuple[int, str]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    status, body = http("POST", token_url, headers, form)
    token = json.loads(body).get("access_token", "") if status == 200 else ""
    return status, str(token)


def check_tokens(facts: StackFacts, cognito: Any, http: Http) -> Iterator[Fact]:
    pool, api = facts.outputs["UserPoolId"], facts.outputs["ApiUrl"].rstrip("/")

    def secret(client_id: str) -> str:
        return str(
            cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client_id)["UserPoolClient"]["ClientSecret"]
        )

    machine, reader = facts.outputs["MachineClientId"], facts.outputs["ReadOnlyClientId"]
    status, token = _token(http, facts.outputs["TokenUrl"], machine, secret(machine), "movies/read movies/write")
    if not token:
        yield Fact(False, "auth", f"the token endpoint answered {status} to the machine client")
    else:
        status, _ = http("GET", f"{api}/movies?limit=1", {"Authorization": f"Bearer {token}"}, None)
        yield Fact(status == 200, "auth", f"a machine-client token reads movies: GET /movies answered {status}")
    status, token = _token(http, facts.outputs["TokenUrl"], reader, secret(reader), "movies/read")
    if not token:
        yield Fact(False, "auth", f"the token endpoint answered {status} to the read-only client")
        return
    # An empty body: were the write admitted by mistake, validation would refuse it (nothing is created).
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, _ = http("POST", f"{api}/movies", headers, b"{}")
    yield Fact(
        status == 401,
        "auth",
        f"a read-only token is refused on a write: POST /movies answered {status} (API Gateway answers 401 for a "
        "token lacking the method's scope)",
    )


def check_backups(facts: StackFacts, dynamodb: Any) -> Iterator[Fact]:
    table = facts.outputs["TableName"]
    recovery = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = recovery.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    yield Fact(status == "ENABLED", "table", f"{table}: point-in-time recovery {status}")


def check_stream_mappings(facts: StackFacts, lambda_client: Any) -> Iterator[Fact]:
    """Each event source mapping is ``Enabled`` and its last processing result is no ``PROBLEM``.

    Lambda's GetEventSourceMapping: ``State`` is one of Creating, Enabling, Enabled, Disabling,
    Disabled, Updating, Deleting; ``LastProcessingResult`` is the result of the last invocation
    (``PROBLEM: ...`` when Lambda could not invoke the function or read the source).
    """
    for mapping in _of_type(facts, "AWS::Lambda::EventSourceMapping"):
        described = lambda_client.get_event_source_mapping(UUID=mapping["PhysicalId"])
        state, result = described.get("State"), described.get("LastProcessingResult", "")
        healthy = state == "Enabled" and not result.upper().startswith("PROBLEM")
        yield Fact(
            healthy, "stream mapping", f"{mapping['LogicalResourceId']}: {state}, last processing result {result!r}"
        )


def check_signatures(facts: StackFacts, lambda_client: Any, signer: Any) -> Iterator[Fact]:
    for function in _of_type(facts, "AWS::Lambda::Function"):
        name = function["PhysicalId"]
        # The API function's code is what its live alias serves; the hook runs $LATEST.
        qualifier = "live" if name == facts.outputs.get("FunctionName") else "$LATEST"
        configuration = _configuration(lambda_client, name, qualifier)
        profile, job = configuration.get("SigningProfileVersionArn"), configuration.get("SigningJobArn")
        config_arn = lambda_client.get_function_code_signing_config(FunctionName=name).get("CodeSigningConfigArn")
        trusted: list[str] = []
        if config_arn:
            allowed = lambda_client.get_code_signing_config(CodeSigningConfigArn=config_arn)["CodeSigningConfig"]
            trusted = allowed["AllowedPublishers"]["SigningProfileVersionArns"]
        if not profile or not job:
            yield Fact(False, "code signature", f"{name}:{qualifier} carries no signature")
            continue
        described = signer.describe_signing_job(jobId=job.rsplit("/", 1)[-1])
        revoked = described.get("revocationRecord")
        ok = profile in trusted and described.get("status") == "Succeeded" and not revoked
        yield Fact(
            ok,
            "code signature",
            f"{name}:{qualifier} signed by {profile.rsplit('/', 2)[-2]} (job {described.get('status')}"
            + (", REVOKED" if revoked else "")
            + (
                ", trusted by its code signing config)"
                if profile in trusted
                else ", NOT trusted by its code signing config)"
            ),
        )


def _api_arns(facts: StackFacts) -> tuple[str, str]:
    stage = _stage_arn(facts.outputs["ApiUrl"], facts.region)
    return stage.split("/stages/")[0], stage


def check_environment_tags(facts: StackFacts, clients: Callable[[str], Any]) -> Iterator[Fact]:
    environment = facts.parameters.get("Environment", "")
    api, stage = _api_arns(facts)
    apigateway = clients("apigateway")
    pool = facts.outputs["UserPoolId"]
    tags: dict[str, dict[str, str]] = {
        f"REST API {api.rsplit('/', 1)[-1]}": apigateway.get_tags(resourceArn=api).get("tags", {}),
        f"stage {stage.rsplit('/', 1)[-1]}": apigateway.get_tags(resourceArn=stage).get("tags", {}),
        f"user pool {pool}": clients("cognito-idp")
        .describe_user_pool(UserPoolId=pool)["UserPool"]
        .get("UserPoolTags", {}),
    }
    for key in _of_type(facts, "AWS::KMS::Key"):
        listed = clients("kms").list_resource_tags(KeyId=key["PhysicalId"]).get("Tags", [])
        tags[f"key {key['LogicalResourceId']}"] = {tag["TagKey"]: tag["TagValue"] for tag in listed}
    for config in _of_type(facts, "AWS::Lambda::CodeSigningConfig"):
        listed = clients("lambda").list_tags(Resource=config["PhysicalId"]).get("Tags", {})
        tags[f"code signing config {config['LogicalResourceId']}"] = listed
    wrong = {name: found.get("environment") for name, found in tags.items() if found.get("environment") != environment}
    yield Fact(
        not wrong,
        "environment tag",
        f"{len(tags)} resources tagged environment={environment}"
        if not wrong
        else f"not tagged environment={environment} (the execution role could not change them): {wrong}",
    )


def verify(stack_name: str, region: str, clients: Callable[[str], Any], http: Http = urllib_http) -> list[Fact]:
    """Every fact about ``stack_name``, in the order the module docstring lists them."""
    facts = read_stack(clients("cloudformation"), stack_name, region)
    lambda_client = clients("lambda")
    checks: list[Callable[[], Iterator[Fact]]] = [
        lambda: check_stacks(facts),
        lambda: check_live_alias(facts, lambda_client),
        lambda: check_waf(facts, clients("wafv2")),
        lambda: check_canary(facts, clients("synthetics")),
        lambda: check_alarms(facts, clients("cloudwatch")),
        lambda: check_tokens(facts, clients("cognito-idp"), http),
        lambda: check_backups(facts, clients("dynamodb")),
        lambda: check_stream_mappings(facts, lambda_client),
        lambda: check_signatures(facts, lambda_client, clients("signer")),
        lambda: check_environment_tags(facts, clients),
    ]
    results: list[Fact] = []
    for check in checks:
        try:
            results.extend(check())
        except Exception as error:  # one failing check (a denied call, a missing output) must not hide the others
            results.append(Fact(False, "check", f"{type(error).__name__}: {error}"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a deployed stack, read-only: one line per fact.")
    parser.add_argument("--stack", required=True, help="the stack name (e.g. mvdb-dev)")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session(region_name=args.region)
    if not session.region_name:
        print("error: no region: set AWS_REGION or pass --region", file=sys.stderr)
        return 2
    results = verify(args.stack, session.region_name, session.client)
    print("\n".join(str(fact) for fact in results))
    failed = sum(not fact.ok for fact in results)
    print(f"{len(results) - failed} of {len(results)} facts hold" + (f"; {failed} FAILED" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
