# Python side: the venv, lint, synthesis, checkov and the pytest suites (unit + integration, coverage gate).
# This machine's pip config names local indexes that may be absent; their warnings are noise.
PIP_QUIET := { grep -v '^WARNING: Location' || true; }

# Python dependencies: requirements/<purpose>.in (the direct ones, pinned) compiled by `make lock` into
# requirements/<purpose>.txt, every distribution pinned with its hashes. Installs read the locks only:
# --require-hashes --no-deps lets nothing unpinned or unverified in. The project venv carries every purpose
# but checkov, whose pins clash with the rest: it has its own venv and lock.
PY_PURPOSES := synth build local-and-test lint bench mutation
PY_LOCKS    := $(PY_PURPOSES:%=requirements/%.txt)
PIP_LOCKED  := -m pip install -q --disable-pip-version-check --require-hashes --no-deps

$(VENV_STAMP): $(PY_LOCKS)
	@$(SYSDEPS) nodejs zip unzip
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@$(PY) $(PIP_LOCKED) $(PY_LOCKS:%=-r %) 2>&1 | $(PIP_QUIET)
	@touch $@

.PHONY: venv lock
venv: $(VENV_STAMP) ## the Python virtual environment from the hash-pinned locks (requirements/*.txt)

# The lock tool (uv, pinned by requirements/uv.txt) in a venv of its own.
UV_VENV := $(BUILD)/uv-venv
$(UV_VENV)/.installed: requirements/uv.txt
	@[ -x $(UV_VENV)/bin/python ] || python3 -m venv $(UV_VENV)
	@$(UV_VENV)/bin/python $(PIP_LOCKED) -r $< 2>&1 | $(PIP_QUIET)
	@touch $@

# One resolution of every purpose of the project venv (so that the locks agree where they overlap), seeded
# with today's pins so that only what changed in a .in moves (LOCK_UPGRADE=1: everything to its newest);
# then each purpose's lock is that resolution's subset. The target: CPython 3.11 on x86-64 Linux.
LOCK_UPGRADE ?=
LOCK_DIR     := $(BUILD)/lock
UV_COMPILE   := $(UV_VENV)/bin/uv pip compile -q --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
                --custom-compile-command 'make lock' $(if $(LOCK_UPGRADE),--upgrade)
UV_LOCK      := $(UV_COMPILE) --generate-hashes --annotation-style line
lock: $(UV_VENV)/.installed ## refresh requirements/*.txt from requirements/*.in (LOCK_UPGRADE=1: newest versions)
	@mkdir -p $(LOCK_DIR)
	@cat $(PY_LOCKS) 2>/dev/null | grep -oE '^[a-z0-9._-]+==[^ ]+' | sort -u > $(LOCK_DIR)/venv.txt || true
	@$(UV_COMPILE) --no-header -o $(LOCK_DIR)/venv.txt $(PY_PURPOSES:%=requirements/%.in)
	@for p in $(PY_PURPOSES); do $(UV_LOCK) -c $(LOCK_DIR)/venv.txt -o requirements/$$p.txt requirements/$$p.in; done
	@sed -i -E 's/ -c [^ ]*venv\.txt,?//; s/,$$//' $(PY_LOCKS)  # the build-tree constraint is no source
	@$(UV_LOCK) -o requirements/checkov.txt requirements/checkov.in
	@$(UV_LOCK) -o requirements/uv.txt requirements/uv.in
	@echo "lock: requirements/*.txt refreshed ($$(cat $(LOCK_DIR)/venv.txt | grep -c '==') distributions in the venv)"

# Terraform uses the local provider mirror when this machine has one; elsewhere it downloads providers itself.
$(TF_RC):
	@mkdir -p $(BUILD)
	@$(ROOT)/scripts/terraform-rc.sh > $@

CHECKOV_VENV := $(BUILD)/checkov-venv
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@[ -x $(CHECKOV_VENV)/bin/python ] || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python $(PIP_LOCKED) -r $< 2>&1 | $(PIP_QUIET)
	@touch $@

STACK      := tap-stack
STACK_DIR  := $(ROOT)/cdktf.out/stacks/$(STACK)
STACK_JSON := $(STACK_DIR)/cdk.tf.json
PY_SOURCES := $(wildcard lib/*.py lib/stack/*.py local/*.py) main.py
PY_LINTED  := lib local ops tools tests main.py
PYTEST     := $(PY) -m pytest
export TF_CLI_CONFIG_FILE := $(TF_RC)

.PHONY: lint-py synth checkov test-py-unit test-contract test-py-integration test-py
lint-py: $(VENV_STAMP) ## ruff (lint + format check) and mypy over the Python
	@$(VENV)/bin/ruff check -q $(PY_LINTED)
	@$(VENV)/bin/ruff format -q --check $(PY_LINTED)
	@$(VENV)/bin/mypy --no-error-summary lib local ops tools tests bench main.py

# The production stack (no local endpoint): what checkov scans and what `terraform apply` deploys.
$(STACK_JSON): $(VENV_STAMP) $(ZIP) $(PY_SOURCES) config/function-settings.json
	@$(PY) main.py
	@echo "synth: $(STACK_JSON)"

synth: $(VENV_STAMP) $(ZIP) ## synthesize the stack into cdktf.out/stacks/tap-stack/cdk.tf.json
	@rm -f $(STACK_JSON)
	@$(MAKE) $(STACK_JSON)

checkov: $(CHECKOV_VENV)/.installed $(STACK_JSON) ## checkov over the synthesized stack (suppressions in code)
	@$(PY) -m local.checkov_gate --checkov $(CHECKOV_VENV)/bin/checkov $(STACK_JSON)

test-py-unit: $(VENV_STAMP) $(TF_RC) ## Python unit tests only, no coverage gate (fast iteration)
	@$(PYTEST) -q -m 'not integration' tests/unit

test-contract: $(VENV_STAMP) $(VALIDATOR) ## settings and rules contracts: synthesis and the function agree (hypothesis)
	@TAP_VALIDATE=$(VALIDATOR) $(PYTEST) -q -p no:cacheprovider tests/contract

test-py-integration: $(VENV_STAMP) $(TF_RC) ## the emulator deployment tests only (moto + terraform)
	@$(PYTEST) -q -m integration tests/integration

# Every test binary and artifact the Python tests drive: the coverage build of the function (its runs count
# for coverage-cpp), the arm64 zip and toolchain probe, the AWS SigV4 test suite.
PY_TEST_ENV := TAP_BOOTSTRAP=$(CPP_COV)/src/bootstrap TAP_ECHO_FUNCTION=$(CPP_COV)/tests/runtime/echo_function \
               TAP_AWS_CLI=$(CPP_COV)/tests/aws/aws_cli TAP_AWS4_TESTSUITE=$(AWS4_TESTSUITE) \
               TAP_RULES_STORE_CLI=$(CPP_COV)/tests/handler/rules_store_cli TAP_RULES_TOOL=$(CPP_COV)/src/tap_rules \
               TAP_VALIDATE=$(CPP_COV)/src/tap_validate TAP_API_STORE_CLI=$(CPP_COV)/tests/api/api_store_cli \
               TAP_API_ROUTES=$(CPP_COV)/tests/api/api_routes \
               TAP_REQUIRE_ZIP=1 TAP_REQUIRE_PROBE=1
# The suite runs on PYTEST_WORKERS processes (pytest-xdist): most of its time is spent waiting on moto, the
# function and terraform, so the cores overlap it. tests/conftest.py groups the tests that share a costly
# session fixture onto one worker (--dist loadgroup). PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= $(NPROC)
test-py: $(VENV_STAMP) $(TF_RC) cpp-cov-reset package probe-arm64 aws-testsuite ## every Python test, 100 % line and branch coverage of lib/, local/, ops/ and tools/ enforced
	@$(PY_TEST_ENV) $(PYTEST) -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 \
	  --cov=lib --cov=local --cov=ops --cov=tools --cov-report=term-missing:skip-covered --cov-fail-under=100 tests

TEST_TARGETS += lint-py checkov test-py
