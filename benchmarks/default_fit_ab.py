"""A default `dsr fit` on the reference Lorenz-63 pair: this tree against another commit, in one run.

Both arms run the same default fit (ensemble of 4, aGTF, 1 200 epochs) per seed, each in its own
process alone on the machine, the arms alternating seed by seed so that a change in the machine's
load hits both. The other commit is checked out into a temporary git worktree and imported from
there (its top-level folders linked under ``dsr/`` as the package's ``package-dir`` maps them); both
arms first run a one-epoch fit, so that Numba's compilation is not timed. Each fit is evaluated with
the full protocol (best member). Printed: per seed and arm the wall time, D_stsp and D_H; then the
medians and the ratio of wall times (this tree / the other).

Usage: python benchmarks/default_fit_ab.py [--against 45d24a0] [--this COMMIT] [--seeds 0,1] [--epochs 1200]
Data: ../shared/data/reference/lorenz63_{noisy_train,test}.npy (as benchmarks/time_to_quality.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from time_to_quality import reference_stores  # benchmarks/time_to_quality.py

ROOT = Path(__file__).resolve().parents[1]
FIT = """
import json, os, sys, time
if os.environ.get("DSR_AB_TREE"):  # import that tree's dsr, not the editable install's
    sys.meta_path = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
    sys.path.insert(0, os.environ["DSR_AB_TREE"])
import dsr
from dsr.training.config import FitConfig
train, test, out, name, epochs, seed = sys.argv[1:7]
start = time.perf_counter()
path = dsr.fit(train, FitConfig(epochs=int(epochs), seed=int(seed)), test=test, out=out, name=name, overwrite=True)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, **dsr.load_run(path).attrs["final_metrics"]}))
"""


def checkout(revision: str, folder: Path) -> Path:
    """``revision`` as a worktree in ``folder`` whose ``dsr`` package holds its sibling folders."""
    tree = folder / revision
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True, capture_output=True)
    for name in ("systems", "analysis", "app"):
        (tree / "dsr" / name).symlink_to(tree / name, target_is_directory=True)
    return tree


def fit(tree: Path | None, train: Path, test: Path, out: Path, name: str, epochs: int, seed: int) -> dict:
    """One default fit in a fresh process: this tree's installed ``dsr``, or the one under ``tree``."""
    env = dict(os.environ)
    env.pop("DSR_AB_TREE", None)
    if tree is not None:
        env["DSR_AB_TREE"] = str(tree)
    args = [sys.executable, "-c", FIT, str(train), str(test), str(out), name, str(epochs), str(seed)]
    result = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="45d24a0", help="the other commit (default: before the multichannel speed work)")
    parser.add_argument("--this", default=None, help="a commit for the first arm instead of this working tree (uncommitted changes left out)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=1200)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {"this tree": [], args.against: []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = reference_stores(folder)
        tree = checkout(args.against, folder)
        this = None if args.this is None else checkout(args.this, folder)
        try:
            arms = {"this tree": this, args.against: tree}
            for arm, where in arms.items():  # compile both arms' kernels before timing
                fit(where, stores["train"], stores["test"], folder, "warm", 1, 0)
            print(f"{'arm':>10} {'seed':>4} {'wall (min)':>10} {'D_stsp':>8} {'D_H':>7}", flush=True)
            for seed in (int(s) for s in args.seeds.split(",")):
                for arm, where in arms.items():
                    row = fit(where, stores["train"], stores["test"], folder, f"s{seed}", args.epochs, seed)
                    rows[arm].append(row)
                    print(f"{arm:>10} {seed:4d} {row['seconds'] / 60:10.2f} {row['d_stsp']:8.3f} {row['d_h']:7.3f}", flush=True)
        finally:
            for where in (tree, this):
                if where is not None:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False, capture_output=True)
    print()
    for arm, results in rows.items():
        median = {key: float(np.median([r[key] for r in results])) for key in ("seconds", "d_stsp", "d_h")}
        print(f"{arm:>10}: median {median['seconds'] / 60:.2f} min, D_stsp {median['d_stsp']:.3f}, D_H {median['d_h']:.3f}")
    ratio = np.median([r["seconds"] for r in rows["this tree"]]) / np.median([r["seconds"] for r in rows[args.against]])
    print(f"wall time, this tree / {args.against}: {ratio:.2f}")


if __name__ == "__main__":
    main()
