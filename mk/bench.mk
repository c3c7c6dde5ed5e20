# Benchmarks (issue 8): the C++ function against the comparison baseline (bench/baseline, Python 3.11 + boto3
# + Powertools), side by side in one run; writes bench/results/latest.json and latency.png, prints the table.
# Release build of its own: -O2, because GCC 12 at -O3 reports a false -Wrestrict inside libstdc++'s
# string insert (aws_error.cpp) and warnings are errors.
BENCH_BUILD := $(BUILD)/cpp-release
BENCH_ARGS ?=

.PHONY: bench bench-build bench-rules
bench-build: $(DEPS_STAMP)
	@[ -f $(BENCH_BUILD)/build.ninja ] || cmake $(CMAKE_GEN) -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  '-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG' -DTAP_TESTS=OFF -DTAP_BENCH=ON >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(NPROC) --target bootstrap tap_rules tap_core_bench tap_rules_scale_bench
	@test -x $(BENCH_BUILD)/src/bootstrap -a -x $(BENCH_BUILD)/bench/tap_core_bench

bench: $(VENV_STAMP) bench-build ## C++ vs the Python baseline side by side, the cost model and the AWS latency model replay (~11 min)
	@$(PY) -m bench.run --build $(BENCH_BUILD) $(BENCH_ARGS)
	@$(PY) -m bench.critical_path --build $(BENCH_BUILD) $(AWS_MODEL_ARGS)

# The call graphs under the AWS latency model alone (~3 min, bench/critical_path.py): C++, the sequential and
# the threaded baseline recorded live behind latency proxies, replayed 10,000 times; the targets, capacity,
# tick-to-notification per event source setting and cost; replaces `aws_model` in bench/results/latest.json
# and writes bench/results/aws_model.png (make bench runs it too). AWS_MODEL_ARGS: --batches, --seed.
AWS_MODEL_ARGS ?=
.PHONY: bench-aws-model
bench-aws-model: $(VENV_STAMP) bench-build ## call graphs under the AWS latency model: per-batch p50/p99, capacity, cost
	@$(PY) -m bench.critical_path --build $(BENCH_BUILD) $(AWS_MODEL_ARGS)

# rules_scale alone (~1 min): the rule index at 10 .. 1,000,000 versions; replaces `rules_scale` in
# bench/results/latest.json (make bench measures it too).
bench-rules: $(VENV_STAMP) $(DEPS_STAMP) ## only the rules_scale benchmark (rule index at 10 .. 1,000,000 versions)
	@[ -f $(BENCH_BUILD)/build.ninja ] || cmake $(CMAKE_GEN) -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  '-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG' -DTAP_TESTS=OFF -DTAP_BENCH=ON >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(NPROC) --target tap_rules_scale_bench
	@$(PY) -m bench.rules_scale --build $(BENCH_BUILD)

PY_LINTED += bench

# requests_scale and burst (~10 min on moto): the real host bootstrap behind the fault proxy, DynamoDB and
# SNS requests and state bytes per batch at 10 and 10,000 rules, and the 10,000-alert burst (clean, killed
# mid-burst, throttled); replaces those two keys in bench/results/latest.json. REQUESTS_ARGS: bench/requests_scale.py.
REQUESTS_ARGS ?=
.PHONY: bench-requests
bench-requests: $(VENV_STAMP) host-bootstrap ## DynamoDB requests/bytes per batch at 10 and 10,000 rules, and the 10,000-alert burst
	@$(PY) -m bench.requests_scale $(REQUESTS_ARGS)

# fidelity alone (~1-2 min on moto): the C++ function at concurrency 5 on the benchmark feed, its stored alerts
# per rule against the in-order replay (F3); replaces `fidelity` in bench/results/latest.json (make bench
# measures it too). A correctness figure, not a time: the host build will do.
.PHONY: bench-fidelity
bench-fidelity: $(VENV_STAMP) host-bootstrap ## only the fidelity figure (stored alerts vs in-order replay at concurrency 5)
	@$(PY) -m bench.run --only fidelity --build $(BUILD)/cpp

# The hot symbol through the function (bench/hot_symbol.py): state bytes per symbol per batch with one symbol
# at HOT_FEED_RATE ticks/s (local/hot_feed.py); writes `hot_symbol` into bench/results/latest.json.
.PHONY: bench-hot
bench-hot: $(VENV_STAMP) host-bootstrap ## state bytes per symbol per batch with a hot symbol at HOT_FEED_RATE ticks/s
	@$(PY) -m bench.hot_symbol --rate $(HOT_FEED_RATE) --bootstrap $(HOST_BOOTSTRAP)
