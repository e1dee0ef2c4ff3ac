# users-api: every workflow is one target. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
PORT ?= 8000
STAGE ?= dev

export PYTHONDONTWRITEBYTECODE :=
export AWS_EC2_METADATA_DISABLED := true

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python -r pyproject.toml --all-extras -c constraints.txt
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install the pinned dependencies

.PHONY: lock
lock: $(STAMP) ## re-pin every transitive dependency into constraints.txt
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 --no-header --no-annotate -o constraints.txt

.PHONY: lint
lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service tests infra loadtest

.PHONY: format
format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: lint ## every test: lint, unit, integration (local engine), Lambda path, contract, infra, load smoke
	$(BIN)/pytest

.PHONY: run
run: $(STAMP) ## the local stage on 127.0.0.1:$(PORT) with an embedded DynamoDB-compatible engine
	$(BIN)/python -m service.local.stage --port $(PORT)

.PHONY: clean
clean: ## remove the venv, caches and reports
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache reports cdk.out build
