"""infra/samconfig.toml deploys each environment with parameters the template accepts."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Template

pytestmark = pytest.mark.infra

SAM_CONFIG = Path(__file__).resolve().parents[2] / "infra" / "samconfig.toml"
ENVIRONMENTS = ("dev", "staging", "prod")


def _config() -> dict[str, Any]:
    return tomllib.loads(SAM_CONFIG.read_text(encoding="utf-8"))


def _overrides(environment: str) -> dict[str, str]:
    pairs = shlex.split(_config()[environment]["deploy"]["parameters"]["parameter_overrides"])
    return dict(pair.split("=", 1) for pair in pairs)


def test_samconfig_has_one_section_per_environment() -> None:
    config = _config()
    assert set(config) - {"version"} == set(ENVIRONMENTS)
    stacks = [config[env]["global"]["parameters"]["stack_name"] for env in ENVIRONMENTS]
    assert len(set(stacks)) == len(stacks)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_deploys_itself_with_valid_parameters(sam_template: Template, environment: str) -> None:
    deploy = _config()[environment]["deploy"]["parameters"]
    overrides = _overrides(environment)
    assert overrides["Environment"] == environment
    # Roles are unnamed (no CAPABILITY_NAMED_IAM); a transform and nested stacks need AUTO_EXPAND.
    assert deploy["capabilities"].split() == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert deploy["confirm_changeset"] is False  # non-interactive: the pipeline's approval is the gate
    assert f'environment="{environment}"' in deploy["tags"]
    parameters = sam_template.document["Parameters"]
    for name, value in overrides.items():
        spec = parameters[name]  # a KeyError is a parameter the template does not have
        if "AllowedValues" in spec:
            assert value in {str(v) for v in spec["AllowedValues"]}, (environment, name, value)
        if "MinValue" in spec:
            assert int(value) >= spec["MinValue"], (environment, name, value)
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), (environment, name, value)


def test_environments_grow_stricter_towards_prod() -> None:
    dev, staging, prod = (_overrides(env) for env in ENVIRONMENTS)
    assert int(dev["LogRetentionDays"]) <= int(staging["LogRetentionDays"]) <= int(prod["LogRetentionDays"])
    assert int(prod["LogRetentionDays"]) >= 365
    assert prod["LogLevel"] != "DEBUG"
