"""The offline gates fail on a broken template: each test breaks a copy and runs the real gates on it.

A gate that passes everything proves nothing. Each mutation below is a mistake the gates exist
to stop; the test copies ``infra/`` (the root template and its nested ones) to a temporary
directory, applies the mistake to one file, translates the copy as ``make check-infra`` does,
and runs the gates that must catch it:

* the assertion gate: this suite's ``test_template.py``, run in a pytest process of its own
  against the copy (``MVDB_INFRA_TEMPLATE``), must fail, and fail exactly the tests that guard
  the broken property;
* checkov (``--skip-download``) on the copy and its translation;
* cfn-lint on the translation, and with the project rules (``tools/cfn_lint_rules``) on the copy.

Not every tool catches every mistake, and the tests say which one does: checkov 3.3 does not
flag a service-wide wildcard (``dynamodb:*``) on a named resource, and cfn-lint on the SAM
source does not see a bad ``!Ref`` inside a SAM resource; the assertion gate and the
translation are there for exactly those.

The mutants that cfn-lint must catch are linted together, in one cfn-lint process shared by the
xdist workers (tests/shared_output.py): its start-up, loading every resource schema, costs more
than linting a template. Each test still reads the findings of its own mutant's files, and only
those files are linted (and a mutant translated only when its translation is read): the others
are the unbroken templates ``make check-infra`` lints, and each translation costs ~4 s of CPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.conftest import OFFLINE_PARAMETERS, TEMPLATE_ENV
from tests.shared_output import produced_once
from tools.build.sam_translate import translate_file

pytestmark = [pytest.mark.infra, pytest.mark.slow, pytest.mark.xdist_group("gates-bite")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INFRA = PROJECT_ROOT / "infra"
CHECKOV = PROJECT_ROOT / ".tools" / "checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
GATE_TIMEOUT_S = 240


@dataclass(frozen=True)
class Mutant:
    sam: Path  # the copy's root template
    translated: Path  # written only by _mutant(..., translated=True)
    mutated: Path  # the file the mistake is in


def _mutant(
    tmp_path: Path, old: str, new: str, file: str = "template.yaml", *more: tuple[str, str], translated: bool = False
) -> Mutant:
    """A copy of infra/ with ``old`` replaced by ``new`` (and each of ``more``) in ``file`` (relative to
    infra/); translated as ``make check-infra`` translates if ``translated`` (the assertion gate
    translates the copy itself)."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    mutated = copy / file
    text = mutated.read_text(encoding="utf-8")
    for before, after in ((old, new), *more):
        assert text.count(before) == 1, f"the mutation no longer applies to infra/{file}: {before!r}"
        text = text.replace(before, after)
    mutated.write_text(text, encoding="utf-8")
    translation = tmp_path / "template.json"
    if translated:
        translate_file(copy / "template.yaml", translation, parameter_values=OFFLINE_PARAMETERS)
    return Mutant(copy / "template.yaml", translation, mutated)


_TOKEN_RATE_LIMITED_HEADERS = (
    "CustomResponseBodyKey: TokenRateLimited\n                ResponseHeaders:\n                  - Name: "
)

# Mistakes cfn-lint must catch: mutant name -> (file under infra/, text, its broken replacement).
LINTED_MUTANTS = {
    "waf-content-type-header": (  # the per-token rule's response (the edge has two Retry-After headers)
        "stacks/edge.yaml",
        _TOKEN_RATE_LIMITED_HEADERS + "Retry-After\n",
        _TOKEN_RATE_LIMITED_HEADERS + "Content-Type\n",
    ),
    "python-canary-tracing": ("stacks/canary.yaml", "ActiveTracing: false", "ActiveTracing: true"),
    "composite-rollback-alarm": (
        "stacks/alarms.yaml",
        "    Value: !Ref AvailabilityFastBurnShortWindowAlarm\n",
        "    Value: !Ref AvailabilityFastBurnAlarm\n",
    ),
    "tracing-layer-in-prod": (
        "template.yaml",
        '      - Assert: !Equals [!Ref TracingLayerArn, ""]\n',
        "      - Assert: !Equals [!Ref TracingLayerArn, !Ref TracingLayerArn]\n",
    ),
    "bad-ref-in-a-sam-resource": (
        "template.yaml",
        "TABLE_NAME: !GetAtt Data.Outputs.ActiveTableName\n",
        "TABLE_NAME: !Ref MoviesTabel\n",
    ),
}

# The edge and its secrets: each class of defect a project rule guards, put back into the templates.
# mutant name -> (file under infra/, text, its broken replacement, the rule that must catch it).
EDGE_MUTANTS = {
    # The alarm topic without its TLS-only statement.
    "alarm-topic-takes-plain-http": (
        "stacks/telemetry.yaml",
        "          - Sid: TlsOnly\n            Effect: Deny\n",
        "          - Sid: TlsOnly\n            Effect: Allow\n",
        "E9110",
    ),
    # The observability key admitting every log group of the account again.
    "key-admits-every-log-group": (
        "stacks/telemetry.yaml",
        "log-group:/aws/apigateway/${RootStackName}/access\n",
        "log-group:*\n",
        "E9113",
    ),
    # The canary's role creating its function's log group again (before the stack can, keyless).
    "canary-role-creates-its-log-group": (
        "stacks/canary.yaml",
        "Action: [logs:CreateLogStream, logs:PutLogEvents]",
        "Action: [logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents]",
        "E9112",
    ),
    # The canary's log group kept forever.
    "canary-log-group-kept-forever": (
        "stacks/canary.yaml",
        "      RetentionInDays: !Ref LogRetentionDays\n      KmsKeyId: !Ref ObservabilityKeyArn\n",
        "      KmsKeyId: !Ref ObservabilityKeyArn\n",
        "E9111",
    ),
    # Bearer tokens kept in WAF's samples and logs.
    "waf-keeps-bearer-tokens": (
        "stacks/edge.yaml",
        "            Action: HASH\n",
        "            Action: HASH\n            ExcludeRateBasedDetails: true\n",
        "E9114",
    ),
    # /health's own throttle written for a path the API does not have.
    "throttle-for-a-missing-path": (
        "template.yaml",
        "{ResourcePath: /~1health, HttpMethod: GET",
        "{ResourcePath: /~1healthz, HttpMethod: GET",
        "E9115",
    ),
}
LINTED_MUTANTS.update({name: (file, old, new) for name, (file, old, new, _) in EDGE_MUTANTS.items()})

# The files of each linted mutant that its test reads: "mutated" (the broken file), "root" (the copy's
# root template, which cfn-lint translates and follows into the nested ones) or "translated" (the
# copy's translation, as make check-infra writes it).
LINTED_FILES = {
    "waf-content-type-header": ("mutated",),
    "python-canary-tracing": ("mutated",),
    "composite-rollback-alarm": ("root", "translated"),
    "tracing-layer-in-prod": ("root", "translated"),
    "bad-ref-in-a-sam-resource": ("translated",),
    **{name: ("mutated",) for name in EDGE_MUTANTS},
}


def _lint_every_mutant(directory: Path) -> None:
    """Make each of LINTED_MUTANTS under ``directory`` and lint the files of LINTED_FILES in one cfn-lint run.

    Writes ``findings.json``: mutant -> {each of its LINTED_FILES: [[rule ID, message], ...]}.
    """
    mutants = {
        name: _mutant(directory / name, old, new, file, translated="translated" in LINTED_FILES[name])
        for name, (file, old, new) in LINTED_MUTANTS.items()
    }
    roles = {"mutated": "mutated", "root": "sam", "translated": "translated"}
    paths = sorted({str(getattr(mutants[name], roles[role])) for name in mutants for role in LINTED_FILES[name]})
    result = subprocess.run(
        [
            str(CFN_LINT),
            "--format",
            "parseable",
            "--append-rules",
            str(PROJECT_ROOT / "tools" / "cfn_lint_rules"),
            "--ignore-checks",
            "W3002",
            "--",
            *paths,
        ],
        capture_output=True,
        text=True,
        timeout=GATE_TIMEOUT_S,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert "E0002" not in result.stdout, result.stdout[-2000:]  # a rule that crashed
    by_path: dict[str, list[list[str]]] = {path: [] for path in paths}
    for line in result.stdout.splitlines():
        match = re.match(r"^(?P<file>.+?):\d+:\d+:\d+:\d+:(?P<rule>[EWI]\d{4}):(?P<message>.*)$", line)
        if match:
            by_path[match["file"]].append([match["rule"], match["message"]])
    findings = {
        name: {role: by_path[str(getattr(mutant, roles[role]))] for role in LINTED_FILES[name]}
        for name, mutant in mutants.items()
    }
    (directory / "findings.json").write_text(json.dumps(findings), encoding="utf-8")


@pytest.fixture(scope="module")
def lint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[list[str]]]]:
    directory = produced_once(tmp_path_factory, "gates-bite-linted-mutants", _lint_every_mutant)
    findings: dict[str, dict[str, list[list[str]]]] = json.loads((directory / "findings.json").read_text())
    return findings


def _rule_ids(findings: dict[str, dict[str, list[list[str]]]], mutant: str, *files: str) -> set[str]:
    """IDs of the cfn-lint findings (all rules, the project's included) on ``files`` of ``mutant``."""
    return {rule for file in files for rule, _ in findings[mutant][file]}


def _failed_template_tests(mutant: Mutant) -> set[str]:
    """Names of the test_template.py tests that fail against the mutant (parameters dropped)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env[TEMPLATE_ENV] = str(mutant.sam)
    # The suite needs no third-party plugin but the timeout one; skipping the others' imports saves
    # seconds per run (schemathesis, hypothesis, locust register themselves).
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [sys.executable, "-m", "pytest", "-p", "pytest_timeout", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "tests/infra/test_template.py", "-q", "-rfE"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=GATE_TIMEOUT_S,
        check=False,
    )
    assert not re.search(r"^ERROR ", result.stdout, flags=re.MULTILINE), result.stdout[-3000:]
    assert result.returncode == 1, (
        f"expected failing tests, got exit code {result.returncode}:\n{result.stdout[-3000:]}"
    )
    failed = re.findall(r"^FAILED tests/infra/test_template\.py::(\w+)", result.stdout, flags=re.MULTILINE)
    return set(failed)


def _checkov_failures(mutant: Mutant) -> set[tuple[str, str]]:
    """(file name, check id) of every failed checkov check on the mutated file and the translation."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make check-infra` (it creates .tools/checkov from its lock)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--skip-download",
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--file",
            str(mutant.mutated),
            "--file",
            str(mutant.translated),
        ],
        capture_output=True,
        text=True,
        timeout=GATE_TIMEOUT_S,
        check=False,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},  # offline: no PyPI version check
    )
    reports = json.loads(result.stdout)
    failures = {
        (Path(check["file_path"]).name, check["check_id"])
        for report in (reports if isinstance(reports, list) else [reports])
        for check in report["results"]["failed_checks"]
    }
    assert (result.returncode != 0) == bool(failures), result.stderr[-2000:]
    return failures


def test_removing_point_in_time_recovery_fails_the_assertions_and_checkov(tmp_path: Path) -> None:
    mutant = _mutant(
        tmp_path,
        # The movies table's (the one after its stream); the idempotency table's has its own test.
        "NEW_AND_OLD_IMAGES\n      PointInTimeRecoverySpecification:\n        PointInTimeRecoveryEnabled: true\n",
        "NEW_AND_OLD_IMAGES\n",
        file="stacks/data.yaml",
        translated=True,  # checkov reads the translation too
    )

    assert _failed_template_tests(mutant) == {"test_table_has_pitr_sse_kms_and_deletion_protection_outside_dev"}
    assert _checkov_failures(mutant) == {("data.yaml", "CKV_AWS_28")}


def test_widening_the_function_policy_to_dynamodb_star_fails_the_assertions(tmp_path: Path) -> None:
    table_actions = (
        "Action: [dynamodb:DeleteItem, dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query, dynamodb:Scan, "
        "dynamodb:UpdateItem]"
    )
    mutant = _mutant(tmp_path, table_actions, "Action: [dynamodb:*]", file="stacks/data.yaml")

    assert _failed_template_tests(mutant) == {
        "test_no_iam_statement_grants_wildcard_actions",
        "test_function_may_touch_only_its_table_the_search_index_and_their_key",
    }


def test_a_bad_ref_inside_a_sam_resource_fails_cfn_lint_on_the_translation(
    lint_findings: dict[str, dict[str, list[list[str]]]], tmp_path: Path
) -> None:
    findings = lint_findings["bad-ref-in-a-sam-resource"]["translated"]
    assert any(rule == "E1020" and "'MoviesTabel'" in message for rule, message in findings), findings

    file, old, new = LINTED_MUTANTS["bad-ref-in-a-sam-resource"]
    mutant = _mutant(tmp_path, old, new, file)
    assert _failed_template_tests(mutant) == {
        "test_function_environment_comes_from_the_stack_and_its_parameters",
        "test_a_cut_over_serves_and_grants_the_restored_table_and_nothing_else",
    }


def test_the_http_edge_mistakes_each_fail_their_assertion(tmp_path: Path) -> None:
    # Three mistakes in one copy (one translation and one assertion run): a GET without its HEAD, a
    # resource without the ANY method that takes its other methods to the function's 405, and a
    # gateway response that echoes the caller's Origin (any site could read it).
    get_movie_head = "        GetMovieHead: {Type: Api,"
    movies_any = "        MoviesOtherMethods: {Type: Api,"
    first_origin = """!Join ["", ["'", !Select [0, !Split [",", !Ref CorsAllowOrigins]], "'"]]"""
    unauthorized_allow_origin = (
        "WWW-Authenticate: \"'Bearer'\", X-Request-Id: context.requestId, Vary: \"'Origin'\",\n"
        "            Access-Control-Expose-Headers: \"'ETag, Location, X-Request-Id, Retry-After, Allow, "
        "WWW-Authenticate'\",\n"
        f"            Access-Control-Allow-Origin: !If [HasCorsOrigins, {first_origin}, !Ref AWS::NoValue]}}}}"
    )
    echoing = unauthorized_allow_origin.split("Access-Control-Allow-Origin:")[0] + (
        "Access-Control-Allow-Origin: method.request.header.Origin}}"
    )
    mutant = _mutant(
        tmp_path,
        get_movie_head,
        "        # " + get_movie_head.strip(),
        "template.yaml",
        (movies_any, "        # " + movies_any.strip()),
        (unauthorized_allow_origin, echoing),
    )

    assert _failed_template_tests(mutant) == {
        "test_every_declared_operation_is_a_method_of_the_gateway",
        "test_reads_need_the_read_scope_and_changes_the_write_scope",
        "test_every_resource_sends_the_methods_it_does_not_declare_to_the_function_without_a_token",
        "test_every_gateway_response_carries_the_request_id_and_cors_for_the_first_allowed_origin",
    }


# -- the deploy-time failures of the review, one per finding: each is caught offline ----------------


def test_a_content_type_header_in_the_waf_rate_limit_response_fails_the_project_rules(
    lint_findings: dict[str, dict[str, list[list[str]]]],
) -> None:
    assert "E9101" in _rule_ids(lint_findings, "waf-content-type-header", "mutated")


def test_active_tracing_on_the_python_canary_fails_the_project_rules(
    lint_findings: dict[str, dict[str, list[list[str]]]],
) -> None:
    assert "E9102" in _rule_ids(lint_findings, "python-canary-tracing", "mutated")


def test_a_composite_alarm_as_codedeploy_rollback_signal_fails_the_project_rules(
    lint_findings: dict[str, dict[str, list[list[str]]]],
) -> None:
    assert "E9106" in _rule_ids(lint_findings, "composite-rollback-alarm", "root", "translated")


def test_letting_prod_take_the_tracing_layer_fails_the_project_rules(
    lint_findings: dict[str, dict[str, list[list[str]]]],
) -> None:
    assert "E9105" in _rule_ids(lint_findings, "tracing-layer-in-prod", "root", "translated")


# -- the edge and its secrets: each class of defect the project rules guard, put back into the templates --


@pytest.mark.parametrize("mutant", sorted(EDGE_MUTANTS))
def test_putting_back_an_edge_defect_fails_the_project_rules(
    lint_findings: dict[str, dict[str, list[list[str]]]], mutant: str
) -> None:
    *_, rule = EDGE_MUTANTS[mutant]

    assert rule in _rule_ids(lint_findings, mutant, "mutated")
