# The chaos campaign (issue 9, tests/chaos/campaign.py: a test tool): moto, the fault proxy with every fault kind at CHAOS_FAULT_RATE
# of the function's DynamoDB and SNS calls (each kind once first), an SNS outage of CHAOS_OUTAGE_SECONDS from
# CHAOS_OUTAGE_AT, the host bootstrap at CHAOS_CONCURRENCY behind the local event source, periodic SIGKILLs
# inside invocations, a seeded feed for CHAOS_SECONDS with the hostile corpus mixed in; then drain, redrive
# the DLQ (what the function rejected stays), drain, and check the invariant (exit status 1 when it does not
# hold). The summary is printed and kept in build/chaos.json. `make test` runs a short seeded one
# (tests/unit/test_chaos.py). The summary carries `fidelity` (F3: stored alerts against the in-order replay,
# per rule); with CHAOS_FIDELITY_GATE=1 (the default; empty turns it off) the run also fails unless every
# difference is explained (a tick beyond W, a counted mode choice).
CHAOS_SECONDS     ?= 600
CHAOS_FAULT_RATE  ?= 0.2
CHAOS_SEED        ?= 1
CHAOS_CONCURRENCY ?= 2
CHAOS_RATE        ?= 5
CHAOS_KILL_EVERY  ?= 10
CHAOS_OUTAGE_AT   ?= 240
CHAOS_OUTAGE_SECONDS ?= 60
CHAOS_FIDELITY_GATE ?= 1

.PHONY: chaos
chaos: $(VENV_STAMP) host-bootstrap ## long randomized fault/kill campaign (CHAOS_SECONDS, CHAOS_FAULT_RATE, CHAOS_SEED)
	@cd $(ROOT) && $(PY) -m tests.chaos.campaign --seconds $(CHAOS_SECONDS) --fault-rate $(CHAOS_FAULT_RATE) \
	  --seed $(CHAOS_SEED) --concurrency $(CHAOS_CONCURRENCY) --rate $(CHAOS_RATE) \
	  --kill-every $(CHAOS_KILL_EVERY) --outage-at $(CHAOS_OUTAGE_AT) --outage-seconds $(CHAOS_OUTAGE_SECONDS) \
	  --hostile $(if $(CHAOS_FIDELITY_GATE),--fidelity-gate) --bootstrap $(HOST_BOOTSTRAP) 2>$(BUILD)/chaos.log | tee $(BUILD)/chaos.json
