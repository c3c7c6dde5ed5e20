# The operators' rules command (tap_rules, lib/lambda/src/tools/tap_rules.cpp) against the local system: the
# moto of a running `make demo` (its state file), or whatever AWS_ENDPOINT_URL names; RULES_TABLE defaults to
# the demo stack's rules table. Against a real account, run build/cpp/src/tap_rules with your own
# credentials (lib/README.md, "Operating rules").
RULES_TOOL  := $(BUILD)/cpp/src/tap_rules
RULES_TABLE ?= alert-rules-demo
RULES_ENV    = url=$${AWS_ENDPOINT_URL:-$$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' $(DEMO_STATE) 2>/dev/null || true)}; \
	[ -n "$$url" ] || { echo "no local system: start make demo, or set AWS_ENDPOINT_URL to a moto server" >&2; exit 1; }; \
	export $(LOCAL_AWS_ENV) AWS_ENDPOINT_URL=$$url RULES_TABLE=$(RULES_TABLE)

.PHONY: rules-tool-bin import-rules rules-tool
rules-tool-bin: $(DEPS_STAMP)
	@[ -f $(BUILD)/cpp/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/cpp --target tap_rules -j $(NPROC) >/dev/null

import-rules: rules-tool-bin ## import rules document FILE for OWNER into the local system (make import-rules OWNER=alice FILE=config/alert-rules.json)
	@[ -n "$(OWNER)" ] && [ -n "$(FILE)" ] || { echo "usage: make import-rules OWNER=<owner> FILE=<rules document>" >&2; exit 2; }
	@$(RULES_ENV); $(RULES_TOOL) import --owner "$(OWNER)" "$(FILE)"

rules-tool: rules-tool-bin ## the operators' rules command on the local system: make rules-tool ARGS="suspend MSFT" (ARGS=--help lists all)
	@$(RULES_ENV); $(RULES_TOOL) $(ARGS)
