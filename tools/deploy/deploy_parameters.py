"""The parameter overrides one environment deploys with: infra/samconfig.toml's section for it,
plus the per-account values that do not belong in the repository, taken from the environment
(the pipelines map repository or deployment variables onto these names).

``sam deploy --parameter-overrides`` replaces samconfig's overrides instead of adding to them,
so the two are merged here. With ``--template``, the overrides also carry the hash that makes a
changed function configuration publish a new version (``tools.deploy.function_version``).
It runs in the SAM CLI's own environment: the standard library and aws-sam-translator only.

Usage: ``python -m tools.deploy.deploy_parameters <env> [--template <deployed template>]`` prints
the overrides on one line.
"""

from __future__ import annotations

import argparse
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


def with_function_versions(merged: str, template: Path) -> str:
    """``merged`` plus ``<Parameter>="<sha256>"`` for each function's AutoPublishCodeSha256 parameter."""
    from tools.deploy.function_version import configuration_hashes, parse_overrides

    hashes = configuration_hashes(template, parse_overrides(merged))
    return " ".join([merged, *(f'{name}="{digest}"' for name, digest in sorted(hashes.items()))]).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The parameter overrides one environment deploys with.")
    parser.add_argument("environment", choices=("dev", "staging", "prod"))
    parser.add_argument("--template", type=Path, help="the template being deployed (adds the function version hash)")
    args = parser.parse_args(argv)
    merged = overrides(args.environment, os.environ)
    if args.template is not None:
        try:
            merged = with_function_versions(merged, args.template)
        except (OSError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
