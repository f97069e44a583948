#!/usr/bin/env bash
# scripts/gpu_check.sh — on a machine with an NVIDIA GPU: builds forma's CUDA tests for that GPU's
# architecture only, runs them and the CPU grid-runner tests, and writes a summary file.
#
#   scripts/gpu_check.sh [build-dir]   (default build/gpu; summary: <build-dir>/gpu_summary.txt;
#                                      JOBS=n sets the build's parallelism, default nproc)
#
# Budget: under 8 minutes on a 16-core machine (configure ~20 s, the CUDA translation units
# ~1-2 min, the tests seconds); each step has its own timeout. A GPU decode benchmark is not run:
# forma has no decoder on the GPU yet (README, "CUDA"), which the summary says.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/gpu}
summary="$build/gpu_summary.txt"
mkdir -p "$build"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

note "forma gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  note "no GPU: nvidia-smi is missing or lists no device; the CUDA tests would all be skipped"
  arch=80
else
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader |
    sed 's/^/gpu: /' | tee -a "$summary"
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
fi
note "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo missing); building for sm_$arch"

start=$(date +%s)
if ! timeout 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFORMA_BUILD_TESTS=ON \
    -DFORMA_BUILD_EXAMPLES=OFF -DFORMA_BUILD_BENCHMARKS=OFF -DFORMA_ENABLE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" >"$build/configure.log" 2>&1; then
  note "configure FAILED (see $build/configure.log)"
  exit 1
fi
if ! timeout 300 cmake --build "$build" --target forma_cuda_tests forma_cuda_grid \
    -j"${JOBS:-$(nproc)}" >"$build/build.log" 2>&1; then
  note "build FAILED (see $build/build.log)"
  exit 1
fi
note "configure + build: $(($(date +%s) - start)) s"

timeout 240 ctest --test-dir "$build" -R '^cuda\.|^cuda_grid' -V \
  >"$build/ctest.log" 2>&1
status=$?
passed=$(grep -cE 'Test +#[0-9]+: .* Passed' "$build/ctest.log")
skipped=$(grep -cE '\*\*\*Skipped' "$build/ctest.log")
failed=$(grep -cE '\*\*\*(Failed|Exception|Timeout)|\*\*\*Not Run' "$build/ctest.log")
note "tests: $passed passed, $skipped skipped, $failed failed (ctest exit $status; $build/ctest.log)"
grep -E 'Test +#[0-9]+: ' "$build/ctest.log" | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: /  /' >>"$summary"
grep -E '^[0-9]+: SKIPPED' "$build/ctest.log" | head -1 | sed 's/^/skip reason: /' | tee -a "$summary"
note "decode benchmark: not run — forma has no GPU decoder yet (no forma-run --device cuda)"
note "total: $(($(date +%s) - start)) s"
exit "$status"
