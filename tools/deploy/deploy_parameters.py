"""The parameter overrides one environment deploys with: infra/samconfig.toml's section for it,
plus the per-account values that do not belong in the repository, taken from the environment
(the pipelines map repository or deployment variables onto these names).

``sam deploy --parameter-overrides`` replaces samconfig's overrides instead of adding to them,
so the two are merged here. With ``--template``, the overrides also carry the hash that makes a
changed function configuration publish a new version (``tools.deploy.function_version``).
It runs in the SAM CLI's own environment: the standard library and aws-sam-translator only.

Before printing anything it refuses (exit status 1, one ``error:`` line naming the variable and
the bootstrap output it comes from) a deploy that CloudFormation or Lambda would refuse later:

* through the execution role (``--through-execution-role``, ``make deploy-artifact``) without
  ``PERMISSIONS_BOUNDARY_ARN``: that role creates roles only with the environment's boundary;
* prod without ``TRUSTED_SIGNING_PROFILE_VERSION_ARN`` (the template's rule) or without
  ``SIGNING_PROFILE_NAME``;
* a trusted profile version whose profile is not ``SIGNING_PROFILE_NAME``: the zips are signed
  with one profile and the functions would trust another (prod: Enforce refuses the code).

Usage: ``python -m tools.deploy.deploy_parameters <env> [--template <deployed template>]
[--through-execution-role]`` prints the overrides on one line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parents[2] / "infra" / "samconfig.toml"
# template parameter -> environment variable
ACCOUNT_PARAMETERS = {
    "AlarmEmail": "ALARM_EMAIL",
    "AuthDomainPrefix": "AUTH_DOMAIN_PREFIX",
    "BackupCopyDestinationVaultArn": "BACKUP_COPY_DESTINATION_VAULT_ARN",
    "CorsAllowOrigins": "CORS_ALLOW_ORIGINS",
    "PermissionsBoundaryArn": "PERMISSIONS_BOUNDARY_ARN",
    "RunbookBaseUrl": "RUNBOOK_BASE_URL",
    "TracingLayerArn": "TRACING_LAYER_ARN",
    "TrustedSigningProfileVersionArn": "TRUSTED_SIGNING_PROFILE_VERSION_ARN",
}
# arn:<partition>:signer:<region>:<account>:/signing-profiles/<profile name>/<version>
_PROFILE_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:signer:[a-z0-9-]+:\d{12}:/signing-profiles/(?P<name>[^/]+)/[^/]+$")


def missing_account_values(environment: str, environ: Mapping[str, str], *, through_execution_role: bool) -> list[str]:
    """Why ``environment`` cannot be deployed with ``environ``'s account values: one message each, [] if it can."""

    def value(name: str) -> str:
        return environ.get(name, "").strip()

    problems = []
    if through_execution_role and not value("PERMISSIONS_BOUNDARY_ARN"):
        problems.append(
            "PERMISSIONS_BOUNDARY_ARN is required when deploying through CFN_EXECUTION_ROLE_ARN (bootstrap "
            "output PermissionsBoundaryArn): the execution role creates roles only with that boundary"
        )
    trusted, signer = value("TRUSTED_SIGNING_PROFILE_VERSION_ARN"), value("SIGNING_PROFILE_NAME")
    if environment == "prod":
        if not trusted:
            problems.append(
                "prod enforces code signing: set TRUSTED_SIGNING_PROFILE_VERSION_ARN to prod's bootstrap "
                "output SigningProfileVersionArn (stack mvdb-pipeline-prod)"
            )
        if not signer:
            problems.append(
                "prod enforces code signing: set SIGNING_PROFILE_NAME to prod's bootstrap output "
                "SigningProfileName, the profile the zips were signed with"
            )
    if trusted and signer:
        match = _PROFILE_VERSION_ARN.match(trusted)
        if match is None:
            problems.append(f"TRUSTED_SIGNING_PROFILE_VERSION_ARN is not a signing profile version ARN: {trusted}")
        elif match["name"] != signer:
            problems.append(
                f"TRUSTED_SIGNING_PROFILE_VERSION_ARN trusts the profile {match['name']} but the zips are signed "
                f"with SIGNING_PROFILE_NAME={signer}: both must be this environment's bootstrap outputs "
                "(SigningProfileVersionArn, SigningProfileName)"
            )
    return problems


def overrides(
    environment: str,
    environ: Mapping[str, str],
    samconfig: Path = SAMCONFIG,
    *,
    through_execution_role: bool = False,
) -> str:
    """samconfig's overrides for ``environment`` plus the account values; SystemExit("error: ...") if one is missing."""
    config = tomllib.loads(samconfig.read_text())
    if environment not in config:
        raise SystemExit(f"error: {samconfig.name} has no [{environment}] section")
    problems = missing_account_values(environment, environ, through_execution_role=through_execution_role)
    if problems:
        raise SystemExit("\n".join(f"error: {problem}" for problem in problems))
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
    parser.add_argument(
        "--through-execution-role",
        action="store_true",
        help="the deploy passes CFN_EXECUTION_ROLE_ARN (the permissions boundary is then required)",
    )
    args = parser.parse_args(argv)
    merged = overrides(args.environment, os.environ, through_execution_role=args.through_execution_role)
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
