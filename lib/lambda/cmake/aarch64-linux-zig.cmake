# Cross toolchain for the Lambda arm64 `bootstrap` (provided.al2023 on Graviton): zig's clang from PyPI
# (scripts/zig/), target aarch64-linux-gnu with glibc symbols pinned to <= 2.34 (Amazon Linux 2023) and libc++
# linked statically, so that the binary needs nothing but the system glibc.
# Usage: cmake -DCMAKE_TOOLCHAIN_FILE=lib/lambda/cmake/aarch64-linux-zig.cmake -DTAP_ARM64_SYSROOT=DIR ...
# where DIR is made by scripts/arm64-sysroot.sh (OpenSSL's static arm64 archives and headers from Debian).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

get_filename_component(_tap_zig_dir "${CMAKE_CURRENT_LIST_DIR}/../../../scripts/zig" ABSOLUTE)
set(CMAKE_C_COMPILER "${_tap_zig_dir}/cc")
set(CMAKE_CXX_COMPILER "${_tap_zig_dir}/c++")
set(CMAKE_AR "${_tap_zig_dir}/ar" CACHE FILEPATH "zig ar")
set(CMAKE_RANLIB "${_tap_zig_dir}/ranlib" CACHE FILEPATH "zig ranlib")
# zig objcopy cannot strip aarch64 binaries with debug info yet; binutils-aarch64-linux-gnu can.
set(CMAKE_STRIP /usr/bin/aarch64-linux-gnu-strip CACHE FILEPATH "strip for aarch64")

# The try_compile projects CMake runs for checks must see the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TAP_ARM64_SYSROOT)
if(NOT TAP_ARM64_SYSROOT)
  get_filename_component(TAP_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../../../build/arm64-sysroot" ABSOLUTE)
endif()
if(NOT EXISTS "${TAP_ARM64_SYSROOT}/usr/lib/libcrypto.a")
  message(FATAL_ERROR "arm64 sysroot not found at ${TAP_ARM64_SYSROOT}: run scripts/arm64-sysroot.sh "
                      "${TAP_ARM64_SYSROOT} (make package does this for you)")
endif()

# Libraries and headers only from the curated sysroot, never from the host (no /usr/include: its glibc 2.36
# and amd64 headers would shadow zig's own); programs (perl, python) from the host.
set(CMAKE_FIND_ROOT_PATH "${TAP_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(OPENSSL_USE_STATIC_LIBS TRUE)

# The binary runs from /var/task on Lambda and under qemu here: no RPATH pointing into the build tree.
set(CMAKE_SKIP_BUILD_RPATH TRUE)
