# The one entry point. `make demo` runs the system locally; `make test` runs every test with its gates.
# Each target installs what it needs (system packages, the Python venv) and is quiet when nothing is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT  := $(CURDIR)
BUILD := $(ROOT)/build
VENV  := $(ROOT)/.venv
PY    := $(VENV)/bin/python
NPROC := $(shell nproc)
SYSDEPS := $(ROOT)/scripts/install-system-deps.sh

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
export PYTHONDONTWRITEBYTECODE := 1

# Shared by the fragments (defined here so that every fragment can use them in prerequisites).
VENV_STAMP := $(VENV)/.installed
TF_RC      := $(BUILD)/terraform.rc
LAMBDA_DIR := $(ROOT)/lib/lambda
DEPS_DIR   := $(BUILD)/deps
DEPS_STAMP := $(DEPS_DIR)/.fetched
ZIP        := $(ROOT)/lambda_function.zip

# Fragments add their checks to TEST_TARGETS (in the order they should run) and their own targets.
TEST_TARGETS :=
# The order is the serial one (fast C++ checks first, then the Python suites, which drive the built function,
# then the C++ coverage gate); under -j the prerequisites order what must wait (coverage-cpp: test-cpp test-py).
include mk/cpp.mk
include mk/aws.mk
include mk/package.mk
include mk/python.mk
include mk/local.mk
include mk/rie.mk
include mk/chaos.mk
include mk/bench.mk
include mk/rules.mk
include mk/mutation.mk
TEST_TARGETS += coverage-cpp

.PHONY: help test clean
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

test: $(TEST_TARGETS) ## every test of the project, with the coverage gates (what CI runs)
	@echo "make test: all checks passed"

clean: ## remove build outputs, synthesized stacks and the venv
	rm -rf $(BUILD) cdktf.out lambda_function.zip .pytest_cache .ruff_cache .coverage* coverage.xml
	rm -rf $(VENV)
