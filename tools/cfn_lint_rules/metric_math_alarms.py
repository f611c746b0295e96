"""E9107: a metric-math alarm returns exactly one time series.

CloudWatch API reference, PutMetricAlarm / MetricDataQuery.ReturnData: "When used in
PutMetricAlarm, specify true for the one expression result to use as the alarm. For all other
metrics and expressions in the same PutMetricAlarm operation, specify ReturnData as False."
ReturnData defaults to true, so every query but one must say false.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch


class MetricMathReturnsOneSeries(CloudFormationLintRule):
    id = "E9107"
    shortdesc = "Metric-math alarms: exactly one query with ReturnData true"
    description = "PutMetricAlarm takes one returned series: ReturnData true on one query, false on the others"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html"
    tags: ClassVar[list[str]] = ["resources", "cloudwatch", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(["AWS::CloudWatch::Alarm"]).items():
            metrics = (resource.get("Properties") or {}).get("Metrics")
            if not isinstance(metrics, list):
                continue
            returned = [
                m.get("Id") for m in metrics if isinstance(m, dict) and m.get("ReturnData", True) in (True, "true")
            ]
            if len(returned) != 1:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "Metrics"],
                        f"{name}: {len(returned)} queries return data ({returned}); an alarm needs exactly one "
                        "(ReturnData defaults to true)",
                    )
                )
        return matches
