#!/usr/bin/env bash
# Builds a curated arm64 sysroot of symlinks for the zig cross build: only OpenSSL's static archives and
# headers from Debian's multiarch libssl-dev:arm64, nothing else. Why curated: pointing CMake at / or
# /usr/include would mix amd64 headers and glibc 2.36 headers into a build that must target glibc 2.34
# (zig brings its own glibc headers and stubs for that); the sysroot holds exactly what zig does not.
# Usage: arm64-sysroot.sh DEST
set -euo pipefail
dest=$1
triple=aarch64-linux-gnu
for f in /usr/lib/$triple/libssl.a /usr/lib/$triple/libcrypto.a /usr/include/$triple/openssl/configuration.h; do
  [ -e "$f" ] || { echo "missing $f: install libssl-dev:arm64" >&2; exit 1; }
done
tmp=$(mktemp -d "$dest.tmp.XXXXXX")
mkdir -p "$tmp/usr/lib" "$tmp/usr/include/openssl"
ln -s /usr/lib/$triple/libssl.a /usr/lib/$triple/libcrypto.a "$tmp/usr/lib/"
# Debian splits the headers: architecture-independent ones in /usr/include/openssl, the generated
# configuration (word size, enabled features) in the multiarch directory. Merge both into one openssl/.
ln -s /usr/include/openssl/*.h "$tmp/usr/include/openssl/"
ln -sf /usr/include/$triple/openssl/*.h "$tmp/usr/include/openssl/"
rm -rf "$dest"
mv "$tmp" "$dest"
