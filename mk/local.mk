# The local system (emulator, Runtime API, event source, feed) and `make demo`.
# demo: start moto, build the host function and the zip, synthesize + apply the stack for the local endpoint
# (short visibility timeout and maxReceiveCount so that retries and redrives take seconds), then
# local/demo.py: capture queue on the trading topic, the stack's API served locally (the front before the
# host bootstrap as the API function), two traders and an operator signed in who import and change rules
# through it, the event source running the host bootstrap, the sample feed at DEMO_RATE messages/s, live
# view, summary, each trader's alerts through the API. Then destroy and stop moto. Everything runs
# in one shell whose EXIT/INT/TERM trap destroys the stack and stops moto, also on Ctrl-C; the demo's
# function processes are its children and end with it. No terraform state is left behind (the stack
# directory lives in build/demo and is removed).
DEMO_DIR   := $(BUILD)/demo
DEMO_STACK := $(DEMO_DIR)/cdktf.out/stacks/$(STACK)
DEMO_STATE := $(DEMO_DIR)/moto.json
DEMO_FEED  ?= $(ROOT)/local/data/sample-feed.jsonl
DEMO_RATE  ?= 30
DEMO_CONCURRENCY ?= 5
HOST_BOOTSTRAP := $(BUILD)/cpp/src/bootstrap
LOCAL_AWS_ENV := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
                 AWS_DEFAULT_REGION=us-east-1 TF_STATE_PATH=terraform.tfstate \
                 VISIBILITY_TIMEOUT_SECONDS=20 MAX_RECEIVE_COUNT=2 ENVIRONMENT_SUFFIX=demo

# Only the bootstrap target of the host build (cpp-build also builds every test: minutes on a fresh clone).
.PHONY: host-bootstrap
host-bootstrap: $(DEPS_STAMP)
	@[ -f $(BUILD)/cpp/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/cpp --target bootstrap tap_rules -j $(NPROC)
	@[ -x $(HOST_BOOTSTRAP) ] && [ -x $(BUILD)/cpp/src/tap_rules ]

.PHONY: demo
demo: $(VENV_STAMP) $(ZIP) $(TF_RC) host-bootstrap ## the whole system locally: emulator, deploy, feed, live view, tear down
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@started=$$(date +%s); \
	url=$$($(PY) -m local.emulator start --state-file $(DEMO_STATE) --log $(DEMO_DIR)/moto.log); \
	cleanup() { \
	  trap - EXIT INT TERM; \
	  if [ -f $(DEMO_STACK)/terraform.tfstate ]; then echo "demo: terraform destroy"; \
	    $(PY) -m local.terraform down --dir $(DEMO_STACK) >/dev/null || echo "demo: destroy failed"; fi; \
	  $(PY) -m local.emulator stop --state-file $(DEMO_STATE); \
	  rm -rf $(DEMO_DIR)/cdktf.out; \
	  echo "demo: stopped everything after $$(( $$(date +%s) - started )) s"; \
	}; \
	trap cleanup EXIT; trap 'exit 130' INT TERM; \
	echo "demo: local AWS emulator (moto) at $$url"; \
	export $(LOCAL_AWS_ENV) AWS_ENDPOINT_URL=$$url; \
	$(PY) -c 'import sys; from lib.app import main; sys.exit(main(outdir="$(DEMO_DIR)/cdktf.out"))'; \
	echo "demo: terraform apply (about 100 s here: the provider waits on each queue)"; \
	$(PY) -m local.terraform up --dir $(DEMO_STACK); \
	terraform -chdir=$(DEMO_STACK) output -json > $(DEMO_DIR)/outputs.json; \
	$(PY) -m local.demo --outputs $(DEMO_DIR)/outputs.json --endpoint-url $$url --feed $(DEMO_FEED) \
	  --rate $(DEMO_RATE) --concurrency $(DEMO_CONCURRENCY) $(HOST_BOOTSTRAP)

# The integration tests run the host bootstrap (tests/integration/test_deployment.py): build it first.
test-py test-py-integration: host-bootstrap

# The hot-symbol feed (local/hot_feed.py): one symbol at HOT_FEED_RATE ticks/s of event time beside the usual
# symbols, unordered as SQS delivers it. `make demo DEMO_FEED=build/hot-feed.jsonl` sends it through the stack.
HOT_FEED      ?= $(BUILD)/hot-feed.jsonl
HOT_FEED_RATE ?= 3000
HOT_FEED_ARGS ?=
.PHONY: hot-feed
hot-feed: $(VENV_STAMP) ## write the hot-symbol feed to HOT_FEED (HOT_FEED_RATE ticks/s; HOT_FEED_ARGS: local/hot_feed.py)
	@$(PY) -m local.hot_feed --rate $(HOT_FEED_RATE) --out $(HOT_FEED) $(HOT_FEED_ARGS)
