# AWS's Lambda Runtime Interface Emulator (RIE) for the conformance tests (tests/unit/test_rie_conformance.py,
# runner local/rie.py). AWS ships it inside the aws-sam-cli wheel: that one wheel is downloaded (no
# dependencies, its hash pinned here), the two RIE binaries are taken out of it, and the SAM CLI itself is
# never installed. To move to another SAM CLI release: its version and its wheel's sha256 below.
SAM_CLI_VERSION := 1.170.0
SAM_CLI_SHA256  := 24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf
RIE_DIR   := $(BUILD)/rie
RIE_STAMP := $(RIE_DIR)/.aws-sam-cli-$(SAM_CLI_VERSION)

$(RIE_STAMP): | $(VENV_STAMP)
	@rm -rf $(RIE_DIR) && mkdir -p $(RIE_DIR)/wheel
	@echo "aws-sam-cli==$(SAM_CLI_VERSION) --hash=sha256:$(SAM_CLI_SHA256)" > $(RIE_DIR)/wheel/requirement.txt
	@$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
	  -r $(RIE_DIR)/wheel/requirement.txt -d $(RIE_DIR)/wheel 2>&1 | $(PIP_QUIET)
	@unzip -qjo $(RIE_DIR)/wheel/aws_sam_cli-$(SAM_CLI_VERSION)-py3-none-any.whl \
	  'samcli/local/rapid/aws-lambda-rie-x86_64' 'samcli/local/rapid/aws-lambda-rie-arm64' -d $(RIE_DIR)
	@rm -rf $(RIE_DIR)/wheel
	@touch $@

.PHONY: rie
rie: $(RIE_STAMP) ## AWS's Runtime Interface Emulator binaries, out of the pinned aws-sam-cli wheel (build/rie)

# The conformance tests (test-py also builds the host bootstrap and the zip they run under it).
test-py test-py-unit: $(RIE_STAMP)
