#!/usr/bin/env bash
# One command from a fresh clone to the whole test suite: install dependencies, build the Lua 5.4,
# LuaJIT and ASan+UBSan (5.4) flavours, run luacheck and the clang-format check, then ctest in each
# build, then fuzz every parser for a bounded time (tests/fuzz: clang, libFuzzer). Exits non-zero if
# anything failed, after a summary of all of it.
#   --reference   also run the reference tier (tests/reference: the engine and chat templates
#                 against transformers itself) in the Lua 5.4 and LuaJIT builds; it installs
#                 torch and transformers from PyPI into the venv (several GB), so CI leaves it out.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
reference=OFF
for a in "$@"; do
  case $a in
  --reference) reference=ON ;;
  -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "test: unknown argument '$a' (valid: --reference)"; exit 2 ;;
  esac
done
cache="$root/build-ci-cache"
"$root/tools/install-deps.sh" --venv "$cache/venv" || { echo "test: installing dependencies failed"; exit 1; }

declare -A results
failed=0
total_pass=0
total_fail=0

step() { # step NAME command...
  local name=$1
  shift
  echo "==> $name"
  if "$@"; then results[$name]="ok"; else results[$name]="FAILED"; failed=1; fi
}

build() { # build DIR cmake-args...
  local dir=$1
  shift
  # The three builds share one cache of test data (tokenizer files, the Python venv).
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEER_TEST_CACHE_DIR="$cache" \
    "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" 2>&1 | grep -E ": (error|warning)|Error [0-9]|undefined reference" ; return "${PIPESTATUS[0]}"
}

run_ctest() { # run_ctest DIR
  local log
  log=$(mktemp)
  ctest --test-dir "$1" -j"$jobs" --output-on-failure --timeout 900 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    total_fail=$((total_fail + BASH_REMATCH[1]))
    total_pass=$((total_pass + BASH_REMATCH[2] - BASH_REMATCH[1]))
  else
    total_fail=$((total_fail + 1))
  fi
  rm -f "$log"
  return "$status"
}

# Builds every tests/fuzz harness with clang (libFuzzer, ASan, UBSan) and fuzzes each for a bounded
# time over its committed corpus; new inputs go to a scratch dir, crashes to build-ci-fuzz/crash-*.
# Any crash, leak, timeout (10 s per input) or memory blow-up (2 GB) fails the step.
fuzz_all() {
  local dir="$root/build-ci-fuzz" seconds=${SEER_FUZZ_SECONDS:-45} status=0 h name work
  build "$dir" -DCMAKE_C_COMPILER=clang -DSEER_FUZZ=ON -DSEER_BUILD_TESTS=OFF -DSEER_BUILD_BENCH=OFF || return 1
  for h in "$dir"/tests/fuzz/fuzz_*; do
    [[ -x $h ]] || continue
    name=${h##*/fuzz_}
    work=$(mktemp -d)
    if "$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$dir/crash-$name-" "$work" "$root/tests/fuzz/corpus/$name" >"$dir/fuzz-$name.log" 2>&1; then
      echo "fuzz $name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/fuzz-$name.log" | grep -o '[0-9]*$') runs in ${seconds}s, nothing found"
    else
      echo "fuzz $name: FAILED (log $dir/fuzz-$name.log, inputs $dir/crash-$name-*)"
      tail -60 "$dir/fuzz-$name.log"
      status=1
    fi
    rm -rf "$work"
  done
  return $status
}

check_format() { (cd "$root" && git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror); }

step "clang-format" check_format
step "luacheck" luacheck -q --config "$root/.luacheckrc" "$root/stdlib" "$root/examples" "$root/tests/lua" "$root/tests/security" "$root/tests/reference" "$root/bench"
step "build lua54" build "$root/build-ci-lua54" -DSEER_LUA=5.4 -DSEER_TEST_REFERENCE=$reference
step "build luajit" build "$root/build-ci-luajit" -DSEER_LUA=luajit -DSEER_TEST_REFERENCE=$reference
step "build asan" build "$root/build-ci-asan" -DSEER_LUA=5.4 -DSEER_SANITIZE=ON -DSEER_BUILD_BENCH=OFF
for b in lua54 luajit asan; do
  if [[ ${results["build $b"]} == ok ]]; then
    step "ctest $b" run_ctest "$root/build-ci-$b"
  else
    results["ctest $b"]="skipped (build failed)"
    failed=1
  fi
done
step "fuzz" fuzz_all

echo
echo "==================== seer-lua test summary ===================="
for k in "clang-format" "luacheck" "build lua54" "build luajit" "build asan" "ctest lua54" "ctest luajit" "ctest asan" "fuzz"; do
  printf '  %-14s %s\n' "$k" "${results[$k]:-not run}"
done
echo "total: $total_pass passed, $total_fail failed"
[[ $failed -eq 0 ]]
