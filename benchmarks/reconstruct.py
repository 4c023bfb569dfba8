"""Reconstruction quality of `dsr fit` defaults on the reference datasets of the DSR literature.

Protocol (after GTF-shPLRNN's ``evaluate_run``, Hess et al., ICML 2023, with the best checkpoint of
ALRNN-DSR's ``evaluate.jl``, Brenner et al., NeurIPS 2024): train on the training part, keep each member's best checkpoint
(lowest held-out D_stsp during training), then free-run it from the first test point for as
long as the test set after a discarded transient (a quarter of its length) and compare with
the whole test set: D_stsp (30 bins per dimension, Laplace 1e-5), D_H (σ = 20), PE(20).
Each of `--fits` fits is a default `dsr fit` (an ensemble whose best member it reports) with its
own seeds; the table gives median and quartiles over the fits. Fits run `--jobs` at a time.
Next to each result: the data-against-data floor at the same length (training data against
test data), which a perfect model could reach.

Data: the published datasets (GTF-shPLRNN's ``ICML2023_datasets/Lorenz63``, ALRNN-DSR's ``example_data``) as
../shared/data/reference/*.npy (see its README; GPL repositories' data, not shipped here); the script skips a dataset whose file
is missing. With `--reuse`, a finished run store of the same name and configuration in `--out`
counts as that fit (its wall time from its history), so fits can be added to a benchmark later.
Usage: python benchmarks/reconstruct.py [--datasets lorenz63,rossler,ecg] [--fits 5] [--jobs 2]
[--epochs N] [--models default,alrnn] [--out DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import dsr
from dsr.analysis import metrics
from dsr.data import to_dataset
from dsr.training.config import FitConfig
from dsr.zarrstore import write_dataset

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reference"

# name -> (train file, test file or None for an 80/20 split, dt)
DATASETS = {
    "lorenz63": ("lorenz63_noisy_train.npy", "lorenz63_test.npy", 0.01),
    "rossler": ("rossler.npy", None, 0.08),
    "ecg": ("ecg_5d.npy", None, 1.0),
}
MODELS = {
    "default": {},
    "alrnn": {"model": "alrnn", "latent": 20, "relus": 2},
}
TARGETS = {  # (D_stsp, D_H) medians the project aims for (README, Reconstruction quality)
    ("lorenz63", "default"): (0.20, 0.08),
    ("lorenz63", "alrnn"): (0.30, 0.10),
    ("rossler", "default"): (0.30, 0.10),
}


def _stores(name: str, folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    train_file, test_file, dt = DATASETS[name]
    train = np.load(REFERENCE / train_file).astype(np.float64)
    if test_file is None:
        cut = int(0.8 * len(train))
        train, test = train[:cut], train[cut:]
    else:
        test = np.load(REFERENCE / test_file).astype(np.float64)
    paths = []
    for part, values in (("train", train), ("test", test)):
        paths.append(write_dataset(to_dataset(values, dt, dtype=np.float64), folder / f"{name}_{part}.zarr", overwrite=True))
    return paths[0], paths[1], train, test


def _floor(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """D_stsp and D_H of the training data against the test data at the test length."""
    n = min(len(train), len(test))
    window = train[-n:]
    standardize = lambda x: (x - train.mean(0)) / train.std(0)  # noqa: E731 - the fit's coordinates
    return (
        metrics.state_space_divergence(standardize(test[:n]), standardize(window)),
        metrics.hellinger_distance(standardize(test[:n]), standardize(window)),
    )


def _finished(path: Path, options: dict) -> tuple[float, dict, int] | None:
    """(wall time, best-member metrics, parameter count) of a finished run with these options, else None."""
    from dsr import runstore

    if not (path / "zarr.json").exists():
        return None
    attrs = runstore.read_attrs(path)
    if attrs.get("status") != "finished" or any(attrs["config"].get(k) != v for k, v in options.items()):
        return None
    seconds = float(runstore.read_group(path, "history")["time"].values[-1])
    return seconds, attrs["final_metrics"], attrs["n_parameters"]


def _fit(args: tuple) -> tuple[float, dict, int]:
    """One fit in a worker process; returns its wall time, best-member metrics and parameter count."""
    train, test, options, folder, name, reuse = args
    if reuse and (done := _finished(Path(folder) / f"{name}.zarr", options)) is not None:
        return done
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    path = dsr.fit(train, FitConfig(**options), test=test, out=folder, name=name, overwrite=True)
    run = dsr.load_run(path)
    return time.perf_counter() - start, run.attrs["final_metrics"], run.attrs["n_parameters"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="lorenz63,rossler,ecg")
    parser.add_argument("--models", default="default,alrnn")
    parser.add_argument("--fits", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="override the default number of epochs")
    parser.add_argument("--out", default=None, help="keep the run stores here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="count finished run stores of the same configuration in --out")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
        folder = Path(args.out or tmp)
        for name in args.datasets.split(","):
            if not (REFERENCE / DATASETS[name][0]).exists():
                print(f"skipping {name}: {REFERENCE / DATASETS[name][0]} not found")
                continue
            train_store, test_store, train, test = _stores(name, folder)
            floor = _floor(train, test)
            for model in args.models.split(","):
                options = dict(MODELS[model])
                if args.epochs:
                    options["epochs"] = args.epochs
                ensemble = FitConfig(**options).ensemble
                jobs = [
                    (str(train_store), str(test_store), options | {"seed": k * ensemble}, str(folder), f"{name}-{model}-{k}", args.reuse)
                    for k in range(args.fits)
                ]
                results = list(pool.map(_fit, jobs))
                best = {key: np.array([r[1][key] for r in results]) for key in ("d_stsp", "d_h", "pe")}
                rows.append((name, model, results[0][2], best, floor, float(np.median([r[0] for r in results]))))
                _print_row(*rows[-1])
    print()
    print(_table(rows, args.fits))


def _stats(values: np.ndarray) -> str:
    q1, med, q3 = np.nanpercentile(values, [25, 50, 75])
    return f"{med:.3f} [{q1:.3f}, {q3:.3f}]"


def _print_row(name, model, n_params, best, floor, wall) -> None:
    print(f"{name} {model}: D_stsp {best['d_stsp'].round(3)}, D_H {best['d_h'].round(3)}, {wall:.0f} s per fit", flush=True)


def _table(rows, fits: int) -> str:
    header = "| data | model | params | fits | D_stsp median [IQR] | D_H median [IQR] | PE(20) median | floor D_stsp / D_H | target | met | wall time |"
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for name, model, n_params, best, floor, wall in rows:
        d_stsp, d_h = best["d_stsp"], best["d_h"]
        target = TARGETS.get((name, model))
        met = "-" if target is None else ("yes" if np.median(d_stsp) <= target[0] and np.median(d_h) <= target[1] else "no")
        lines.append(
            f"| {name} | {model} | {n_params} | {fits} | {_stats(d_stsp)} | {_stats(d_h)} | {np.nanmedian(best['pe']):.3g} "
            f"| {floor[0]:.3f} / {floor[1]:.3f} | {'reported' if target is None else f'{target[0]} / {target[1]}'} | {met} | {wall / 60:.1f} min per fit |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
