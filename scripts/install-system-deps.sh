#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those still missing (quiet and fast when all are there).
# Usage: install-system-deps.sh PKG...   (arch-qualified names like libssl-dev:arm64 enable that architecture)
set -euo pipefail
missing=()
for pkg in "$@"; do
  if [[ $pkg == *:* ]]; then
    arch=${pkg##*:}
    dpkg --print-foreign-architectures | grep -qx "$arch" || {
      [ "$(dpkg --print-architecture)" = "$arch" ] || { dpkg --add-architecture "$arch"; rm -f /tmp/.tap-apt-updated; }
    }
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
echo "installing system packages: ${missing[*]}"
# One `apt-get update` per boot is enough; a stale list makes installs fail with 404s.
if [ ! -f /tmp/.tap-apt-updated ]; then $sudo apt-get update -qq && touch /tmp/.tap-apt-updated; fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
