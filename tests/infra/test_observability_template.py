"""Observability in the template: alarms that page, SLO burn rates, a dashboard of real metrics,
saved queries, a synthetic check, and a runbook entry for every alarm. Then CORS pre-flights, code
signing and SnapStart per environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
# The service's own metrics (src/mvdb/app.py, src/mvdb/observability.py): EMF in namespace mvdb.
EMF_METRICS = {
    "Latency", "Status2xx", "Status4xx", "Status5xx", "MovieCreated", "MovieUpdated",
    "MovieDeleted", "Conflicts", "ValidationFailures", "DynamoDBRetries", "ColdStart",
}  # fmt: skip
AWS_METRICS = {
    "AWS/ApiGateway": {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"},
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    "AWS/DynamoDB": {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ThrottledRequests", "SystemErrors",
                     "ReadThrottleEvents", "WriteThrottleEvents", "SuccessfulRequestLatency", "UserErrors"},
    "AWS/WAFV2": {"AllowedRequests", "BlockedRequests", "CountedRequests"},
    "CloudWatchSynthetics": {"SuccessPercent", "Failed", "Duration"},
}  # fmt: skip
REQUIRED_ALARMS = {
    "MoviesFunctionAliasErrorsAlarm": ("AWS/Lambda", "Errors"),
    "MoviesFunctionThrottlesAlarm": ("AWS/Lambda", "Throttles"),
    "MoviesFunctionDurationP99Alarm": ("AWS/Lambda", "Duration"),
    "MoviesFunctionConcurrencyAlarm": ("AWS/Lambda", "ConcurrentExecutions"),
    "MoviesApiServerErrorsAlarm": ("AWS/ApiGateway", "5XXError"),
    "MoviesApiLatencyP99Alarm": ("AWS/ApiGateway", "Latency"),
    "MoviesTableThrottlesAlarm": ("AWS/DynamoDB", "ThrottledRequests"),
    "MoviesTableSystemErrorsAlarm": ("AWS/DynamoDB", "SystemErrors"),
    "MoviesWebAclBlockedRequestsAlarm": ("AWS/WAFV2", "BlockedRequests"),
    "MoviesCanaryFailedAlarm": ("CloudWatchSynthetics", "SuccessPercent"),
}
BURN_RATE_WINDOWS = {  # alarm: (window in seconds, factor)
    "AvailabilityFastBurnLongWindowAlarm": (3600, 14.4),
    "AvailabilityFastBurnShortWindowAlarm": (300, 14.4),
    "AvailabilitySlowBurnLongWindowAlarm": (21600, 6.0),
    "AvailabilitySlowBurnShortWindowAlarm": (1800, 6.0),
}


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def deployed(request: pytest.FixtureRequest, template: Template) -> Template:
    """The translated template as one environment deploys it (canary on, an alarm email set)."""
    return template.with_parameters(Environment=request.param, AlarmEmail="ops@example.com", SyntheticCanary="Enabled")


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template.resources.items() if r["Type"] in ALARM_TYPES}


def _metrics_of(properties: dict[str, Any]) -> set[tuple[str, str]]:
    if "MetricName" in properties:
        return {(properties["Namespace"], properties["MetricName"])}
    return {
        (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in properties.get("Metrics", [])
        if "MetricStat" in m
    }


@pytest.mark.parametrize(("alarm", "metric"), sorted(REQUIRED_ALARMS.items()))
def test_each_required_alarm_watches_its_metric(template: Template, alarm: str, metric: tuple[str, str]) -> None:
    assert metric in _metrics_of(template.properties(alarm))


def test_every_paging_alarm_notifies_the_one_encrypted_topic(deployed: Template) -> None:
    topic, topic_resource = deployed.only("AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic_resource["Properties"]
    paging = [name for name, r in _alarms(deployed).items() if "Notifies nobody" not in str(r["Properties"])]
    assert len(paging) >= len(REQUIRED_ALARMS)
    for name in paging:
        if not deployed.exists(name):
            continue
        actions = deployed.resolve(deployed.properties(name).get("AlarmActions", []))
        assert actions == [{"Ref": topic}], f"{name} pages {actions}"


def test_every_alarm_says_what_to_do_and_links_its_runbook_entry(template: Template) -> None:
    for name, resource in _alarms(template).items():
        description = json.dumps(resource["Properties"]["AlarmDescription"])
        assert f"docs/operations.md#{name.lower()}" in description, name


def test_every_metric_alarm_chooses_how_to_treat_missing_data(template: Template) -> None:
    for name, resource in template.of_type("AWS::CloudWatch::Alarm").items():
        assert resource["Properties"]["TreatMissingData"] in {"breaching", "notBreaching", "ignore", "missing"}, name


@pytest.mark.parametrize(("alarm", "window"), sorted(BURN_RATE_WINDOWS.items()))
def test_burn_rate_alarms_use_the_stated_window_and_factor(
    template: Template, alarm: str, window: tuple[int, float]
) -> None:
    seconds, factor = window
    properties = template.properties(alarm)
    stats = {m["Id"]: m["MetricStat"] for m in properties["Metrics"] if "MetricStat" in m}
    expression = next(m["Expression"] for m in properties["Metrics"] if m.get("ReturnData"))
    assert {s["Metric"]["MetricName"] for s in stats.values()} == {"5XXError", "Count"}
    assert {s["Period"] for s in stats.values()} == {seconds}
    assert properties["EvaluationPeriods"] == 1
    assert float(properties["Threshold"]) == factor
    # errors / requests, over the 0.1% budget of a 99.9% SLO
    assert re.fullmatch(r"\(errors / requests\) / 0\.001", expression), expression


@pytest.mark.parametrize(
    ("composite", "windows"),
    [
        ("AvailabilityFastBurnAlarm", ("AvailabilityFastBurnLongWindowAlarm", "AvailabilityFastBurnShortWindowAlarm")),
        ("AvailabilitySlowBurnAlarm", ("AvailabilitySlowBurnLongWindowAlarm", "AvailabilitySlowBurnShortWindowAlarm")),
    ],
)
def test_a_burn_rate_alarm_fires_only_when_both_its_windows_burn(
    template: Template, composite: str, windows: tuple[str, str]
) -> None:
    rule = json.dumps(template.properties(composite)["AlarmRule"])
    assert " AND " in rule
    for window in windows:
        assert window in rule


def test_canary_deployments_roll_back_on_metric_alarms_of_the_function_the_api_and_the_slo(template: Template) -> None:
    _, group = template.only("AWS::CodeDeploy::DeploymentGroup")
    wired = [alarm["Name"] for alarm in group["Properties"]["AlarmConfiguration"]["Alarms"]]
    # Each is named by a Ref to an alarm of the application (followed across the nested stacks).
    names = {name["Ref"] for name in wired}
    assert names == {
        "MoviesFunctionAliasErrorsAlarm",
        "MoviesFunctionNewVersionErrorsAlarm",
        "MoviesApiServerErrorsAlarm",
        "AvailabilityFastBurnShortWindowAlarm",
    }
    # CodeDeploy reads alarm states with DescribeAlarms, which returns composite alarms only when asked for.
    assert {template.resource(name)["Type"] for name in names} == {"AWS::CloudWatch::Alarm"}


def _dashboard(template: Template) -> dict[str, Any]:
    body = template.properties("OperationsDashboard")["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    text = text[0] if isinstance(text, list) else text
    return dict(json.loads(re.sub(r"\$\{[^}]+\}", "1", text)))  # a number is valid JSON in and out of strings


def test_dashboard_shows_only_metrics_that_exist_in_the_stack(template: Template) -> None:
    widgets = [w for w in _dashboard(template)["widgets"] if w["type"] == "metric"]
    assert len(widgets) >= 8
    named, namespace = 0, ""
    for widget in widgets:
        for metric in widget["properties"]["metrics"]:
            first = metric[0]
            if isinstance(first, dict):  # an expression: a SEARCH of one namespace, or math over ids
                expression = first["expression"]
                for searched, name in re.findall(r'\{([\w/]+),[^}]*\} MetricName=\\?"(\w+)', expression):
                    assert name in (EMF_METRICS if searched == "mvdb" else AWS_METRICS[searched]), expression
                continue
            namespace = first if first != "." else namespace  # "." repeats the previous row's value
            name = metric[1]
            assert name in (EMF_METRICS if namespace == "mvdb" else AWS_METRICS[namespace]), (namespace, name)
            named += 1
    assert named >= 10


def test_dashboard_covers_traffic_errors_latency_concurrency_cold_starts_dynamodb_and_slo(template: Template) -> None:
    text = json.dumps(_dashboard(template)).lower()
    for topic in ("count", "5xxerror", "p99", "concurrentexecutions", "coldstart", "consumedreadcapacityunits",
                  "throttledrequests", "error budget"):  # fmt: skip
        assert topic in text, topic


def test_saved_queries_answer_the_common_questions(template: Template) -> None:
    queries = [r["Properties"]["QueryString"] for r in template.of_type("AWS::Logs::QueryDefinition").values()]
    text = json.dumps(queries)
    assert len(queries) >= 3
    assert "latency_ms" in text and "sort" in text  # slowest requests
    assert "route" in text and "status" in text  # errors by route
    assert "correlation_id" in text  # one request by its X-Request-Id


def test_the_synthetic_check_runs_every_5_minutes_and_can_be_turned_off(template: Template) -> None:
    canary = template.properties("ApiCanary")
    assert canary["Schedule"]["Expression"] == "rate(5 minutes)"
    # Synthetics traces actively only on syn-nodejs-2.0 or later; the canary runs on Python.
    assert canary["RunConfig"]["ActiveTracing"] is False
    assert template.parameters["CanaryRuntimeVersion"].startswith("syn-python-selenium-")
    assert "/health" in canary["Code"]["Script"] and "oauth2/token" in json.dumps(canary)
    assert template.with_parameters(SyntheticCanary="Disabled", Environment="prod").exists("ApiCanary") is False
    assert (
        template.with_parameters(SyntheticCanary="EnvironmentDefault", Environment="dev").exists("ApiCanary") is False
    )
    assert template.with_parameters(SyntheticCanary="EnvironmentDefault", Environment="prod").exists("ApiCanary")
    assert template.with_parameters(SyntheticCanary="Enabled", Environment="dev").exists("MoviesCanaryFailedAlarm")


def test_runbook_documents_exactly_the_alarms_of_the_template(template: Template) -> None:
    documented = set(re.findall(r"^### (\w+)", (PROJECT_ROOT / "docs" / "operations.md").read_text(), re.M))
    assert documented == set(_alarms(template)) | _alarms_of_nested_templates()


def _alarms_of_nested_templates() -> set[str]:
    """The alarms of infra/stacks/*.yaml as written (whether or not the root template uses them yet)."""
    from samtranslator.yaml_helper import yaml_parse

    return {
        name
        for path in (PROJECT_ROOT / "infra" / "stacks").glob("*.yaml")
        for name in _alarms(Template(yaml_parse(path.read_text(encoding="utf-8"))))
    }


# -- CORS pre-flights, code signing, SnapStart -------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "snapstart"), [("dev", "None"), ("staging", "PublishedVersions"), ("prod", "PublishedVersions")]
)
def test_snapstart_is_on_for_published_versions_outside_dev(
    template: Template, environment: str, snapstart: str
) -> None:
    function = template.with_parameters(Environment=environment)
    name, resource = next(
        (n, r)
        for n, r in function.of_type("AWS::Lambda::Function").items()
        if "mvdb.app.lambda_handler" in json.dumps(r)
    )
    assert function.resolve(resource["Properties"]["SnapStart"]) == {"ApplyOn": snapstart}, name


def test_snapstart_can_be_turned_on_in_dev_and_provisioned_concurrency_stays_off(template: Template) -> None:
    dev = template.with_parameters(Environment="dev", SnapStartInDev="true")
    assert dev.condition("UseSnapStart")
    for alias in template.of_type("AWS::Lambda::Alias").values():
        assert "ProvisionedConcurrencyConfig" not in alias["Properties"]


@pytest.mark.parametrize(("environment", "policy"), [("dev", "Warn"), ("staging", "Warn"), ("prod", "Enforce")])
def test_code_signing_is_enforced_in_prod_and_a_parameter_elsewhere(
    template: Template, environment: str, policy: str
) -> None:
    deployed = template.with_parameters(Environment=environment)
    _, config = deployed.only("AWS::Lambda::CodeSigningConfig")
    assert deployed.resolve(config["Properties"]["CodeSigningPolicies"])["UntrustedArtifactOnDeployment"] == policy
    for function in deployed.of_type("AWS::Lambda::Function").values():
        assert function["Properties"].get("CodeSigningConfigArn") == {"Ref": "CodeSigningConfig"}


def test_cors_origins_reach_the_function_and_only_pre_flights_skip_the_authorizer(template: Template) -> None:
    function = next(
        r for r in template.of_type("AWS::Lambda::Function").values() if "mvdb.app.lambda_handler" in json.dumps(r)
    )
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["CORS_ALLOW_ORIGINS"] == {"Ref": "CorsAllowOrigins"}
    assert template.document["Parameters"]["CorsAllowOrigins"].get("Default", "") == ""
