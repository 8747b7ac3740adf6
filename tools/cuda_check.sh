#!/usr/bin/env bash
# tools/cuda_check.sh: check the CUDA backend on a machine with an NVIDIA GPU, in under 5 minutes on
# an H100/H200. It builds with nvcc (kernels embedded), reports the GPU state (seer-lua doctor),
# runs the kernel emulator tests, the driver and cuBLASLt loaders' failure paths, the device
# tensor ops hooks use (in-place and out-of-place ops, mean, matmul; copies through the pinned staging buffers) on
# the GPU, the fixtures' parity suite with device = "cuda" on the GPU (HF references, README tolerances; again with every
# GEMM of two rows or more through cuBLASLt (f32, and bf16 as the split GEMM x = hi + lo), again with
# the split GEMM on seer's mma kernel instead (SEER_CUBLASLT=0), and with bf16 weights converted to
# f16), the split GEMM's prefills, bias and batched decode graphs (c.cuda_gemm, both ways), decoding through CUDA graphs
# against direct launches (bit for bit, with the graph counts; hooked steps as graph segments), the device hooks spec (with
# mean/matmul on hook tensors, a LoRA adapter under hooks and the clear refusal of attention weights),
# LoRA adapters on the device (uploads, side-path launches, adapter switches under graphs; the LoRA
# spec against the PEFT fixtures), a GPU
# sandbox that sees the GPU, and bench_forward_cuda on create-random TinyLlama-1.1B and Gemma-2-2B
# bf16 models (again with SEER_CUDA_GRAPHS=0: decode without graphs), then prints one summary table and writes it to $OUT/cuda_check.md (with every
# step's log beside it).
#
# Usage: tools/cuda_check.sh [--dry-run]
#   --dry-run  no GPU needed: the device steps run on the grid emulator (SEER_CUDA_EMULATE=1), with
#              one fixture and a tiny bench model; it checks the script, not the GPU.
# Environment: OUT (default ./cuda-check-out), BUILD_DIR (default build-cuda), JOBS (default nproc).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dry_run=0
for a in "$@"; do
  case "$a" in
  --dry-run) dry_run=1 ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "cuda_check: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done
out=${OUT:-$PWD/cuda-check-out}
build=${BUILD_DIR:-$root/build-cuda}
jobs=${JOBS:-$(nproc)}
mkdir -p "$out"
summary="$out/cuda_check.md"
declare -a rows=()

die() { echo "cuda_check: $*" >&2; exit 1; }
# step NAME LOG CMD...: runs CMD with its output in $out/LOG; records ok/FAILED and the seconds.
step() {
  local name=$1 log=$2
  shift 2
  local t0=$SECONDS rc=0
  echo "== $name" >&2
  "$@" > "$out/$log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    rows+=("| $name | ok | ${dt} s | $log |")
  else
    rows+=("| $name | FAILED (exit $rc) | ${dt} s | $log |")
    echo "cuda_check: $name failed (exit $rc); last lines of $out/$log:" >&2
    tail -n 15 "$out/$log" >&2 || true
  fi
  return $rc
}
write_summary() {
  {
    echo "# tools/cuda_check.sh$([ "$dry_run" = 1 ] && echo ' --dry-run (emulator, not a GPU)')"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- GPU: ${gpu_line:-unknown}"
    echo "- nvcc: $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo none)"
    echo
    echo "| step | result | time | log |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [ -s "$out/graphs.log" ]; then
      echo
      grep -E 'decode steps through (CUDA graphs|[0-9]+ graph segment launches)' "$out/graphs.log" || true
    fi
    if [ -s "$out/bench.log" ]; then
      echo
      grep -E '^(\||device copy)' "$out/bench.log" || true
    fi
    if [ -s "$out/bench_nographs.log" ]; then
      echo
      echo "Without CUDA graphs (SEER_CUDA_GRAPHS=0):"
      echo
      grep -E '^\|' "$out/bench_nographs.log" || true
    fi
  } > "$summary"
  cat "$summary"
}
trap write_summary EXIT

command -v nvcc > /dev/null ||
  die "nvcc is not on PATH: install the CUDA toolkit (or add its bin/ to PATH); without it the build has no kernels"
command -v cmake > /dev/null || die "cmake is not installed (tools/install-deps.sh installs it)"

# A fresh build directory is a Release build; an existing one keeps its type (reuse for dry runs).
build_type=()
[ -f "$build/CMakeCache.txt" ] || build_type=(-DCMAKE_BUILD_TYPE=Release)
step "configure (nvcc)" configure.log cmake -S "$root" -B "$build" -DSEER_LUA=5.4 \
  "${build_type[@]}" -DSEER_BUILD_TESTS=ON -DSEER_BUILD_BENCH=ON
grep -q "CUDA kernels: nvcc" "$out/configure.log" ||
  die "CMake did not pick up nvcc (see $out/configure.log)"
step "build" build.log cmake --build "$build" -j"$jobs" --target seer-lua test_cuda_emu \
  test_cuda_loader test_cublaslt_loader test_cuda_tensor test_cuda_graphs test_cuda_lora \
  test_cuda_gemm test_model_parity bench_forward_cuda
grep -h "Used [0-9]* registers" "$build"/cuda/*.ptxas.log > "$out/ptxas_registers.log" || true

gpu_line=$("$build/seer-lua" doctor 2>&1 | grep 'NVIDIA GPU' || true)
if [ $dry_run = 1 ]; then
  export SEER_CUDA_EMULATE=1
  fixtures=(gemma2-bf16)
  bench_args=(--tiny 1 --prefill 16 --decode 4)
else
  case "$gpu_line" in
  *" ok "*) ;;
  *) die "no usable GPU: ${gpu_line:-seer-lua doctor printed no GPU line} (use --dry-run to check the script without one)" ;;
  esac
  fixtures=()
  bench_args=(--prefill 512 --decode 64)
fi

status=0
step "kernels on the emulator (negative controls included)" emu.log "$build/tests/test_cuda_emu" || status=1
step "driver loader failure paths" loader.log env \
  SEER_FAKE_CUDA_OLD="$build/tests/libfake_cuda_old.so" \
  SEER_FAKE_CUDA_PARTIAL="$build/tests/libfake_cuda_partial.so" \
  SEER_FAKE_CUDA_NODEV="$build/tests/libfake_cuda_nodev.so" \
  SEER_FAKE_CUDA_DEVICE="$build/tests/libfake_cuda_device.so" "$build/tests/test_cuda_loader" || status=1
step "cuBLASLt loader failure paths" cublaslt_loader.log env \
  SEER_FAKE_CUBLASLT_OLD="$build/tests/libfake_cublaslt_old.so" \
  SEER_FAKE_CUBLASLT_PARTIAL="$build/tests/libfake_cublaslt_partial.so" \
  "$build/tests/test_cublaslt_loader" || status=1
# In-place ops, mean (equal to the CPU's bit for bit) and matmul on device tensors, and copies in
# 40-byte chunks through the staging buffers (pinned on a GPU).
step "device tensor ops and staged copies" tensor.log env \
  SEER_CUDA_EMULATE="${SEER_CUDA_EMULATE:-0}" "$build/tests/test_cuda_tensor" || status=1
step "parity vs HF fixtures, device = cuda" parity.log env SEER_PARITY_DEVICE=cuda \
  SEER_FIXTURES="$root/tests/fixtures" "$build/tests/test_model_parity" "${fixtures[@]}" || status=1
# Every GEMM of two rows or more (batched decode included) through cuBLASLt: f32 weights (qwen2: its
# biases added after the GEMM), and bf16 weights as the split GEMM (the emulator has no cuBLASLt:
# there the bf16 ones run the mma kernel). Then the split GEMM on seer's mma kernel on the GPU's
# tensor cores, as where cuBLASLt is absent.
step "parity with GEMMs on cuBLASLt (f32, bf16 split)" parity_cublaslt.log env \
  SEER_PARITY_DEVICE=cuda SEER_CUBLASLT_MIN_ROWS=2 SEER_FIXTURES="$root/tests/fixtures" \
  "$build/tests/test_model_parity" llama3 qwen3 qwen2 gemma2-bf16 qwen3-bf16 || status=1
step "parity with the bf16 split GEMM on seer's mma kernel" parity_mma.log env SEER_CUBLASLT=0 \
  SEER_PARITY_DEVICE=cuda SEER_CUBLASLT_MIN_ROWS=2 SEER_FIXTURES="$root/tests/fixtures" \
  "$build/tests/test_model_parity" gemma2-bf16 llama-bf16 qwen3-bf16 || status=1
# The split GEMM's own checks (kernel counts, bias, 16-row decode graphs), with cuBLASLt and without.
for lt in 1 0; do
  step "split bf16 GEMM (c.cuda_gemm, SEER_CUBLASLT=$lt)" "gemm_lt$lt.log" env SEER_CUBLASLT=$lt \
    SEER_CUDA_EMULATE="${SEER_CUDA_EMULATE:-0}" SEER_FIXTURES="$root/tests/fixtures" \
    "$build/tests/test_cuda_gemm" || status=1
done
step "parity, bf16 weights as f16 on the device" parity_f16.log env SEER_PARITY_DEVICE=cuda \
  SEER_PARITY_DEVICE_DTYPE=f16 SEER_FIXTURES="$root/tests/fixtures" \
  "$build/tests/test_model_parity" llama-bf16 || status=1
# Decode steps as CUDA graphs: equal to direct launches bit for bit, with a negative control.
step "decode through CUDA graphs" graphs.log env SEER_CUDA_EMULATE="${SEER_CUDA_EMULATE:-0}" \
  SEER_FIXTURES="$root/tests/fixtures" "$build/tests/test_cuda_graphs" || status=1
step "device hooks (steering, ablation, views)" hooks.log env SEER_FIXTURES="$root/tests/fixtures" \
  "$build/seer-lua" "$root/tests/lua/run_busted.lua" "$root/tests/lua/model_cuda_hooks_spec.lua" ||
  status=1
# LoRA on the device: upload and launch counts, switching the adapter between graphed decode steps
# (bit for bit against direct launches), then the LoRA spec with every model on the device.
step "LoRA adapters on the device (counts, graphs)" lora.log env \
  SEER_CUDA_EMULATE="${SEER_CUDA_EMULATE:-0}" SEER_FIXTURES="$root/tests/fixtures" \
  "$build/tests/test_cuda_lora" || status=1
# (From the source root: the spec requires tests/lua/spec_helpers.lua, as ctest runs it.)
in_root() { (cd "$root" && "$@"); }
step "LoRA spec vs PEFT fixtures, device = cuda" lora_spec.log in_root env SEER_LORA_DEVICE=cuda \
  SEER_FIXTURES="$root/tests/fixtures" "$build/seer-lua" "$root/tests/lua/run_busted.lua" \
  "$root/tests/lua/lora_spec.lua" || status=1
# A GPU sandbox: the engine's loader inside sees the GPU through the bound nodes and libraries.
if [ $dry_run = 0 ]; then
  step "GPU sandbox sees the GPU" sandbox.log "$build/seer-lua" -e '
    local env = require "seer.environment"
    local sb = env.Sandbox(env.SandboxConfig({ gpu = true, gpu_count = 1 })):start()
    local out = sb:exec({ "/.seer/seer-lua", "-e", "local s = require(\"seer.cuda\").status() print(s.message) os.exit(s.ready and 0 or 1)" })
    io.write(out)
    sb:terminate()' || status=1
fi
step "bench_forward_cuda" bench.log "$build/bench/bench_forward_cuda" --dir "$out/models" \
  "${bench_args[@]}" || status=1
step "bench_forward_cuda without CUDA graphs" bench_nographs.log env SEER_CUDA_GRAPHS=0 \
  "$build/bench/bench_forward_cuda" --dir "$out/models" "${bench_args[@]}" || status=1
exit $status
