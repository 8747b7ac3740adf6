#!/usr/bin/env bash
# One command from a fresh clone to the running demo: install dependencies, build, run the
# quickstart example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEER_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target seer-lua
exec "$root/build/seer-lua" "$root/examples/quickstart/main.lua"
