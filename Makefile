# mvdb — every developer and CI task is a target here; pipelines call these targets.
# `make run` and `make test` work on a fresh clone: they install what they need first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime) when this machine has one that runs, else python3 (3.11+ works).
# Each candidate is run, not just found: a pyenv shim for a version not selected exists but fails.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3; do   "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

# A tool's own venv, created and filled under a lock: tests run make from two xdist workers at once,
# and an unlocked second make finds bin/python before ensurepip has written pip (a CI run failed
# so). A venv whose interpreter no longer runs (moved, or its Python removed) is rebuilt.
define tool_venv
	@mkdir -p .tools
	flock .tools/.$(1).lock bash -c '.tools/$(1)/bin/python -c "" 2>/dev/null || $(PYTHON) -m venv --clear .tools/$(1); .tools/$(1)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --only-binary=:all: -r $(2)'
	@touch $@
endef

##@ Everyday
help: ## Show the targets
	@awk 'BEGIN{FS=":.*## "} /^##@/{printf "\n%s\n", substr($$0,5)} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# PORT and DYNAMODB_PORT pick other ports when 8000 or 8001 is taken: make run PORT=8080 DYNAMODB_PORT=8002.
PORT ?= 8000
DYNAMODB_PORT ?= 8001

# The DynamoDB Local database every local stack and test session starts from (mvdb_local/seed.py);
# each builds it itself when it is missing.
seed: $(VENV)/.installed node_modules/.installed ## Build the DynamoDB Local seed (the movies loaded and indexed) if missing; make run and the tests build it too
	$(PY) -m mvdb_local.seed

run: $(VENV)/.installed node_modules/.installed ## Run the API on http://127.0.0.1:8000 over DynamoDB Local on 8001, seeded with the movies [PORT=, DYNAMODB_PORT=]
	$(PY) -m mvdb_local --port $(PORT) --dynamodb-port $(DYNAMODB_PORT)

# What CI runs, in three steps. First the static checks, two at a time: each is a single-threaded
# tool that only reads the tree (linters, mypy, Spectral, the security scans, the infra, bootstrap
# and pipeline linters; ~50 s of CPU together). Then every pytest suite but the end-to-end one in
# ONE xdist session: one DynamoDB Local, one start of the workers, and the longest tests of all the
# suites handed out first (the stages' own sessions, one after another, each left a core idle while
# its workers started and while its last test ran). Then the end-to-end suite on a stack of its own.
# The DynamoDB Local seed (the movies loaded and indexed, built once per clone) is built beside the
# static checks: the session's first tests would all wait for it.
# The pipelines run these suites and gates as jobs of their own (pytest, check-infra, check-bootstrap,
# check-pipelines: docs/cicd.md); tests/build/test_make_test_suites.py holds the two the same.
TEST_STATIC_CHECKS := lint typecheck check-openapi check-security infra-lint bootstrap-lint pipelines-lint
TEST_SUITES = $(PYTEST_SUITES) tests/infra tests/deploy tests/pipelines
test: install ## Run every check and test (what CI runs)
	$(MAKE) --no-print-directory -j 2 --output-sync=target seed $(TEST_STATIC_CHECKS)
	$(PYTEST_XDIST) --durations=15 -m "not tenfold" $(TEST_SUITES)
	$(MAKE) --no-print-directory test-e2e

# The markers (pyproject.toml) say what a test needs: `integration` DynamoDB Local, `slow` more than
# a few seconds (a process of its own, a build, a tool run), `contract` and `e2e` a whole local stack
# in a process of its own, `infra` the templates. Under xdist one DynamoDB Local serves every worker
# of a run (--shared-dynamodb-local, tests/dynamodb_session.py), each test on tables of its own.
# Work goes out in collection order, where the longest-running modules come first (tests/conftest.py:
# longest_modules_first); xdist's default reorder would hand out the largest groups first instead.
PYTEST_XDIST := $(PY) -m pytest -n 2 --dist loadgroup --no-loadscope-reorder --shared-dynamodb-local

test-fast: $(VENV)/.installed node_modules/.installed ## The inner loop (~37 s of CPU on two workers, ~29 s of wall when quiet): unit tests and the handler in-process on one DynamoDB Local (nothing marked slow)
	$(PYTEST_XDIST) -q -m "not slow" tests/unit tests/integration tests/reliability

##@ Checks
lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check src tests tools functions
	$(VENV)/bin/ruff format --check src tests tools functions

# The document a deployed stage serves (servers, token URL), linted with Spectral's OpenAPI rules and
# the OWASP API Security ruleset; any warning fails. Waivers, each with its reason: tools/openapi/spectral.yaml.
OPENAPI_DOCUMENT := build/openapi/openapi.json
check-openapi: $(VENV)/.installed node_modules/.installed ## The OpenAPI document passes Spectral (spectral:oas + OWASP API Security), warnings included
	$(PY) -m tools.openapi.document $(OPENAPI_DOCUMENT)
	node_modules/.bin/spectral lint $(OPENAPI_DOCUMENT) --ruleset tools/openapi/spectral.yaml --fail-severity=warn

format: $(VENV)/.installed ## Format the code
	$(VENV)/bin/ruff format src tests tools functions
	$(VENV)/bin/ruff check --fix src tests tools functions

typecheck: $(VENV)/.installed ## mypy --strict over the service, the local stack, the pre-traffic hook and the canary
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy functions/pre_traffic_hook
	$(VENV)/bin/mypy functions/api_canary

# tests/infra and tests/pipelines run in check-infra, check-bootstrap and check-pipelines (after
# their own linters), tests/e2e in test-e2e (one local stack for the whole suite).
PYTEST_SUITES := tests/unit tests/build tests/integration tests/reliability tests/security tests/contract
pytest: $(VENV)/.installed node_modules/.installed ## Unit, artifact, integration, reliability, security and contract (fuzz) suites
	$(PYTEST_XDIST) --durations=15 -m "not tenfold" $(PYTEST_SUITES)

# Not in `make test`: its seed (46,090 movies loaded and indexed) takes about half an hour to build once.
test-tenfold: $(VENV)/.installed node_modules/.installed ## Every search at ten times the data returns every match exactly once
	$(PY) -m pytest -m tenfold tests/integration/test_search_tenfold.py

test-unit: $(VENV)/.installed ## Unit tests only (no network, no DynamoDB)
	$(PY) -m pytest tests/unit

# End-to-end tests over HTTP. With STACK_NAME (and AWS_REGION, AWS credentials) they check that
# deployed stack; without it, a local stack the suite starts itself (one process: one DynamoDB
# Local; AWS calls wait on the network, so 4 workers there). A JUnit report goes to
# build/test-reports for the pipelines.
test-e2e: $(VENV)/.installed $(if $(STACK_NAME),,node_modules/.installed) ## End to end: against a deployed stack (make test-e2e STACK_NAME=mvdb-dev, AWS_REGION set), else against a local stack
	STACK_NAME="$(STACK_NAME)" $(PY) -m pytest tests/e2e -m e2e $(if $(STACK_NAME),-n 4) \
	  --junitxml=build/test-reports/e2e-$(or $(STACK_NAME),local).xml

##@ Performance and reliability (figures, not tests; each starts what it needs)
bench: $(VENV)/.installed node_modules/.installed .tools/otel/.installed ## Cold start vs its floor, tracing cost, warm latency vs raw boto3, DynamoDB cost, loader (medians)
	$(PY) -m tools.bench.run

.tools/otel/.installed: requirements/tools-otel.txt
	$(call tool_venv,otel,requirements/tools-otel.txt)

bench-search: $(VENV)/.installed node_modules/.installed ## Five searches at 1x and 10x the data through the handler: RCU, growth, pages, calls; write amplification
	$(PY) -m tools.bench.search

load-test: $(VENV)/.installed node_modules/.installed ## Locust: 50 users for 60 s against the local stack; throughput, errors, p50/p95/p99
	$(PY) tools/load_test/run.py --users 50 --duration 60s

# make test runs the same drill (tests/integration/test_drill.py, ~40 s); make drill keeps its evidence in build/drill.
drill: $(VENV)/.installed node_modules/.installed ## Restore drill on DynamoDB Local: back up, damage, restore into a new table, validate, print the evidence
	$(PY) -m mvdb_local.drill

fuzz: $(VENV)/.installed node_modules/.installed ## Schemathesis with 10x the examples of make test
	FUZZ_EXAMPLES=800 $(PY) -m pytest tests/contract

##@ Security and supply chain
# make test audits the locks offline when the dated PyPA advisory database lies beside the clone
# (AUDIT_DB), else online, and where neither can run it says so in one line (and fails on a CI
# machine). The pipelines run `make audit-online` in a step of its own: online only, and it fails
# when a service cannot be reached. The policies these checks apply live in tools/security/.
AUDIT_DB ?= ../shared/advisories/pypa-vulns
LOCKS := $(sort $(wildcard requirements/*.txt))
PIPELINE := $(or $(GITHUB_ACTIONS),$(BITBUCKET_BUILD_NUMBER))
AUDIT_ONLINE := $(PY) -m tools.security.audit_online --pip-audit .tools/audit/bin/pip-audit

check-security: audit bandit secrets licences npm-audit ## All security scans (run by make test)

# The choice is made when make reads this file, not in the recipe: `make -n` runs any recipe line
# that names $(MAKE) for real, so a shell `if` around a sub-make ran the audit itself inside every
# dry run (tests/build reads make test's commands so, and in a pipeline, where the offline data is
# absent, that real audit failed the dry run).
AUDIT_OFFLINE := $(wildcard $(AUDIT_DB))
audit: $(VENV)/.installed $(if $(AUDIT_OFFLINE),,.tools/audit/.installed) ## Known vulnerabilities in every lock file (offline data if present, else online)
	@$(if $(AUDIT_OFFLINE),$(PY) -m tools.security.audit_locks $(LOCKS) --database $(AUDIT_DB),$(AUDIT_ONLINE) --locks $(LOCKS) --unreachable $(if $(or $(CI),$(PIPELINE)),fail,note))

audit-online: $(VENV)/.installed .tools/audit/.installed ## Pipelines: pip-audit on every lock and npm audit, online; fails when a service cannot be reached
	$(AUDIT_ONLINE) --locks $(LOCKS) --npm

bandit: $(VENV)/.installed ## Static security analysis of our code: no medium or high finding
	$(VENV)/bin/bandit -q -r src tools functions -ll

SECRETS_EXCLUDED := (^|/)(package-lock\.json|requirements/.*\.txt|data/moviedata\.json|\.secrets\.baseline)$$

secrets: $(VENV)/.installed ## No secret in any tracked file beyond the audited baseline (matched by content, not line)
	$(PY) tools/security/check_secrets.py

secrets-baseline: $(VENV)/.installed ## Re-scan into .secrets.baseline; then audit each new finding (detect-secrets audit)
	$(VENV)/bin/detect-secrets scan --exclude-files '$(SECRETS_EXCLUDED)' --baseline .secrets.baseline

licences: $(VENV)/.installed ## Every third-party licence on the allow-list (tools/security/licences.toml)
	$(PY) tools/security/check_licences.py

# npm has no offline advisory data: outside the pipelines an unreachable endpoint is noted, not failed.
npm-audit: $(VENV)/.installed ## npm audit of the local-only npm tools (online; fails in the pipelines if it cannot run)
	@$(AUDIT_ONLINE) --npm --unreachable $(if $(PIPELINE),fail,note)

.tools/audit/.installed: requirements/tools-audit.txt
	$(call tool_venv,audit,requirements/tools-audit.txt)

##@ Infrastructure
# ENV picks the section of infra/samconfig.toml (dev|staging|prod). The offline gates translate
# and lint for one fixed region; the stack itself deploys to the region the AWS environment names.
ENV ?= dev
SAM := .tools/sam/bin/sam
SAM_PYTHON := .tools/sam/bin/python
CHECKOV := .tools/checkov/bin/checkov
SAM_CONFIG := $(CURDIR)/infra/samconfig.toml
TEMPLATE := infra/template.yaml
# The root template's nested applications, one concern each (docs/adr/0001-*).
NESTED_TEMPLATES := $(sort $(wildcard infra/stacks/*.yaml))
INFRA_TEMPLATES := $(TEMPLATE) $(NESTED_TEMPLATES)
TRANSLATED := build/infra/template.json
# Project cfn-lint rules (service rules the schemas lack), run on every template and the translation.
CFN_LINT := PYTHONPATH=$(CURDIR) $(VENV)/bin/cfn-lint --append-rules tools/cfn_lint_rules
# Parameters a deploy computes (no default in the template): a stand-in value for the offline translation.
OFFLINE_PARAMETERS := -p FunctionConfigurationSha256=0000000000000000000000000000000000000000000000000000000000000000
OFFLINE_REGION := us-east-1
LAMBDA_ARTIFACTS := build/lambda/mvdb.zip build/lambda/pre-traffic-hook.zip
SBOM := build/lambda/mvdb.sbom.cdx.json
# checkov stays offline: no policy download (--skip-download), no PyPI version check.
export CKV_SKIP_PACKAGE_UPDATE_CHECK := true

build: $(VENV)/.installed ## Build the Lambda zips for python3.13/arm64 (no Docker) and the SBOM into build/lambda; prints sizes
	$(PY) -m tools.build.lambda_artifact
	$(PY) -m tools.security.sbom $(LAMBDA_ARTIFACTS) --output $(SBOM)

deploy: .tools/sam/.installed ## Deploy the zips of `make build` as the stack of ENV=dev|staging|prod [ARTIFACTS_BUCKET=... ARTIFACTS_KEY_ARN=... SIGNING_PROFILE_NAME=...]
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@for zip in $(LAMBDA_ARTIFACTS); do test -f $$zip || { echo "error: $$zip is missing: run make build first (CI: restore build/lambda from the build step)"; exit 2; }; done
	@if [ -n "$(ARTIFACTS_BUCKET)" ] && [ -z "$(ARTIFACTS_KEY_ARN)" ]; then echo "error: ARTIFACTS_KEY_ARN is required with ARTIFACTS_BUCKET (bootstrap output ArtifactsKeyArn): the bucket refuses uploads under any other key"; exit 2; fi
	@if [ "$(ENV)" = prod ] && [ -z "$(SIGNING_PROFILE_NAME)" ]; then echo "error: prod enforces code signing: set SIGNING_PROFILE_NAME (prod's bootstrap output SigningProfileName; only prod's deploy role may sign with it)"; exit 2; fi
	@if [ "$(ENV)" = prod ] && [ -z "$(TRUSTED_SIGNING_PROFILE_VERSION_ARN)" ]; then echo "error: prod enforces code signing: set TRUSTED_SIGNING_PROFILE_VERSION_ARN (prod's bootstrap output SigningProfileVersionArn)"; exit 2; fi
	@# The overrides are checked on a line of their own: a failure inside $$(...) would not stop sam deploy.
	@$(SAM_PYTHON) -m tools.deploy.deploy_parameters $(ENV) >/dev/null
	@$(SAM_PYTHON) -m tools.deploy.stack_state $(ENV)
	$(SAM) build --template-file $(TEMPLATE) --build-dir .aws-sam/build --config-file $(SAM_CONFIG) --config-env $(ENV)
	$(SAM) deploy --template-file .aws-sam/build/template.yaml --config-file $(SAM_CONFIG) --config-env $(ENV) \
	  --parameter-overrides "$$($(SAM_PYTHON) -m tools.deploy.deploy_parameters $(ENV) --template $(TEMPLATE))" \
	  $(if $(ARTIFACTS_BUCKET),--s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(ARTIFACTS_PREFIX) --kms-key-id $(ARTIFACTS_KEY_ARN) --no-resolve-s3) \
	  $(if $(SIGNING_PROFILE_NAME),--signing-profiles $$($(SAM_PYTHON) -m tools.deploy.signing_profiles $(TEMPLATE) $(SIGNING_PROFILE_NAME))) \
	  $(SAM_DEPLOY_ARGS)

# The guard runs before anything is installed or called.
destroy: ## Delete the stack of ENV (in dev also its table, backups, audit bucket and keys; run again to finish what it left); prod needs CONFIRM_PROD_DESTROY=yes
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@if [ "$(ENV)" = prod ] && [ "$(CONFIRM_PROD_DESTROY)" != yes ]; then \
	  echo "error: refusing to destroy prod; if you really mean it: make destroy ENV=prod CONFIRM_PROD_DESTROY=yes"; exit 2; fi
	@$(MAKE) --no-print-directory $(VENV)/.installed .tools/sam/.installed
	$(PY) -m tools.deploy.stack_teardown --config $(SAM_CONFIG) --env $(ENV) --sam $(SAM) \
	  $(if $(filter yes,$(CONFIRM_PROD_DESTROY)),--confirm-prod)

# No `sam validate --lint`: all it does is cfnlint.api.lint with cfn-lint's own rules and the region
# (aws-sam-cli, samcli/commands/validate/validate.py), which the CFN_LINT line below runs too, the
# project rules added: every template was linted twice (~40 s of CPU here). sam_translate translates.
# Each tool is single-threaded: they run two at a time (~34 s of CPU: checkov ~17, the two cfn-lint
# runs ~13, the translation ~4; one after another they left a core idle for that long), checkov
# and the translation's cfn-lint once the translation is written (tests/deploy reads it too).
INFRA_GATES := infra-checkov infra-cfn-lint-templates infra-cfn-lint-translation
check-infra: $(VENV)/.installed .tools/sam/.installed .tools/checkov/.installed node_modules/.installed ## Offline infra gates: rendered copies, the SAM translation, cfn-lint (+ project rules) and checkov on every template and the translation, tests/infra
	$(MAKE) --no-print-directory -j 2 --output-sync=target infra-lint
	$(PY) -m pytest tests/infra -n 2 --dist loadgroup --shared-dynamodb-local --ignore=tests/infra/test_iam_evaluation.py

# check-infra's tools without its tests (make test runs tests/infra in its one pytest session).
infra-lint: $(VENV)/.installed .tools/checkov/.installed infra-rendered $(INFRA_GATES)

infra-rendered: $(VENV)/.installed
	$(PY) -m tools.build.render_infra --check $(INFRA_TEMPLATES)

infra-translation: $(VENV)/.installed
	$(PY) -m tools.build.sam_translate $(TEMPLATE) --output $(TRANSLATED) --region $(OFFLINE_REGION) $(OFFLINE_PARAMETERS)

infra-checkov: infra-translation .tools/checkov/.installed
	$(CHECKOV) --skip-download --quiet --compact --framework cloudformation $(foreach f,$(INFRA_TEMPLATES) $(TRANSLATED),--file $(f))

infra-cfn-lint-templates: $(VENV)/.installed
	$(CFN_LINT) --regions $(OFFLINE_REGION) -- $(INFRA_TEMPLATES)

# The translation keeps local nested TemplateURLs (what sam package uploads), hence W3002 there.
infra-cfn-lint-translation: infra-translation
	$(CFN_LINT) --regions $(OFFLINE_REGION) --ignore-checks W3002 -- $(TRANSLATED)

render-infra: $(VENV)/.installed ## Copy the files templates carry inline (the canary script) into them
	$(PY) -m tools.build.render_infra --write $(INFRA_TEMPLATES)

# The SAM CLI and checkov pin dependencies that clash with the project's; each has its own venv.
.tools/sam/.installed: requirements/tools-sam.txt
	$(call tool_venv,sam,requirements/tools-sam.txt)

.tools/checkov/.installed: requirements/tools-checkov.txt
	$(call tool_venv,checkov,requirements/tools-checkov.txt)

.PHONY: build deploy destroy check-infra render-infra infra-lint infra-rendered infra-translation $(INFRA_GATES)

##@ Pipelines
# bitbucket-pipelines.yml and .github/workflows/ call these; docs/cicd.md explains the flow.
# `package` and `deploy-artifact` run in CI with an environment's deploy role (OIDC). Every
# environment deploys the zips `make build` made once (their SHA-256 is printed); each packages
# them into its own prefix of its account's artifacts bucket, signed with its own profile.
BOOTSTRAP_TEMPLATES := $(sort $(wildcard infra/bootstrap/*.yaml))
APP_NAME := mvdb
ARTIFACTS_PREFIX = $(APP_NAME)/$(ENV)
PACKAGED_TEMPLATE = build/pipeline/$(ENV)/packaged.yaml

# The JSON schemas (check-jsonschema's bundled ones) and actionlint run inside tests/pipelines
# (test_pipeline_validation.py), on the real files and on broken copies: running them here too ran
# each validator twice (~13 s of CPU).
check-pipelines: pipelines-lint node_modules/.installed ## Pipeline definitions: JSON schemas, actionlint, supply-chain policy, tests/pipelines (offline)
	$(PY) -m pytest tests/pipelines -q -n 2 --dist loadgroup

pipelines-lint: $(VENV)/.installed
	$(PY) -m tools.security.check_pipelines

# tests/deploy: the bootstrap's trust and permissions, checkov on the bootstrap (its one justified
# skip pinned), the escalation attempts, the deploy path's recorded calls against the deploy role,
# the handler permissions of every resource type.
# cfn-lint once, with the project rules (no `sam validate --lint` before it: see check-infra).
check-bootstrap: bootstrap-lint .tools/sam/.installed .tools/checkov/.installed .tools/deploy/.installed ## Bootstrap stacks and the deploy path: cfn-lint (+ project rules), checkov, tests/deploy (offline)
	$(PY) -m pytest tests/deploy tests/infra/test_iam_evaluation.py -n 2 --dist loadgroup -q

bootstrap-lint: $(VENV)/.installed
	$(CFN_LINT) --regions $(OFFLINE_REGION) -- $(BOOTSTRAP_TEMPLATES)

# The recording stand-in and the Service Authorization Reference data of tests/deploy.
.tools/deploy/.installed: requirements/tools-deploy.txt
	$(call tool_venv,deploy,requirements/tools-deploy.txt)

package: .tools/sam/.installed ## CI: upload the zips of `make build` to ENV's prefix, signed with its profile (ARTIFACTS_BUCKET, ARTIFACTS_KEY_ARN, SIGNING_PROFILE_NAME)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "error: ARTIFACTS_BUCKET is required (bootstrap output ArtifactsBucketName)"; exit 2; }
	@test -n "$(ARTIFACTS_KEY_ARN)" || { echo "error: ARTIFACTS_KEY_ARN is required (bootstrap output ArtifactsKeyArn): the bucket refuses uploads under any other key"; exit 2; }
	@if [ "$(ENV)" = prod ] && [ -z "$(SIGNING_PROFILE_NAME)" ]; then echo "error: prod enforces code signing: set SIGNING_PROFILE_NAME (prod's bootstrap output SigningProfileName)"; exit 2; fi
	@for zip in $(LAMBDA_ARTIFACTS); do test -f $$zip || { echo "error: $$zip is missing: run make build first (CI: restore build/lambda from the build step)"; exit 2; }; done
	@sha256sum $(LAMBDA_ARTIFACTS) | sed 's/^/built: /'
	@mkdir -p $(dir $(PACKAGED_TEMPLATE))
	$(SAM) package --template-file $(TEMPLATE) --s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(ARTIFACTS_PREFIX) \
	  --kms-key-id $(ARTIFACTS_KEY_ARN) --output-template-file $(PACKAGED_TEMPLATE) --no-progressbar $(SAM_PACKAGE_ARGS) \
	  $(if $(SIGNING_PROFILE_NAME),--signing-profiles $$($(SAM_PYTHON) -m tools.deploy.signing_profiles $(TEMPLATE) $(SIGNING_PROFILE_NAME)))
	@echo "packaged: $(PACKAGED_TEMPLATE) sha256=$$(sha256sum $(PACKAGED_TEMPLATE) | cut -d' ' -f1)"

deploy-artifact: .tools/sam/.installed ## CI: deploy ENV's packaged template (no rebuild) through CFN_EXECUTION_ROLE_ARN
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@test -f $(PACKAGED_TEMPLATE) || { echo "error: $(PACKAGED_TEMPLATE) is missing: run make package ENV=$(ENV) first"; exit 2; }
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "error: ARTIFACTS_BUCKET is required (bootstrap output ArtifactsBucketName)"; exit 2; }
	@test -n "$(ARTIFACTS_KEY_ARN)" || { echo "error: ARTIFACTS_KEY_ARN is required (bootstrap output ArtifactsKeyArn): sam deploy uploads the template under it"; exit 2; }
	@test -n "$(CFN_EXECUTION_ROLE_ARN)" || { echo "error: CFN_EXECUTION_ROLE_ARN is required (bootstrap output CloudFormationExecutionRoleArn)"; exit 2; }
	@test -n "$(PERMISSIONS_BOUNDARY_ARN)" || { echo "error: PERMISSIONS_BOUNDARY_ARN is required (bootstrap output PermissionsBoundaryArn): the execution role creates roles only with it"; exit 2; }
	@if [ "$(ENV)" = prod ] && [ -z "$(TRUSTED_SIGNING_PROFILE_VERSION_ARN)" ]; then echo "error: prod enforces code signing: set TRUSTED_SIGNING_PROFILE_VERSION_ARN (prod's bootstrap output SigningProfileVersionArn)"; exit 2; fi
	@if [ "$(ENV)" = prod ] && [ -z "$(SIGNING_PROFILE_NAME)" ]; then echo "error: prod: set SIGNING_PROFILE_NAME (prod's bootstrap output SigningProfileName), the profile make package signed with"; exit 2; fi
	@$(SAM_PYTHON) -m tools.deploy.deploy_parameters $(ENV) --through-execution-role >/dev/null
	@$(SAM_PYTHON) -m tools.deploy.stack_state $(ENV)
	@echo "deploying: $(PACKAGED_TEMPLATE) sha256=$$(sha256sum $(PACKAGED_TEMPLATE) | cut -d' ' -f1) to ENV=$(ENV)"
	$(SAM) deploy --template-file $(PACKAGED_TEMPLATE) --config-file $(SAM_CONFIG) --config-env $(ENV) \
	  --s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(ARTIFACTS_PREFIX) --kms-key-id $(ARTIFACTS_KEY_ARN) --no-resolve-s3 \
	  --parameter-overrides "$$($(SAM_PYTHON) -m tools.deploy.deploy_parameters $(ENV) --template $(PACKAGED_TEMPLATE) --through-execution-role)" \
	  --role-arn $(CFN_EXECUTION_ROLE_ARN) --no-progressbar $(SAM_DEPLOY_ARGS)

# The guard runs before anything is installed or called.
verify-deploy: ## After a deploy, read-only: make verify-deploy STACK_NAME=mvdb-dev (AWS_REGION set); one line per fact
	@test -n "$(STACK_NAME)" || { echo "error: STACK_NAME is required (e.g. make verify-deploy STACK_NAME=mvdb-dev)"; exit 2; }
	@$(MAKE) --no-print-directory $(VENV)/.installed
	$(PY) -m tools.deploy.verify_deploy --stack $(STACK_NAME)

.PHONY: check-pipelines pipelines-lint check-bootstrap bootstrap-lint package deploy-artifact verify-deploy

##@ Set-up (run by the targets above when needed)
# Every pip install takes hash-checked wheels only: --require-hashes refuses anything the lock does
# not name with its hash, and --only-binary=:all: builds nothing from source (no dependency's
# setup.py ever runs, and pip's cache of wheels it built itself is never read). The project itself
# is built by the hash-pinned backend of requirements/build.txt, without build isolation (which
# would fetch an unpinned setuptools). tools/security/check_pipelines.py holds every install here,
# in the pipelines and in their scripts to these rules.
$(VENV)/.installed: requirements/dev.txt requirements/build.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ is required (python3.13 preferred)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --only-binary=:all: -r requirements/dev.txt -r requirements/build.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

# Everything `make test` installs, side by side. Each install mostly waits on PyPI or npm: one after
# another they took ~720 s of a fresh clone's wall clock for ~180 s of CPU. The audit venv too, even
# where the offline advisory data spares `make audit` from it: tests/security/test_online_audit.py
# runs pip-audit, and installing it there held an xdist worker for ~19 s of the test run.
TEST_INSTALLS = $(VENV)/.installed node_modules/.installed .tools/sam/.installed .tools/checkov/.installed \
  .tools/deploy/.installed .tools/audit/.installed
install: ## Install everything `make test` needs (venvs from the hashed locks, npm ci), in parallel
	@$(MAKE) --no-print-directory -j $(words $(TEST_INSTALLS)) --output-sync=target $(TEST_INSTALLS)

# npm ci needs no Java: DynamoDB Local's launcher (mvdb_local.dynamodb_local.require_java) names Java 17+
# when it starts. Asking for it here failed the pipelines' lint step, which runs Spectral and no Java.
node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "error: Node.js 20.17+ and npm are required for DynamoDB Local, Spectral and actionlint (Debian 13: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean: ## Remove environments, installs, build outputs and local data
	rm -rf $(VENV) .tools node_modules .local .aws-sam build dist .pytest_cache .mypy_cache .ruff_cache

.PHONY: check-security audit audit-online bandit secrets secrets-baseline licences npm-audit
.PHONY: help install seed run test test-fast lint check-openapi format typecheck pytest test-unit test-tenfold test-e2e load-test bench bench-search drill fuzz clean
