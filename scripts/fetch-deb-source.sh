#!/usr/bin/env bash
# Unpacks a Debian *source* package into DEST/<pkg> without touching the system's apt configuration.
# Why: cpp-httplib's single header and simdjson's amalgamation are only in Debian's source packages, and
# both the host and the arm64 build compile them into the binary from the same source.
# Usage: fetch-deb-source.sh DEST PKG[=VERSION]...
set -euo pipefail
dest=$1; shift
mkdir -p "$dest"
apt_dir="$dest/.apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
src_list="$apt_dir/sources.list"
[ -f "$src_list" ] || cat >"$src_list" <<'LIST'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$src_list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
          -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
need_update=1
for spec in "$@"; do
  pkg=${spec%%=*}
  [ -f "$dest/$pkg/.unpacked" ] && continue
  if [ $need_update = 1 ]; then
    apt-get "${apt_opts[@]}" -qq update
    need_update=0
  fi
  work=$(mktemp -d "$dest/.work.XXXXXX")
  (cd "$work" && apt-get "${apt_opts[@]}" -qq source "$spec" >/dev/null)
  rm -rf "${dest:?}/$pkg"
  src_dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  mv "$src_dir" "$dest/$pkg"
  rm -rf "$work"
  touch "$dest/$pkg/.unpacked"
done
