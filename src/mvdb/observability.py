"""Logger and metrics, configured once. Powertools reads its own settings from the environment:
``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``,
``POWERTOOLS_LOGGER_SAMPLE_RATE`` (the share of requests logged at DEBUG).

Metrics are CloudWatch embedded metric format (EMF) lines on stdout: no API calls, no agent.
Dimensions stay few — service, environment, route — so the number of metric series (and the
bill) is bounded by the number of routes.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["logger", "metrics", "metrics_sink"]

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "mvdb")

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "mvdb"), service=SERVICE_NAME)


class _MetricsSink:
    """What the domain and repository report, turned into metrics (they never import Powertools)."""

    def business_event(self, name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def dynamodb_retries(self, attempts: int) -> None:
        metrics.add_metric(name="DynamoDBRetries", unit=MetricUnit.Count, value=attempts)


metrics_sink = _MetricsSink()
