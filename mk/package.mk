# lambda_function.zip: filled in by the packaging issue.
# Stand-in until then: a placeholder `bootstrap` (fails loudly if ever invoked) plus the rules document,
# so that synthesis, checkov and the emulator deployment can run.
STUB_DIR := $(BUILD)/package-stub

$(ZIP): config/alert-rules.json mk/package.mk
	@$(SYSDEPS) zip
	@mkdir -p $(STUB_DIR)
	@printf '#!/bin/sh\necho "placeholder bootstrap: the real function is built by the packaging issue" >&2\nexit 1\n' > $(STUB_DIR)/bootstrap
	@chmod 755 $(STUB_DIR)/bootstrap
	@cp config/alert-rules.json $(STUB_DIR)/alert-rules.json
	@rm -f $@ && cd $(STUB_DIR) && zip -q -X $@ bootstrap alert-rules.json

.PHONY: package
package: $(ZIP) ## lambda_function.zip (stand-in: placeholder bootstrap + alert-rules.json)
