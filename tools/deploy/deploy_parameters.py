"""The parameter overrides one environment deploys with: infra/samconfig.toml's section for it,
plus the per-account values that do not belong in the repository, taken from the environment
(the pipelines map repository or deployment variables onto these names).

``sam deploy --parameter-overrides`` replaces samconfig's overrides instead of adding to them,
so the two are merged here. Standard library only: it runs in the SAM CLI's own environment.

Usage: ``python -m tools.deploy.deploy_parameters <env>`` prints the overrides on one line.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parents[2] / "infra" / "samconfig.toml"
# template parameter -> environment variable
ACCOUNT_PARAMETERS = {
    "AlarmEmail": "ALARM_EMAIL",
    "AuthDomainPrefix": "AUTH_DOMAIN_PREFIX",
    "CorsAllowOrigins": "CORS_ALLOW_ORIGINS",
    "PermissionsBoundaryArn": "PERMISSIONS_BOUNDARY_ARN",
    "RunbookBaseUrl": "RUNBOOK_BASE_URL",
    "TracingLayerArn": "TRACING_LAYER_ARN",
    "TrustedSigningProfileVersionArn": "TRUSTED_SIGNING_PROFILE_VERSION_ARN",
}


def overrides(environment: str, environ: Mapping[str, str], samconfig: Path = SAMCONFIG) -> str:
    config = tomllib.loads(samconfig.read_text())
    if environment not in config:
        raise SystemExit(f"error: {samconfig.name} has no [{environment}] section")
    base = config[environment]["deploy"]["parameters"].get("parameter_overrides", "")
    extras = []
    for parameter, variable in ACCOUNT_PARAMETERS.items():
        value = environ.get(variable, "").strip()
        if value:
            if '"' in value:
                raise SystemExit(f"error: {variable} must not contain double quotes")
            extras.append(f'{parameter}="{value}"')
    return " ".join(part for part in (base, *extras) if part)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.deploy.deploy_parameters <dev|staging|prod>", file=sys.stderr)
        return 2
    print(overrides(args[0], os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
