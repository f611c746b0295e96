# Source this in a Bitbucket deployment step with `oidc: true`:
#   source ./pipelines/bitbucket-oidc-credentials.sh
#
# It gives the step's OIDC token to the AWS SDK's web-identity provider: every AWS call of the
# step (SAM CLI, boto3 in the deployed tests) then runs as AWS_DEPLOY_ROLE_ARN, the deploy role
# of this deployment environment, obtained with sts:AssumeRoleWithWebIdentity. No credential
# passes through the shell or the log; the role's trust policy admits only this repository's
# token for this deployment environment.
# shellcheck shell=bash

_oidc_fail() { echo "error: $*" >&2; return 1; }

[ -n "${BITBUCKET_STEP_OIDC_TOKEN:-}" ] || _oidc_fail "no OIDC token: the step needs 'oidc: true'" || return 1
[ -n "${AWS_DEPLOY_ROLE_ARN:-}" ] || _oidc_fail "AWS_DEPLOY_ROLE_ARN is not set for deployment environment '${BITBUCKET_DEPLOYMENT_ENVIRONMENT:-?}'" || return 1
[ -n "${AWS_REGION:-}" ] || _oidc_fail "AWS_REGION is not set (repository variable)" || return 1

AWS_WEB_IDENTITY_TOKEN_FILE="$(mktemp -d)/bitbucket-oidc-token"
( umask 077 && printf '%s' "${BITBUCKET_STEP_OIDC_TOKEN}" >"${AWS_WEB_IDENTITY_TOKEN_FILE}" )
export AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_ROLE_ARN="${AWS_DEPLOY_ROLE_ARN}"
export AWS_ROLE_SESSION_NAME="bitbucket-${BITBUCKET_DEPLOYMENT_ENVIRONMENT:-deploy}-${BITBUCKET_BUILD_NUMBER:-0}"
export AWS_DEFAULT_REGION="${AWS_REGION}"

# Fail here, with the reason, rather than in the middle of a deploy.
make --no-print-directory .venv/.installed >/dev/null
.venv/bin/python - <<'PY' || return 1
import boto3

arn = boto3.client("sts").get_caller_identity()["Arn"]
print(f"AWS session: {arn}")
PY
