"""The application as files: one concern per template, each readable in one sitting, joined soundly.

The root template (infra/template.yaml) holds the API; each other concern is a nested application
in infra/stacks/. These tests hold the split to its promises: no file past ~600 lines, no nested
file unused or missing, names built from the root stack's name, logical IDs unique across the
application (so the linked view of tests/infra is unambiguous), and the template Rules that refuse
a deploy CloudFormation would fail later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template
from tools.build.nested_stacks import LinkError, link
from tools.cfn_lint_rules._scenarios import Evaluator

pytestmark = pytest.mark.infra

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600


@pytest.mark.parametrize(
    "path",
    sorted((PROJECT_ROOT / "infra").rglob("*.yaml")),
    ids=lambda p: str(p.relative_to(PROJECT_ROOT)),
)
def test_every_infrastructure_file_is_readable_in_one_sitting(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_every_nested_template_is_used_once_by_the_root(template_files: dict[str, Path]) -> None:
    nested = sorted(path for name, path in template_files.items() if name != "root")
    assert nested == sorted((PROJECT_ROOT / "infra" / "stacks").glob("*.yaml"))


def test_nested_templates_name_things_after_the_root_stack_not_their_own(template_files: dict[str, Path]) -> None:
    # A nested stack's AWS::StackName is a generated <root>-<Logical>-<random>: documented names break.
    for name, path in template_files.items():
        if name != "root":
            assert "AWS::StackName" not in path.read_text(encoding="utf-8"), path.name


def test_linking_refuses_a_logical_id_used_by_two_stacks() -> None:
    root = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Child": {"Type": "AWS::CloudFormation::Stack",
            "Properties": {"TemplateURL": "child.yaml"}}}}  # fmt: skip
    child = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}

    with pytest.raises(LinkError, match=r"\['Topic'\] already name something else"):
        link(root, Path("/nowhere"), lambda path: child)


def test_linking_follows_parameters_in_and_outputs_out() -> None:
    stack = {"TemplateURL": "child.yaml", "Parameters": {"Name": {"Ref": "AWS::StackName"}}}
    queue = {"QueueName": {"Fn::GetAtt": ["Child", "Outputs.Topic"]}}
    root = {
        "Resources": {
            "Child": {"Type": "AWS::CloudFormation::Stack", "Properties": stack},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": queue},
        }
    }
    child = {
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${Name}-alarms"}}}},
        "Outputs": {"Topic": {"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
    }

    linked = link(root, Path("/nowhere"), lambda path: child)

    assert linked["Resources"]["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "${AWS::StackName}-alarms"}
    assert linked["Resources"]["Queue"]["Properties"]["QueueName"] == {"Fn::GetAtt": ["Topic", "TopicName"]}
    assert "Child" not in linked["Resources"]


def _refused(sam_document: dict[str, Any], **values: str) -> bool:
    return not Evaluator(sam_document, values).rules_hold()


def test_prod_is_refused_without_the_profile_the_pipeline_signs_with(sam_document: dict[str, Any]) -> None:
    profile = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/mvdbdev/abcdefghij"
    assert _refused(sam_document, Environment="prod")
    assert not _refused(sam_document, Environment="prod", TrustedSigningProfileVersionArn=profile)
    assert not _refused(sam_document, Environment="dev")


def test_a_tracing_layer_is_refused_wherever_code_signing_is_enforced(sam_document: dict[str, Any]) -> None:
    layer = "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-python-arm64-ver-1-32-0:1"
    profile = "arn:aws:signer:eu-west-1:111122223333:/signing-profiles/mvdbdev/abcdefghij"
    assert _refused(sam_document, Environment="prod", TrustedSigningProfileVersionArn=profile, TracingLayerArn=layer)
    assert _refused(sam_document, Environment="dev", CodeSigningPolicy="Enforce", TracingLayerArn=layer)
    assert not _refused(sam_document, Environment="dev", CodeSigningPolicy="Warn", TracingLayerArn=layer)


def _snapstart_mismatches(template: Template) -> list[str]:
    """Regions where the template's SnapStart condition disagrees with cfn-lint's list (rule E2530)."""
    from cfnlint.helpers import REGIONS
    from cfnlint.rules.resources.lmbd.SnapStartSupported import SnapStartSupported

    offered = set(SnapStartSupported().regions)
    mismatches = []
    for region in (r for r in REGIONS if not r.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe", "eusc-"))):
        deployed = template.with_parameters(Environment="prod", **{"AWS::Region": region, "AWS::Partition": "aws"})
        if deployed.condition("UseSnapStart") is not (region in offered):
            mismatches.append(region)
    china = template.with_parameters(Environment="prod", **{"AWS::Region": "cn-north-1", "AWS::Partition": "aws-cn"})
    if china.condition("UseSnapStart"):
        mismatches.append("cn-north-1")
    return mismatches


def test_snapstart_is_used_exactly_where_lambda_offers_it(template: Template) -> None:
    assert _snapstart_mismatches(template) == []


def test_without_the_region_guard_snapstart_would_be_asked_for_where_lambda_lacks_it(template: Template) -> None:
    unguarded = dict(template.document)
    unguarded["Conditions"] = {**template.document["Conditions"], "SnapStartIsOffered": True}

    assert set(_snapstart_mismatches(Template(unguarded))) == {"ap-east-2", "ap-southeast-6", "cn-north-1"}
