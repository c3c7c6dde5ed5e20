# lambda_function.zip (F10): the arm64 `bootstrap` for provided.al2023 on Graviton, cross-built with zig's
# clang (PyPI ziglang, glibc symbols <= 2.34, libc++ static), OpenSSL's static arm64 archives from Debian,
# stripped, zipped deterministically (bootstrap only: the rules live in the rules table). Checked by `test-package` (ELF machine, needed
# libraries, glibc ceiling, zip layout) and the toolchain probe, which does HTTPS + simdjson under qemu.
# libc6:arm64 (multiarch) puts the aarch64 loader at /lib/ld-linux-aarch64.so.1: qemu-aarch64 needs no -L.
# binutils-aarch64-linux-gnu: the strip for aarch64 (the host's strip and `zig objcopy` cannot do it).
PKG_SYSDEPS    := cmake ninja-build qemu-user libc6:arm64 libssl-dev:arm64 binutils-aarch64-linux-gnu
ZIG_TOOLCHAIN  := $(LAMBDA_DIR)/cmake/aarch64-linux-zig.cmake
ARM64_SYSROOT  := $(BUILD)/arm64-sysroot
ARM64_DIR      := $(BUILD)/arm64
PROBE_ARM64    := $(BUILD)/probe-arm64
PROBE_HOST     := $(BUILD)/probe-host
PKG_STAGE      := $(BUILD)/package
PROBE_SRC      := $(LAMBDA_DIR)/tests/package
# zig's caches (libc++, glibc stubs: about a minute to fill, seconds afterwards) stay inside the build tree.
export ZIG_GLOBAL_CACHE_DIR := $(BUILD)/zig-cache
ARM64_CMAKE    := -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=$(ZIG_TOOLCHAIN) \
                  -DTAP_ARM64_SYSROOT=$(ARM64_SYSROOT) -DTAP_DEPS_DIR=$(DEPS_DIR)
ARM64_BOOTSTRAP := $(ARM64_DIR)/bin/bootstrap
PKG_JOBS       := $(if $(filter 1,$(NPROC)),1,2)

$(ARM64_SYSROOT)/.ready: $(ROOT)/scripts/arm64-sysroot.sh
	@$(SYSDEPS) $(PKG_SYSDEPS)
	@$(ROOT)/scripts/arm64-sysroot.sh $(ARM64_SYSROOT)
	@touch $@

# A changed toolchain file invalidates CMake's cached compiler checks: configure from scratch then.
$(ARM64_DIR)/build.ninja: $(ZIG_TOOLCHAIN) | $(ARM64_SYSROOT)/.ready $(DEPS_STAMP) $(VENV_STAMP)
	@rm -rf $(ARM64_DIR)
	@cmake $(ARM64_CMAKE) -S $(LAMBDA_DIR) -B $(ARM64_DIR) -DTAP_TESTS=OFF \
	  -DCMAKE_RUNTIME_OUTPUT_DIRECTORY=$(ARM64_DIR)/bin >/dev/null

# Always asks ninja (it knows the sources); the file's mtime only changes when the binary was relinked,
# so that everything below stays untouched when nothing changed.
$(ARM64_BOOTSTRAP): $(ARM64_DIR)/build.ninja FORCE
	@ninja -C $(ARM64_DIR) build.ninja >/dev/null  # re-runs CMake first if the project changed
	@cmake --build $(ARM64_DIR) --target bootstrap -j $(PKG_JOBS)
	@[ -x $@ ] || { echo "make package: bootstrap was built but not at $@ (its own output directory?)" >&2; exit 1; }

$(PKG_STAGE)/bootstrap: $(ARM64_BOOTSTRAP)
	@mkdir -p $(PKG_STAGE)
	@aarch64-linux-gnu-strip --strip-all -o $@.tmp $< && chmod 0755 $@.tmp && mv -f $@.tmp $@

$(ZIP): $(PKG_STAGE)/bootstrap $(ROOT)/scripts/package_zip.py
	@$(PY) $(ROOT)/scripts/package_zip.py $@ $(PKG_STAGE)/bootstrap

.PHONY: package probe-arm64 probe-host test-package FORCE
FORCE:
package: $(ZIP) ## lambda_function.zip: the arm64 bootstrap (zig cross build, stripped), nothing else
	@echo "$(notdir $(ZIP)): $$(stat -c %s $(ZIP)) bytes (bootstrap $$(stat -c %s $(PKG_STAGE)/bootstrap)" \
	      "bytes stripped), sha256 $$(sha256sum $(ZIP) | cut -c1-16)"

# The toolchain probe (lib/lambda/tests/package): arm64 through the same toolchain, and a host build
# (g++) as the cold-start reference.
$(PROBE_ARM64)/build.ninja: $(ZIG_TOOLCHAIN) | $(ARM64_SYSROOT)/.ready $(DEPS_STAMP) $(VENV_STAMP)
	@rm -rf $(PROBE_ARM64)
	@cmake $(ARM64_CMAKE) -S $(PROBE_SRC) -B $(PROBE_ARM64) >/dev/null

$(PROBE_HOST)/build.ninja: | $(DEPS_STAMP)
	@cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAP_DEPS_DIR=$(DEPS_DIR) -S $(PROBE_SRC) -B $(PROBE_HOST) >/dev/null

probe-arm64: $(PROBE_ARM64)/build.ninja ## the arm64 toolchain probe (HTTPS + simdjson), run by test-package
	@cmake --build $(PROBE_ARM64) -j $(PKG_JOBS)

probe-host: $(PROBE_HOST)/build.ninja ## the host build of the toolchain probe (cold-start reference)
	@cmake --build $(PROBE_HOST) -j $(PKG_JOBS)

# What the arm64 checks in tests/unit/test_package.py need (test-py runs them with TAP_REQUIRE_*=1).
test-package: package probe-arm64 $(VENV_STAMP) ## arm64 checks only: probe under qemu, zip layout, ELF/glibc
	@TAP_REQUIRE_ZIP=1 TAP_REQUIRE_PROBE=1 $(PY) -m pytest -q -p no:cacheprovider tests/unit/test_package.py
