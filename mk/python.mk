# Python side: the venv, lint, synthesis, checkov and the pytest suites (unit + integration, coverage gate).
# This machine's pip config names local indexes that may be absent; their warnings are noise.
PIP_QUIET := { grep -v '^WARNING: Location' || true; }

$(VENV_STAMP): requirements.txt
	@$(SYSDEPS) nodejs zip unzip
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | $(PIP_QUIET)
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## the Python virtual environment from the pinned requirements

# Terraform uses the local provider mirror when this machine has one; elsewhere it downloads providers itself.
$(TF_RC):
	@mkdir -p $(BUILD)
	@$(ROOT)/scripts/terraform-rc.sh > $@

CHECKOV_VENV := $(BUILD)/checkov-venv
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@[ -x $(CHECKOV_VENV)/bin/python ] || python3 -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt 2>&1 | $(PIP_QUIET)
	@touch $@

STACK      := tap-stack
STACK_DIR  := $(ROOT)/cdktf.out/stacks/$(STACK)
STACK_JSON := $(STACK_DIR)/cdk.tf.json
PY_SOURCES := $(wildcard lib/*.py local/*.py) main.py
PY_LINTED  := lib local ops tests main.py
PYTEST     := $(PY) -m pytest
export TF_CLI_CONFIG_FILE := $(TF_RC)

.PHONY: lint-py synth checkov test-py-unit test-py-integration test-py
lint-py: $(VENV_STAMP) ## ruff (lint + format check) and mypy over the Python
	@$(VENV)/bin/ruff check -q $(PY_LINTED)
	@$(VENV)/bin/ruff format -q --check $(PY_LINTED)
	@$(VENV)/bin/mypy --disallow-untyped-defs --no-error-summary --exclude 'lib/lambda/' lib local ops

# The production stack (no local endpoint): what checkov scans and what `terraform apply` deploys.
$(STACK_JSON): $(VENV_STAMP) $(ZIP) $(PY_SOURCES) config/alert-rules.json config/alert-rules.schema.json
	@$(PY) main.py
	@echo "synth: $(STACK_JSON)"

synth: $(VENV_STAMP) $(ZIP) ## synthesize the stack into cdktf.out/stacks/tap-stack/cdk.tf.json
	@rm -f $(STACK_JSON)
	@$(MAKE) $(STACK_JSON)

checkov: $(CHECKOV_VENV)/.installed $(STACK_JSON) ## checkov over the synthesized stack (suppressions in code)
	@$(PY) -m local.checkov_gate --checkov $(CHECKOV_VENV)/bin/checkov $(STACK_JSON)

test-py-unit: $(VENV_STAMP) $(TF_RC) ## Python unit tests only, no coverage gate (fast iteration)
	@$(PYTEST) -q -m 'not integration' tests/unit

test-py-integration: $(VENV_STAMP) $(TF_RC) ## the emulator deployment tests only (moto + terraform)
	@$(PYTEST) -q -m integration tests/integration

# Every test binary and artifact the Python tests drive: the coverage build of the function (its runs count
# for coverage-cpp), the arm64 zip and toolchain probe, the AWS SigV4 test suite.
PY_TEST_ENV := TAP_BOOTSTRAP=$(CPP_COV)/src/bootstrap TAP_ECHO_FUNCTION=$(CPP_COV)/tests/runtime/echo_function \
               TAP_AWS_CLI=$(CPP_COV)/tests/aws/aws_cli TAP_AWS4_TESTSUITE=$(AWS4_TESTSUITE) \
               TAP_REQUIRE_ZIP=1 TAP_REQUIRE_PROBE=1
test-py: $(VENV_STAMP) $(TF_RC) cpp-cov-reset package probe-arm64 aws-testsuite ## every Python test, 100 % line and branch coverage of lib/, local/ and ops/ enforced
	@$(PY_TEST_ENV) $(PYTEST) -q -p no:cacheprovider --cov=lib --cov=local --cov=ops --cov-report=term-missing:skip-covered \
	  --cov-fail-under=100 tests

TEST_TARGETS += lint-py checkov test-py
