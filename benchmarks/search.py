"""`dsr fit --search` against the default fit on the ECG sample and the reference Lorenz-63 pair.

For each dataset: the search (candidates on a local Dask cluster, one worker per core, within
`--budget` minutes, judged on the held-out last 20 % of the training part), then the full fit of the
winner, evaluated by the reconstruction protocol on the test set (`benchmarks/reconstruct.py`: ECG's
last 20 %, Lorenz-63's clean test series); next to it a default `dsr fit` with the same seed on the
same stores and the data floor. Prints a Markdown table (for the README) as rows complete, and the
candidates' validation scores.

Usage: python benchmarks/search.py [--datasets ecg,lorenz63] [--budget 6] [--out DIR] [--no-default]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import dsr
from dsr import runstore
from dsr.sweep.search import search
from dsr.training.config import FitConfig
from reconstruct import DATASETS, REFERENCE, _floor, _stores

TARGETS = {"ecg": "D_stsp ≤ 3.0", "lorenz63": "no worse than the default"}


def _metrics(path: Path) -> dict:
    return runstore.read_attrs(path)["final_metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="ecg,lorenz63")
    parser.add_argument("--budget", type=float, default=6.0, help="minutes for the candidate fits of each search")
    parser.add_argument("--out", default=None, help="keep the stores here (default: a temporary folder)")
    parser.add_argument("--no-default", action="store_true", help="skip the default fits (compare with benchmarks/reconstruct.py's)")
    args = parser.parse_args()
    print("| data | fit | chosen | D_stsp | D_H | PE(20) | data floor D_stsp / D_H | wall time | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        for name in args.datasets.split(","):
            if not (REFERENCE / DATASETS[name][0]).exists():
                print(f"skipping {name}: {REFERENCE / DATASETS[name][0]} not found")
                continue
            train_store, test_store, train, test = _stores(name, folder)
            floor = "{:.3g} / {:.3g}".format(*_floor(train, test))
            start = time.perf_counter()
            found = search(train_store, FitConfig(), budget=args.budget, test=test_store, out=folder, name=f"{name}-search", overwrite=True)
            wall_search = time.perf_counter() - start
            record = runstore.read_attrs(found)["search"]
            m = _metrics(found)
            print(f"| {name} | `dsr fit --search --budget {args.budget:g}` | {record['chosen']} | {m['d_stsp']:.3g} | {m['d_h']:.3g} | "
                  f"{m['pe']:.2g} | {floor} | {wall_search / 60:.1f} min (search {record['search_seconds'] / 60:.1f}) | {TARGETS[name]} |", flush=True)
            print(json.dumps({"data": name, "search": record, "metrics": m}, default=str), flush=True)
            if args.no_default:
                continue
            start = time.perf_counter()
            default = dsr.fit(train_store, FitConfig(), test=test_store, out=folder, name=f"{name}-default", overwrite=True)
            wall_default = time.perf_counter() - start
            d = _metrics(default)
            print(f"| {name} | default `dsr fit` | - | {d['d_stsp']:.3g} | {d['d_h']:.3g} | {d['pe']:.2g} | {floor} | {wall_default / 60:.1f} min | |", flush=True)
            print(json.dumps({"data": name, "default": d}), flush=True)


if __name__ == "__main__":
    main()
