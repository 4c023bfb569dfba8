"""Quality of default fits on many channels: Lorenz-96 with N sites against its data floor.

For each N: simulate Lorenz-96 (F = 8, the system's dt, ``--steps`` steps after a transient,
observation noise ``--noise``), run a default `dsr fit` (last fifth held out; after a one-epoch fit that compiles the kernels), and report the
best member's final metrics (D_stsp, by the GMM estimator above 5 dimensions, and D_H) with the
fit's wall time. The floor is what a perfect model scores under the same protocol: the test part
against a second, independent stretch of the true system of the same length (another initial
condition, noise-free), both in the fit's standardized coordinates.

Usage: python benchmarks/channels_quality.py [--sizes 20,64] [--steps 10000] [--noise 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import dsr
from dsr import runstore
from dsr.analysis import metrics
from dsr.simulate import simulate
from dsr.training.config import FitConfig
from dsr.zarrstore import write_dataset


def floor(n: int, steps: int, test: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    """D_stsp and D_H of an independent noise-free stretch of the system against the test part."""
    other = simulate("lorenz96", steps=steps, seed=12345, params={"N": n})["x"].values.astype(np.float64)
    other = (other[: len(test)] - mean) / scale
    return metrics.state_space_divergence(test, other), metrics.hellinger_distance(test, other)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,64")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'N':>4} {'fit (min)':>9} {'D_stsp':>8} {'D_H':>7} {'floor D_stsp':>12} {'floor D_H':>9}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            data = write_dataset(
                simulate("lorenz96", steps=args.steps, seed=1, params={"N": n}, noise=args.noise), folder / f"l96_{n}.zarr"
            )
            dsr.fit(data, FitConfig(seed=args.seed, epochs=1), out=folder, name=f"warm{n}")  # Numba's compilation, once per install
            start = time.perf_counter()
            path = dsr.fit(data, FitConfig(seed=args.seed), out=folder, name=f"n{n}")
            minutes = (time.perf_counter() - start) / 60
            attrs = runstore.read_attrs(path)
            final = attrs["final_metrics"]
            mean, scale = (np.asarray(attrs["standardization"][k]) for k in ("mean", "scale"))
            values = dsr.load(data).values[0]
            test = (values[int(round(len(values) * 0.8)):] - mean) / scale
            floor_stsp, floor_h = floor(n, args.steps, test, mean, scale)
            print(f"{n:4d} {minutes:9.1f} {final['d_stsp']:8.3f} {final['d_h']:7.3f} {floor_stsp:12.3f} {floor_h:9.3f}", flush=True)


if __name__ == "__main__":
    main()
