#!/usr/bin/env bash
# Installs everything seer-lua builds and tests with: Debian 12 packages, and with --venv DIR the
# Python packages of tools/python/test.txt (PyPI) into a virtual environment at DIR (tools/venv.sh),
# never into the system Python. npm is not used here: the test peers in tests/peers/*.js need only
# Node.js itself. Idempotent: packages already present are skipped. Uses sudo when not run as root.
#   usage: tools/install-deps.sh [--venv DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=""
while [[ $# -gt 0 ]]; do
  case $1 in
  --venv) venv=${2:?--venv needs a directory}; shift 2 ;;
  *) echo "install-deps: unknown argument '$1' (valid: --venv DIR)" >&2; exit 2 ;;
  esac
done
packages=(
  build-essential cmake pkg-config git ca-certificates
  liblua5.4-dev lua5.4 libluajit-5.1-dev luajit
  libmsgpack-dev libcurl4-openssl-dev libuv1-dev libseccomp-dev libjansson-dev
  libpcre2-dev libutf8proc-dev libedit-dev libopenblas-dev
  libssl-dev # runtime/hub: sha256 of downloaded model files (libcrypto)
  lua-busted lua-check clang-format
  python3 python3-venv
  libzip-dev # seer.sae: Gemma Scope's params.npz archives
  clang libclang-rt-14-dev # tests/fuzz: libFuzzer and the sanitizer runtimes
  slurmd slurmctld slurm-client munge # the slurm backend's tests: a real one-node cluster
  libzmq3-dev # the Jupyter kernel (runtime/jupyter): ZeroMQ (HMAC-SHA256 from libssl-dev above)
  python3-jupyter-client jupyter-client python3-nbconvert jupyter-nbconvert python3-nbformat jupyter-core python3-ipykernel # kernel tests, bench/kernel
  libplplot-dev plplot-driver-cairo libcairo2-dev fonts-dejavu-core # seer.plot (runtime/plot)
  jupyter-notebook chromium # session.jupyter_url and tests/python/notebook_browser_test.py (kernel)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: Debian packages done"
fi
if [[ -n $venv ]]; then
  "$root/tools/venv.sh" "$venv" test >/dev/null
  echo "install-deps: Python venv ready at $venv"
fi
