#!/bin/bash
# bench/rpc_server_count.sh [SEER_LUA [N1 N2]]: what one no-op call costs `seer-lua serve` (and the
# Lua client that makes it, seer.rpc.connect from bench/rpc_client.lua), in
# counts that load does not move: user-space instructions (valgrind --tool=callgrind; the VMs we
# run on expose no PMU, so `perf stat -e instructions:u` is not available) and system calls
# (perf stat on the syscall tracepoints, native speed). Each is the difference between a server
# that answered 1.1*N2 calls and one that answered 1.1*N1 (bench/rpc_client.lua adds 10% warm-up
# calls), divided by the difference in calls: start-up and shut-down cancel out.
# Run from the source tree; SEER_LUA defaults to build/seer-lua.
set -euo pipefail
BIN=${1:-build/seer-lua}
N1=${2:-200}
N2=${3:-2200}
IFACE=bench/rpc_noop_interface.lua
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

# $1: calls, $2: callgrind|perf. Starts the server under the tool, makes the calls, stops it.
measure() {
  local sock=$d/s.sock out=$d/$1.$2
  rm -f "$sock" "$d/log"
  if [ "$2" = callgrind ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" serve $IFACE --listen "unix:$sock" \
      >"$d/log" 2>/dev/null &
  else
    perf stat -x, -o "$out" -e raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait \
      -e syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev \
      "$BIN" serve $IFACE --listen "unix:$sock" >"$d/log" &
  fi
  local pid=$! i
  for i in $(seq 600); do grep -q listening "$d/log" 2>/dev/null && break; sleep 0.1; done
  "$BIN" bench/rpc_client.lua client "unix:$sock" "$1" >/dev/null
  # perf stat does not pass SIGTERM on to the server: stop the server itself.
  if [ "$2" = perf ]; then kill -TERM "$(pgrep -P "$pid")"; else kill -TERM "$pid"; fi
  wait "$pid" || true
}

# The Lua client's side (bench/rpc_client.lua, calling from the main chunk) under callgrind, the
# server at native speed.
client_ir() {
  local sock=$d/c.sock
  rm -f "$sock" "$d/log"
  "$BIN" serve $IFACE --listen "unix:$sock" >"$d/log" &
  local pid=$! i
  for i in $(seq 600); do grep -q listening "$d/log" 2>/dev/null && break; sleep 0.1; done
  valgrind --tool=callgrind --callgrind-out-file="$d/client.$1" "$BIN" bench/rpc_client.lua client \
    "unix:$sock" "$1" >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  grep -E '^(summary|totals):' "$d/client.$1" | head -1 | awk '{print $2}'
}

calls=$(((N2 - N1) * 11 / 10))
c1=$(client_ir "$N1")
c2=$(client_ir "$N2")
echo "Lua client instructions per call (callgrind, $calls calls): $(((c2 - c1) / calls))"
measure "$N1" callgrind
measure "$N2" callgrind
ir() { grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'; }
i1=$(ir "$d/$N1.callgrind")
i2=$(ir "$d/$N2.callgrind")
echo "instructions per call (callgrind, $calls calls): $(((i2 - i1) / calls))"
measure "$N1" perf
measure "$N2" perf
for ev in raw_syscalls:sys_enter syscalls:sys_enter_epoll_wait syscalls:sys_enter_read \
  syscalls:sys_enter_write syscalls:sys_enter_writev; do
  a=$(grep ",$ev," "$d/$N1.perf" | cut -d, -f1)
  b=$(grep ",$ev," "$d/$N2.perf" | cut -d, -f1)
  printf '%-32s %.2f per call\n' "${ev#*:}" "$(echo "($b - $a) / $calls" | bc -l)"
done
