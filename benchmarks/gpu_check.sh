#!/usr/bin/env bash
# The GPU checks of the training path, in one call on a lent GPU machine (its python3 holds CUDA torch):
# the CUDA-graph tests, the GPU table of train_speed.py and a short `dsr fit --device cuda`.
# Needs, under .whl/, the project's wheel (`pip wheel --no-deps --no-build-isolation -w .whl .`) and the
# Python 3.12 wheels of the dependencies that machine lacks (pydantic, zarr and theirs, and NumPy 2.4.6:
# its numba-cuda 0.30.4 does not load with its NumPy 2.5.2); logs go to $OUT.
set -u
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
REPO=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
# Tests and the CLI run from a copy outside the checkout, so that `dsr` is the installed package.
mkdir -p /tmp/t && cp -r tests /tmp/t/
cd "$REPO"
timeout 100 python3 benchmarks/train_speed.py --gpu-only --rounds 2 2>&1 | tee "$OUT/train_speed.log"
cd /tmp/t
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_graph_gpu.py 2>&1 | tee "$OUT/tests.log" | tail -25
SECONDS=0
timeout 30 python3 -m dsr fit "$REPO/data/lorenz63.zarr" --device cuda --epochs 20 --out /tmp/runs --name gpu \
  --overwrite 2>&1 | tee "$OUT/fit.log" | tail -4
echo "dsr fit --device cuda --epochs 20: ${SECONDS} s" | tee -a "$OUT/fit.log"
python3 -m dsr info /tmp/runs/gpu.zarr 2>&1 | tail -20 | tee -a "$OUT/fit.log"
