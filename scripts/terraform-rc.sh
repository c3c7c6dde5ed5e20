#!/usr/bin/env bash
# Prints a terraform CLI config: the local provider mirror for hashicorp/* when this machine has one
# (no registry is reachable here), the public registry for everything else and on other machines.
set -euo pipefail
mirror=${TF_PROVIDER_MIRROR:-/opt/tf-plugins}
if [ -d "$mirror/registry.terraform.io/hashicorp" ]; then
  cat <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
fi
