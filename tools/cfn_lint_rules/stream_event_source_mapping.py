"""E9116: a mapping from a DynamoDB or Kinesis stream retries boundedly, bisects, reports items, keeps what it drops.

Lambda developer guide, "Retaining discarded records for a DynamoDB event source in Lambda":
failed records are retried "until the records expire or exceed the maximum age ... or reach the
configured retry quota", and "With the default settings, this means that a bad record can block
processing on the affected shard for up to one day. To avoid this, configure your function's
event source mapping with a reasonable number of retries and a maximum record age". Without an
on-failure destination, what Lambda gives up on is dropped without a trace. And "Configuring
partial batch response with DynamoDB and Lambda": without ``ReportBatchItemFailures`` one failed
record makes Lambda retry the whole batch; ``BisectBatchOnFunctionError`` isolates a record that
fails the invocation. So every stream mapping states all four: ``MaximumRetryAttempts`` (0 to
10,000, not -1), ``MaximumRecordAgeInSeconds`` (60 to 604,800, not -1), ``BisectBatchOnFunctionError``
true, ``FunctionResponseTypes`` [ReportBatchItemFailures], and ``DestinationConfig.OnFailure``.
Run on the translation, where SAM's ``DynamoDB``/``Kinesis`` events are these mappings.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

_STREAM_SOURCES = (":dynamodb:", ":kinesis:")


def _from_a_stream(source: Any) -> bool:
    """Whether an EventSourceArn names a DynamoDB or Kinesis stream (a literal ARN or a reference to one)."""
    text = str(source)
    return any(marker in text for marker in _STREAM_SOURCES) or "Stream" in text


def _problems(properties: dict[str, Any]) -> list[str]:
    problems = []
    retries = properties.get("MaximumRetryAttempts")
    if not isinstance(retries, int) or retries < 0:
        problems.append("MaximumRetryAttempts bounded (0-10000; the default -1 retries for the record's whole life)")
    age = properties.get("MaximumRecordAgeInSeconds")
    if not isinstance(age, int) or age < 60:
        problems.append("MaximumRecordAgeInSeconds bounded (60-604800; the default -1 waits until the record expires)")
    if properties.get("BisectBatchOnFunctionError") not in (True, "true"):
        problems.append("BisectBatchOnFunctionError true")
    if "ReportBatchItemFailures" not in (properties.get("FunctionResponseTypes") or []):
        problems.append("FunctionResponseTypes [ReportBatchItemFailures]")
    if not ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
        problems.append("DestinationConfig.OnFailure.Destination (else what Lambda gives up on is dropped unseen)")
    return problems


class StreamEventSourceMapping(CloudFormationLintRule):
    id = "E9116"
    shortdesc = "Stream event source mappings: bounded retries and age, bisect, item failures, on-failure destination"
    description = "A stream mapping with defaults blocks its shard for up to a day and drops records unseen"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html"
    tags: ClassVar[list[str]] = ["resources", "lambda", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(["AWS::Lambda::EventSourceMapping"]).items():
            properties = resource.get("Properties") or {}
            if "StartingPosition" not in properties or not _from_a_stream(properties.get("EventSourceArn")):
                continue  # SQS and the other pollers have no shards to block
            problems = _problems(properties)
            if problems:
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties"],
                        f"{name}: a stream event source mapping needs " + "; ".join(problems),
                    )
                )
        return matches
