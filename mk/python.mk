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
