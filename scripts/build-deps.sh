#!/usr/bin/env bash
# The C libraries the Rust build links: xmlsec1 (SAML signature checks through samael), libxml2,
# OpenSSL, and libclang for samael's binding generator. Installs Debian's packages when missing.
set -euo pipefail

packages=(pkg-config libxmlsec1-dev libxml2-dev libssl-dev libclang-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian's ${missing[*]} (needed to build the SAML signature checks)"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
