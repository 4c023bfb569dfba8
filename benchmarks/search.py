"""`dsr fit --search` against the default fit on the ECG sample and the reference Lorenz-63 pair.

For each dataset: the search (candidates on a local Dask cluster, one worker per core, within
`--budget` minutes, judged on the held-out last 20 % of the training part), then the full fit of the
winner, evaluated by the reconstruction protocol on the test set (`benchmarks/reconstruct.py`: ECG's
last 20 %, Lorenz-63's clean test series); next to it a default `dsr fit` with the same seed on the
same stores and the data floor. Prints a Markdown table as rows complete, and the candidates'
validation scores; with ``--readme`` its rows replace those of the same datasets in the README's table
between ``<!-- search:begin -->`` and ``<!-- search:end -->`` (rows of other datasets are kept, and the
commands that produced them are listed). With ``--reuse`` the finished stores of an earlier run in ``--out``
(the search's with the same budget, and the default fit) count instead of new fits; a reused fit's wall
time is the time from its store's creation to its last write (plus, for the search, its candidates' time).

Usage: python benchmarks/search.py [--datasets ecg,lorenz63] [--budget 6] [--out DIR] [--no-default] [--readme] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dsr
from dsr import runstore
from dsr.sweep.search import search
from dsr.training.config import FitConfig
from reconstruct import DATASETS, REFERENCE, _floor, _stores
import sections

TARGETS = {"ecg": "D_stsp ≤ 3.0", "lorenz63": "no worse than the default"}
HEADER = "| data | fit | chosen | D_stsp | D_H | PE(20) | data floor D_stsp / D_H | wall time | target |\n|---|---|---|---|---|---|---|---|---|"
README = Path(__file__).resolve().parents[1] / "README.md"


def _metrics(path: Path) -> dict:
    return runstore.read_attrs(path)["final_metrics"]


def _finished(path: Path, budget: float | None = None) -> bool:
    """A finished run store at ``path`` (a search's: with this budget)."""
    if not (path / "zarr.json").exists():
        return False
    attrs = runstore.read_attrs(path)
    return attrs.get("status") == "finished" and (budget is None or attrs.get("search", {}).get("budget_minutes") == budget)


def _stored_seconds(path: Path) -> float:
    """Seconds from a run store's creation to its last write."""
    attrs = runstore.read_attrs(path)
    return (datetime.fromisoformat(attrs["updated"]) - datetime.fromisoformat(attrs["created"])).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="ecg,lorenz63")
    parser.add_argument("--budget", type=float, default=6.0, help="minutes for the candidate fits of each search")
    parser.add_argument("--out", default=None, help="keep the stores here (default: a temporary folder)")
    parser.add_argument("--no-default", action="store_true", help="skip the default fits (compare with benchmarks/reconstruct.py's)")
    parser.add_argument("--readme", action="store_true", help="write the rows into the README's search table")
    parser.add_argument("--reuse", action="store_true", help="count finished stores of an earlier run in --out")
    args = parser.parse_args()
    print(HEADER)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.out or tmp)
        for name in args.datasets.split(","):
            if not (REFERENCE / DATASETS[name][0]).exists():
                print(f"skipping {name}: {REFERENCE / DATASETS[name][0]} not found")
                continue
            train_store, test_store, train, test = _stores(name, folder)
            floor = "{:.3g} / {:.3g}".format(*_floor(train, test))
            found = folder / f"{name}-search.zarr"
            if args.reuse and _finished(found, args.budget):
                wall_search = runstore.read_attrs(found)["search"]["search_seconds"] + _stored_seconds(found)
            else:
                start = time.perf_counter()
                found = search(train_store, FitConfig(), budget=args.budget, test=test_store, out=folder, name=f"{name}-search", overwrite=True)
                wall_search = time.perf_counter() - start
            record = runstore.read_attrs(found)["search"]
            m = _metrics(found)
            rows.append(f"| {name} | `dsr fit --search --budget {args.budget:g}` | {record['chosen']} | {m['d_stsp']:.3g} | {m['d_h']:.3g} | "
                        f"{m['pe']:.2g} | {floor} | {wall_search / 60:.1f} min (search {record['search_seconds'] / 60:.1f}) | {TARGETS[name]} |")
            print(rows[-1], flush=True)
            print(json.dumps({"data": name, "search": record, "metrics": m}, default=str), flush=True)
            if args.no_default:
                continue
            default = folder / f"{name}-default.zarr"
            if args.reuse and _finished(default):
                wall_default = _stored_seconds(default)
            else:
                start = time.perf_counter()
                default = dsr.fit(train_store, FitConfig(), test=test_store, out=folder, name=f"{name}-default", overwrite=True)
                wall_default = time.perf_counter() - start
            d = _metrics(default)
            rows.append(f"| {name} | default `dsr fit` | - | {d['d_stsp']:.3g} | {d['d_h']:.3g} | {d['pe']:.2g} | {floor} | {wall_default / 60:.1f} min | |")
            print(rows[-1], flush=True)
            print(json.dumps({"data": name, "default": d}), flush=True)
    if args.readme and rows:
        sections.merge_table(README, "search", HEADER, rows, "python benchmarks/search.py " + " ".join(sys.argv[1:]), 2)


if __name__ == "__main__":
    main()
