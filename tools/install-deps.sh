#!/usr/bin/env bash
# Installs everything seer-lua builds and tests with, from Debian 12 packages (DESIGN §12).
# Idempotent: packages already present are skipped by apt. Uses sudo when not run as root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git ca-certificates
  liblua5.4-dev lua5.4 libluajit-5.1-dev luajit
  libmsgpack-dev libcurl4-openssl-dev libuv1-dev libseccomp-dev libjansson-dev
  libpcre2-dev libutf8proc-dev libedit-dev libopenblas-dev
  lua-busted lua-check clang-format
)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
