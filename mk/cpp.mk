# C++ function (lib/lambda): build, unit tests with the line-coverage gate, sanitizer run, benchmarks, fuzzing.
CPP_SYSDEPS := g++ cmake ninja-build pkg-config libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
# The fuzzer needs Debian's clang with its libFuzzer runtime; format-check needs clang-format.
FUZZ_SYSDEPS := clang libclang-rt-14-dev
FORMAT_SYSDEPS := clang-format
CMAKE_GEN  := -G Ninja -S $(LAMBDA_DIR) -DTAP_DEPS_DIR=$(DEPS_DIR)

$(DEPS_STAMP): scripts/fetch-deb-source.sh
	@$(SYSDEPS) $(CPP_SYSDEPS) dpkg-dev
	@$(ROOT)/scripts/fetch-deb-source.sh $(DEPS_DIR) simdjson cpp-httplib
	@touch $@

.PHONY: cpp-deps cpp-build cpp-test-quick
cpp-deps: $(DEPS_STAMP)

# Release-like host build (what the local system and the black-box tests run).
cpp-build: $(DEPS_STAMP) ## host build of the function and its tests (build/cpp)
	@[ -f $(BUILD)/cpp/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/cpp -j $(NPROC)

# tap_validate (host): the function's own rules/settings validators, run by the package step and the tests.
VALIDATOR := $(BUILD)/cpp/src/tap_validate
$(VALIDATOR): $(DEPS_STAMP) FORCE
	@[ -f $(BUILD)/cpp/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)/cpp --target tap_validate >/dev/null

cpp-test-quick: cpp-build ## C++ unit tests only, no gates (fast iteration)
	@ctest --test-dir $(BUILD)/cpp --output-on-failure -j $(NPROC)

# ---- gates and tools (make test runs format-check, test-cpp, test-cpp-sanitize) ----
.PHONY: cpp-cov-build cpp-cov-reset test-cpp coverage-cpp test-cpp-sanitize bench-cpp fuzz format-check
FUZZ_SECONDS ?= 300
LAMBDA_SOURCES = $(shell find $(LAMBDA_DIR)/include $(LAMBDA_DIR)/src $(LAMBDA_DIR)/tests $(LAMBDA_DIR)/bench \
                   $(LAMBDA_DIR)/fuzz -name '*.cpp' -o -name '*.hpp' 2>/dev/null)

# Unit tests in a coverage build. The 100 % line gate (coverage-cpp) counts the runs of test-cpp and of the
# Python black-box tests (test-py runs this build's bootstrap): both are its prerequisites, and both start
# after cpp-cov-reset has zeroed the counters once, so that `make -j test` runs them side by side safely.
CPP_COV := $(BUILD)/cpp-cov
cpp-cov-build: $(DEPS_STAMP)
	@[ -f $(CPP_COV)/build.ninja ] || cmake $(CMAKE_GEN) -B $(CPP_COV) -DCMAKE_BUILD_TYPE=Debug -DTAP_COVERAGE=ON >/dev/null
	@cmake --build $(CPP_COV) -j $(NPROC)

cpp-cov-reset: cpp-cov-build
	@# Objects of sources that were moved or deleted would leave notes gcovr cannot map: drop them.
	@ninja -C $(CPP_COV) -t cleandead >/dev/null
	@find $(CPP_COV) -name '*.gcno' | while read -r note; do [ -f "$${note%.gcno}.o" ] || rm -f "$$note"; done
	@find $(CPP_COV) -name '*.gcda' -delete

test-cpp: cpp-cov-reset ## C++ unit tests in the coverage build (build/cpp-cov); the gate is coverage-cpp
	@ctest --test-dir $(CPP_COV) --output-on-failure -j $(NPROC) | tail -n 3

coverage-cpp: $(VENV_STAMP) test-cpp test-py ## the 100 % line gate over lib/lambda/src (after test-cpp and test-py)
	@cd $(LAMBDA_DIR) && $(PY) -m gcovr --root $(LAMBDA_DIR) --filter 'src/' --exclude 'tests/' --exclude 'bench/' \
	  --exclude 'fuzz/' --exclude '.*/deps/.*' --gcov-ignore-parse-errors=negative_hits.warn_once_per_file \
	  --txt-summary --txt $(CPP_COV)/coverage.txt --fail-under-line 100 $(CPP_COV) \
	  || { grep -v ' 100%' $(CPP_COV)/coverage.txt; echo "C++ line coverage below 100 % (see above)"; exit 1; }

test-cpp-sanitize: $(DEPS_STAMP) ## C++ unit tests under AddressSanitizer + UBSan (build/cpp-asan)
	@[ -f $(BUILD)/cpp-asan/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp-asan -DCMAKE_BUILD_TYPE=Debug -DTAP_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)/cpp-asan -j $(NPROC)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(BUILD)/cpp-asan --output-on-failure -j $(NPROC) | tail -n 3

bench-cpp: $(DEPS_STAMP) ## Google Benchmark figures of the core (Release build in build/cpp-bench)
	@[ -f $(BUILD)/cpp-bench/build.ninja ] || cmake $(CMAKE_GEN) -B $(BUILD)/cpp-bench -DCMAKE_BUILD_TYPE=Release -DTAP_BENCH=ON -DTAP_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)/cpp-bench -j $(NPROC) --target tap_core_bench
	@$(BUILD)/cpp-bench/bench/tap_core_bench --benchmark_min_time=0.5

# libFuzzer on the event/tick parsers for FUZZ_SECONDS; the corpus grows in build/fuzz-corpus (seeds in git).
fuzz: $(DEPS_STAMP) ## fuzz the SQS event / tick parsers for FUZZ_SECONDS (default 300)
	@$(SYSDEPS) $(FUZZ_SYSDEPS)
	@[ -f $(BUILD)/cpp-fuzz/build.ninja ] || CC=clang CXX=clang++ cmake $(CMAKE_GEN) -B $(BUILD)/cpp-fuzz \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAP_FUZZ=ON -DTAP_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)/cpp-fuzz -j $(NPROC) --target tap_fuzz_parsers
	@mkdir -p $(BUILD)/fuzz-corpus $(BUILD)/fuzz-artifacts
	@$(BUILD)/cpp-fuzz/fuzz/tap_fuzz_parsers -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
	  -artifact_prefix=$(BUILD)/fuzz-artifacts/ -print_final_stats=1 \
	  $(BUILD)/fuzz-corpus $(LAMBDA_DIR)/fuzz/corpus 2>&1 | grep -E '^#[0-9]+.*(DONE|pulse)|^(stat::|==|SUMMARY|INFO: Done)' || true
	@echo "corpus: $$(ls $(BUILD)/fuzz-corpus | wc -l) files in build/fuzz-corpus; crashes: $$(ls $(BUILD)/fuzz-artifacts | wc -l)"
	@[ -z "$$(ls $(BUILD)/fuzz-artifacts)" ]

format-check: ## clang-format --dry-run --Werror over the C++ sources of lib/lambda
	@$(SYSDEPS) $(FORMAT_SYSDEPS)
	@clang-format --dry-run --Werror $(LAMBDA_SOURCES)

TEST_TARGETS += format-check test-cpp test-cpp-sanitize
