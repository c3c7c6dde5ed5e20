# C++ function (lib/lambda): build, unit tests with the line-coverage gate, sanitizer run, benchmarks, fuzzing.
CPP_SYSDEPS := g++ cmake ninja-build pkg-config libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
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

cpp-test-quick: cpp-build ## C++ unit tests only, no gates (fast iteration)
	@ctest --test-dir $(BUILD)/cpp --output-on-failure -j $(NPROC)
