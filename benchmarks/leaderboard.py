"""The leaderboard of every model family on the reference datasets, by ``dsr bench``, and the README's table.

For each dataset the script writes its data stores (from ``../shared/data/reference``, see its README; a
dataset whose file is missing is skipped), runs ``dsr bench DATA [--test TEST] --models all --fits F
--budget B --jobs J -o OUT/<dataset> --json`` and prints the Markdown table of its leaderboard
(:func:`dsr.bench.leaderboard.markdown`). With ``--readme`` the tables replace the README's section
between ``<!-- leaderboard:begin -->`` and ``<!-- leaderboard:end -->`` (nothing in it is hand-edited).
Reruns resume: ``dsr bench`` skips the fits it finished.

Datasets: Lorenz-63 (the GTF paper's noisy training set against its clean test set; truth λ1, D_KY of the
system), Rössler (last 20 % held out; truth of the system), ECG (5-D delay embedding, last 20 % held out;
no known system).
Usage: python benchmarks/leaderboard.py [--datasets lorenz63,rossler,ecg] [--fits 3] [--budget 5] [--jobs 2]
[--models all] [--out bench] [--readme] [--tables-only]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from sections import write as write_section

from dsr.bench import leaderboard
from dsr.data import to_dataset
from dsr.zarrstore import write_dataset

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "reference"
# name -> (train file, test file or None for an 80/20 split, dt, dsr.systems name or None)
DATASETS = {
    "lorenz63": ("lorenz63_noisy_train.npy", "lorenz63_test.npy", 0.01, "lorenz63"),
    "rossler": ("rossler.npy", None, 0.08, "rossler"),
    "ecg": ("ecg_5d.npy", None, 1.0, None),
}


def stores(name: str, folder: Path, reference: Path) -> tuple[Path, Path | None]:
    """The dataset's training store and test store (None: dsr bench holds out the last 20 %)."""
    train_file, test_file, dt, system = DATASETS[name]
    attrs = {"system": system} if system else {}
    paths = []
    for part, file in (("train", train_file), ("test", test_file)):
        path = folder / f"{name}_{part}.zarr"
        if file is not None and not path.exists():
            write_dataset(to_dataset(np.load(reference / file).astype(np.float64), dt, attrs=attrs, dtype=np.float64), path)
        paths.append(None if file is None else path)
    return paths[0], paths[1]


def unfinished(folder: Path) -> str:
    """What a bench folder without a leaderboard holds: nothing, or an interrupted bench's count of finished fits."""
    from dsr.sweep import store

    if not store.table_path(folder).exists():
        return "not run yet."
    status = store.read(folder)["status"].values
    return (f"interrupted before its leaderboard was written: {(status == 'finished').sum()} of {len(status)} fits finished; "
            "rerun the bench (without --tables-only) to resume it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="lorenz63,rossler,ecg")
    parser.add_argument("--models", default="all")
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--budget", type=float, default=5.0, help="minutes of training per fit")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="folder of the reference datasets")
    parser.add_argument("--readme", action="store_true", help="write the tables into the README's leaderboard section")
    parser.add_argument("--tables-only", action="store_true",
                        help="no fits: the tables of the benches already finished in --out (a dataset without one is named as not run)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sections = []
    for name in args.datasets.split(","):
        if not (args.reference / DATASETS[name][0]).exists():
            print(f"skipping {name}: {args.reference / DATASETS[name][0]} is missing", file=sys.stderr)
            continue
        if not args.tables_only:
            train, test = stores(name, args.out, args.reference)
            command = [sys.executable, "-m", "dsr", "bench", str(train), "--models", args.models, "--fits", str(args.fits),
                       "--budget", str(args.budget), "--jobs", str(args.jobs), "-o", str(args.out / name), "--json", "--quiet"]
            if test is not None:
                command += ["--test", str(test)]
            print(" ".join(command[1:]), file=sys.stderr, flush=True)
            subprocess.run(command, check=True, capture_output=True, text=True)
        if not leaderboard.store_path(args.out / name).exists():
            sections.append(f"**{name}**: {unfinished(args.out / name)}")
            continue
        board = leaderboard.read(args.out / name)
        sections.append(f"**{name}** ({board.attrs['fits']} fits per family, {board.attrs['budget_minutes']:g} min of training each):"
                        f"\n\n{leaderboard.markdown(board)}")
        print(sections[-1] + "\n", flush=True)
    if args.readme and sections:
        generated = f"<!-- generated by: python benchmarks/leaderboard.py {' '.join(sys.argv[1:])} -->"
        write_section(ROOT / "README.md", "leaderboard", f"{generated}\n\n" + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
