# Python side: the venv, lint, synthesis, checkov and the pytest suites (unit + integration, coverage gate).
VENV_STAMP := $(VENV)/.installed
TF_RC := $(BUILD)/terraform.rc

$(VENV_STAMP): requirements.txt
	@$(SYSDEPS) nodejs zip unzip
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## the Python virtual environment from the pinned requirements

# Terraform uses the local provider mirror when this machine has one; elsewhere it downloads providers itself.
$(TF_RC):
	@mkdir -p $(BUILD)
	@$(ROOT)/scripts/terraform-rc.sh > $@
