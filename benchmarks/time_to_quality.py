"""Time to quality: reconstruction quality of default `dsr fit` runs against their wall time, fused kernel vs eager torch.

Each point is one default fit (ensemble of 4, aGTF, ...) on the reference Lorenz-63 pair with a
budget of `epochs` (the learning-rate schedule spans the budget), alone on the machine with all
its cores, evaluated with benchmarks/reconstruct.py's protocol (best member; free run as long as the test set
after a quarter-length transient, against the whole test set). The fused Numba kernel
(`--kernel fused`, what `dsr fit` picks on CPU) and the autograd reference (`--kernel autograd`, the
same maths in eager PyTorch) run the same schedules, so at equal wall time the table shows what
each path delivers. Targets: D_stsp ≤ 0.20 and D_H ≤ 0.08 in under 5 minutes.

Usage: python benchmarks/time_to_quality.py [--fused 100,200,400,800,1200] [--eager 10,40,80]
       [--seed 0] [--plot docs/time-to-quality.png]
Data: ../shared/data/reference/lorenz63_{noisy_train,test}.npy (as benchmarks/reconstruct.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import dsr
from dsr.data import to_dataset
from dsr.training.config import FitConfig
from dsr.zarrstore import write_dataset

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reference"
TARGET = (0.20, 0.08)


def fit_point(train: Path, test: Path, folder: Path, kernel: str, epochs: int, seed: int) -> dict:
    """Wall time and best-member protocol metrics of one default fit with this budget and kernel."""
    start = time.perf_counter()
    config = FitConfig(epochs=epochs, kernel=kernel, seed=seed)
    path = dsr.fit(train, config, test=test, out=folder, name=f"{kernel}-{epochs}", overwrite=True)
    wall = time.perf_counter() - start
    return {"kernel": kernel, "epochs": epochs, "seconds": wall, **dsr.load_run(path).attrs["final_metrics"]}


def reference_stores(folder: Path) -> dict[str, Path]:
    """The reference Lorenz-63 pair as data stores in ``folder``: {"train": ..., "test": ...}."""
    stores = {}
    for part, file in (("train", "lorenz63_noisy_train.npy"), ("test", "lorenz63_test.npy")):
        values = np.load(REFERENCE / file).astype(np.float64)
        stores[part] = write_dataset(to_dataset(values, 0.01, dtype=np.float64), folder / f"lorenz63_{part}.zarr")
    return stores


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    for kernel, style in (("fused", "o-"), ("autograd", "s--")):
        points = sorted((r for r in rows if r["kernel"] == kernel), key=lambda r: r["seconds"])
        if not points:
            continue
        label = "fused Numba kernel" if kernel == "fused" else "eager PyTorch (autograd)"
        minutes = [r["seconds"] / 60 for r in points]
        for ax, key in zip(axes, ("d_stsp", "d_h")):
            ax.plot(minutes, [r[key] for r in points], style, label=label)
    for ax, key, target, name in zip(axes, ("d_stsp", "d_h"), TARGET, ("D_stsp", "D_H")):
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.axvline(5, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("wall time of the fit (min, 2 CPU cores)")
        ax.set_ylabel(f"{name} (best member, protocol)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Default dsr fit on the reference Lorenz-63 pair: quality against time", fontsize=10)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fused", default="100,200,400,800,1200", help="epoch budgets of the fused-kernel fits")
    parser.add_argument("--eager", default="10,40,80", help="epoch budgets of the eager (autograd) fits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None, help="write the curve as an image here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = reference_stores(folder)
        print(f"{'path':9} {'epochs':>6} {'wall (min)':>10} {'D_stsp':>8} {'D_H':>7} {'PE(20)':>9}  targets {TARGET[0]} / {TARGET[1]} in 5 min")
        for kernel, budgets in (("fused", args.fused), ("autograd", args.eager)):
            for epochs in (int(b) for b in budgets.split(",") if b):
                row = fit_point(stores["train"], stores["test"], folder, kernel, epochs, args.seed)
                rows.append(row)
                met = row["d_stsp"] <= TARGET[0] and row["d_h"] <= TARGET[1] and row["seconds"] <= 300
                print(
                    f"{kernel:9} {epochs:6d} {row['seconds'] / 60:10.2f} {row['d_stsp']:8.3f} {row['d_h']:7.3f} {row['pe']:9.2e}"
                    f"  {'met' if met else ''}",
                    flush=True,
                )
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
