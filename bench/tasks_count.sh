#!/bin/bash
# bench/tasks_count.sh [SEER_LUA [N]]: user-space instructions per task (spawn + sleep(0) + finish
# + wait, bench/tasks.lua's timed loop) and per bare coroutine (its floor), counted with
# valgrind --tool=callgrind (load does not move a count; these VMs expose no PMU for perf). Each
# figure is the difference between a run with N and one with 0, divided by N.
# Run from the source tree; SEER_LUA defaults to build/seer-lua, N to 20000.
set -euo pipefail
BIN=${1:-build/seer-lua}
N=${2:-20000}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
count() { # $1: N, $2: tasks|floor
  valgrind --tool=callgrind --callgrind-out-file="$d/out" "$BIN" bench/tasks.lua --once "$1" "$2" \
    >/dev/null 2>&1
  grep -E '^(summary|totals):' "$d/out" | head -1 | awk '{print $2}'
}
for mode in tasks floor; do
  a=$(count 0 "$mode")
  b=$(count "$N" "$mode")
  echo "$mode: $(((b - a) / N)) instructions per task"
done
