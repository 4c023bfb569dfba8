#!/usr/bin/env bash
# The GPU checks of the training path, in one call on a lent GPU machine (its python3 holds CUDA torch):
# the GPU table of train_speed.py, the fused step launched eagerly against its recorded graph, the GPU
# training tests and a short `dsr fit --device cuda`.
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
export REPO
cd /tmp/t
# What recording the fused step as a graph saves: the same step with its launches made eagerly.
timeout 60 python3 - <<'PY' 2>&1 | tee "$OUT/recorded.log"
import os, sys; sys.path.insert(0, os.environ["REPO"] + "/benchmarks")
import time, torch
import dsr.training.step as step
from train_speed import MODELS, dsr_iteration, lorenz_windows
x = lorenz_windows(torch.float32)
replays = step.replays_graph
for name, (options, _) in MODELS.items():
    for members in (1, 16, 4096):
        times = {}
        for recorded in (False, True):
            step.replays_graph = replays if recorded else (lambda model, kernel: kernel == "graph")
            try:
                it = dsr_iteration(options, x, members, "fused", "cuda")
                for _ in range(5): it()
                n = 30 if members < 4096 else 5
                t0 = time.perf_counter()
                for _ in range(n): it()
                times[recorded] = 1e3 * (time.perf_counter() - t0) / n
            except Exception as err:
                print(f"{name} E={members} recorded={recorded}: {type(err).__name__}: {str(err)[:300]}")
                times[recorded] = float("nan")
        print(f"{name:30} E={members:<5} fused launched {times[False]:8.2f} ms, recorded {times[True]:8.2f} ms")
PY
# Should the recording fail, the table times the fused step with eager launches instead (and says so).
PATCH=""
if grep -q "recorded=True:" "$OUT/recorded.log"; then
  PATCH="import dsr.training.step as s; s.replays_graph = lambda m, k: k == 'graph'; print('fused step NOT recorded');"
fi
timeout 200 python3 -c "${PATCH}import runpy, sys; sys.argv = ['train_speed.py', '--gpu-only', '--rounds', '2']; runpy.run_path('$REPO/benchmarks/train_speed.py', run_name='__main__')" 2>&1 | tee "$OUT/train_speed.log"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_graph_gpu.py 2>&1 | tee "$OUT/tests.log" | tail -25
SECONDS=0
timeout 60 python3 -m dsr fit "$REPO/data/lorenz63.zarr" --device cuda --epochs 6 --out /tmp/runs --name gpu \
  --overwrite 2>&1 | tee "$OUT/fit.log" | tail -4
echo "dsr fit --device cuda --epochs 6: ${SECONDS} s" | tee -a "$OUT/fit.log"
python3 -m dsr info /tmp/runs/gpu.zarr 2>&1 | tail -20 | tee -a "$OUT/fit.log"
