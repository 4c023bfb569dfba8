#!/usr/bin/env bash
# The GPU checks of the training path, in one call on a lent GPU machine (its python3 holds CUDA torch):
# the CUDA-graph tests, the GPU table of train_speed.py and a short `dsr fit --device cuda`.
# Needs, under .whl/, the project's wheel (`pip wheel --no-deps --no-build-isolation -w .whl .`) and the
# Python 3.12 wheels of the dependencies that machine lacks (pydantic, zarr and theirs); logs go to $OUT.
set -u
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
REPO=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
# Can the affine observation's pseudo-inverse be recorded? (the graph path excludes it until it can)
python3 - <<'PY' 2>&1 | tail -1
import torch
B = torch.randn(2, 3, 5, device="cuda", dtype=torch.float64)
torch.linalg.pinv(B); torch.cuda.synchronize()
g = torch.cuda.CUDAGraph()
try:
    with torch.cuda.graph(g):
        P = torch.linalg.pinv(B)
    g.replay(); torch.cuda.synchronize()
    print("pinv in a CUDA graph: recorded, error", float((P - torch.linalg.pinv(B)).abs().max()))
except Exception as err:
    print("pinv in a CUDA graph: fails:", str(err).splitlines()[0][:200])
PY
# Tests and the CLI run from a copy outside the checkout, so that `dsr` is the installed package.
mkdir -p /tmp/t && cp -r tests /tmp/t/ && cd /tmp/t
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_graph_gpu.py 2>&1 | tee "$OUT/tests.log" | tail -25
cd "$REPO"
timeout 150 python3 benchmarks/train_speed.py --gpu-only --rounds 3 2>&1 | tee "$OUT/train_speed.log"
cd /tmp/t
SECONDS=0
timeout 60 python3 -m dsr fit "$REPO/data/lorenz63.zarr" --device cuda --epochs 50 --out /tmp/runs --name gpu \
  --overwrite 2>&1 | tee "$OUT/fit.log" | tail -4
echo "dsr fit --device cuda --epochs 50: ${SECONDS} s" | tee -a "$OUT/fit.log"
python3 -m dsr info /tmp/runs/gpu.zarr 2>&1 | tail -20 | tee -a "$OUT/fit.log"
