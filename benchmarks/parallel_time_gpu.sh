#!/usr/bin/env bash
# The GPU rows of benchmarks/parallel_time.py, in one call on a lent GPU machine (its python3 holds CUDA torch):
# Newton against the sequential eager loop on CUDA, float32 and float64, for the models of the CPU table.
# Needs, under .whl/, the project's wheel (`pip wheel --no-deps --no-build-isolation -w .whl .`) and the
# wheels of the dependencies that machine lacks, as benchmarks/gpu_check.sh; the two trained run stores
# copied into the checkout (DEFAULT_RUN, ALRNN_RUN; without them the models are untrained and the table
# says so). Logs go to $OUT. The fused CPU kernel has no column here ("-").
set -u
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
runs=()
[ -n "${DEFAULT_RUN:-}" ] && runs+=(--default-run "$DEFAULT_RUN")
[ -n "${ALRNN_RUN:-}" ] && runs+=(--alrnn-run "$ALRNN_RUN")
for dtype in float32 float64; do
  timeout 280 python3 benchmarks/parallel_time.py "${runs[@]}" --device cuda --dtype "$dtype" --threads 16 \
    --plot "$OUT/parallel-time-gpu-$dtype.png" 2>&1 | tee "$OUT/parallel_time_gpu_$dtype.log"
done
