#!/usr/bin/env bash
# Creates or updates the Python virtual environment that tests and benchmarks use for their peers
# and references (HF tokenizers, jinja2, transformers, ...). Never touches the system Python.
#   usage: tools/venv.sh DIR [TIER ...]     TIER is a file tools/python/TIER.txt (default: test)
# Idempotent and safe to run from parallel builds: a tier is reinstalled only when its file changed.
# Prints DIR/bin/python on success.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: tools/venv.sh DIR [TIER ...]}
shift
tiers=("$@")
[[ ${#tiers[@]} -gt 0 ]] || tiers=(test)
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [[ ! -x $dir/bin/python ]]; then
  python3 -m venv "$dir" >&2 || {
    echo "venv.sh: 'python3 -m venv' failed; install Debian's python3-venv (tools/install-deps.sh does)" >&2
    exit 1
  }
fi
for tier in "${tiers[@]}"; do
  req=$root/tools/python/$tier.txt
  [[ -f $req ]] || { echo "venv.sh: no tier '$tier' (tools/python/$tier.txt)" >&2; exit 1; }
  stamp=$dir/.tier-$tier
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$sum" ]] && continue
  echo "venv.sh: installing tier '$tier' into $dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2 || {
    echo "venv.sh: pip could not install tools/python/$tier.txt into $dir" >&2
    exit 1
  }
  echo "$sum" >"$stamp"
done
echo "$dir/bin/python"
