"""Project cfn-lint rule E9116: stream event source mappings retry boundedly, bisect, report items, keep what they drop.

cfn-lint runs as ``make check-infra`` runs it (``--append-rules tools/cfn_lint_rules``, the
repository root on PYTHONPATH), once over every fixture; each test reads its file's findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# One worker lints every fixture: under xdist each worker would build the module fixture (a cfn-lint run) itself.
pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("e9116")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")

_GOOD_MAPPING = {
    "MaximumRetryAttempts": "10",
    "MaximumRecordAgeInSeconds": "3600",
    "BisectBatchOnFunctionError": "true",
    "FunctionResponseTypes": "[ReportBatchItemFailures]",
    "DestinationConfig": "{OnFailure: {Destination: arn:aws:sqs:us-east-1:111122223333:dead-letters}}",
}


def _mapping(source: str, starting_position: bool = True, **properties: str) -> str:
    lines = "\n".join(f"      {name}: {value}" for name, value in properties.items())
    start = "      StartingPosition: TRIM_HORIZON\n" if starting_position else ""
    return f"""
Resources:
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: indexer
      EventSourceArn: {source}
{start}{lines}
"""


STREAM = "arn:aws:dynamodb:us-east-1:111122223333:table/movies/stream/2026-11-30T00:00:00.000"
FIXTURES = {
    "defaults": _mapping(STREAM),
    "good": _mapping(STREAM, **_GOOD_MAPPING),
    "unbounded-retries": _mapping(STREAM, **{**_GOOD_MAPPING, "MaximumRetryAttempts": "-1"}),
    "queue": _mapping("arn:aws:sqs:us-east-1:111122223333:jobs", starting_position=False),
    **{
        f"without-{name}": _mapping(STREAM, **{k: v for k, v in _GOOD_MAPPING.items() if k != name})
        for name in _GOOD_MAPPING
    },
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory, translated_document: dict[str, Any]) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("e9116")
    for name, text in FIXTURES.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    # The root as the SAM transform translates it (the suite's translation, made once per worker): the
    # search index function's DynamoDB event is a mapping there.
    (directory / "root.json").write_text(json.dumps(translated_document), encoding="utf-8")
    files = sorted(directory.iterdir())
    lint = [str(CFN_LINT), "--regions", "us-east-1", "--format", "parseable", "--append-rules", "tools/cfn_lint_rules"]
    result = subprocess.run(
        [*lint, "--", *map(str, files)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {path.stem: "\n".join(line for line in result.stdout.splitlines() if str(path) in line) for path in files}


def test_a_stream_mapping_left_at_the_defaults_is_refused(findings: dict[str, str]) -> None:
    assert "E9116" in findings["defaults"]


@pytest.mark.parametrize("missing", sorted(_GOOD_MAPPING))
def test_each_of_the_five_settings_is_required(findings: dict[str, str], missing: str) -> None:
    assert "E9116" in findings[f"without-{missing}"]
    assert missing.split("InSeconds")[0] in findings[f"without-{missing}"]


def test_unbounded_retries_are_refused(findings: dict[str, str]) -> None:
    assert "MaximumRetryAttempts" in findings["unbounded-retries"]


@pytest.mark.parametrize("fixture", ["good", "queue", "root"])
def test_a_mapping_with_all_five_and_a_queue_mapping_pass(findings: dict[str, str], fixture: str) -> None:
    assert "E9116" not in findings[fixture], findings[fixture]
