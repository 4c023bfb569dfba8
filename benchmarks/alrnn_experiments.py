"""Two AL-RNN (M=20, P=2) experiments that change training in ways `dsr fit` has no option for.

Both start from ALRNN-DSR's Lorenz-63 recipe (``sweep_defaults.LAB_STF``: STF τ = 16, noise 0.05,
RAdam 1e-3 → 1e-5 over 2 000 epochs) on the reference pair (`lorenz63_noisy_train.npy` against
`lorenz63_test.npy`), with ``--seeds`` members in one ensemble, and report the protocol of ``benchmarks/reconstruct.py`` on
the best checkpoints (README, Fitting):

- ``tau-growth``: the forcing interval grows geometrically from 16 to 46, the data's predictability
  time (Mikhaeil et al. 2022's optimum), over the epochs: τ_e = round(16 · (46/16)^(e / (epochs − 1))).
  Set before each epoch by a trainer callback (``TauGrowth``).
- ``continuation``: P = 2 reached from P = 10. Train with 10 ReLUs, the first 8 of which turn linear
  along φ_s(u) = s u + (1 − s)[u]_+ as s rises linearly from 0 at epoch ``ANNEAL[0]`` to 1 at
  ``ANNEAL[1]``; s enters through the model's normal form (its columns' lin and ramp), which a trainer
  callback (``Continuation``) sets before each epoch, so the training kernels see it; the evaluations'
  free runs use the 10-ReLU model. At s = 1 the model is an AL-RNN with P = 2, so after epoch
  ``SWITCH`` the callback relabels the model ``relus = 2`` (the same numbers) and resets the best
  checkpoint (evaluations before the switch saw the 10-ReLU model); training goes on to the end of
  the same schedule.

Usage: python benchmarks/alrnn_experiments.py [tau-growth] [continuation] [--seeds 16] [--out DIR]
       [--reference DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import dsr
from dsr import runstore
from dsr.data import to_dataset
from dsr.kinds import KINDS, NormalForm
from dsr.training.config import FitConfig
from dsr.training.trainer import Callback, Snapshot, Trainer
from dsr.zarrstore import write_dataset
from sweep_defaults import ALRNN, LAB_STF

TAU_RANGE = (16, 46)
RELUS_FROM = 10
ANNEAL = (200, 900)
SWITCH = 1000


def _recipe(seeds: int, **changes: object) -> FitConfig:
    return FitConfig(**(ALRNN | LAB_STF | {"ensemble": seeds, "eval_every": 10, "device": "cpu"} | changes))


class TauGrowth(Callback):
    """STF's interval before epoch e: τ_e = round(τ₀ (τ₁/τ₀)^(e / (epochs − 1)))."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        low, high = TAU_RANGE
        trainer.forcing.tau = round(low * (high / low) ** (trainer.epoch / (trainer.config.epochs - 1)))


def tau_growth(train: str, test: str, out: Path, seeds: int) -> Path:
    return dsr.fit(train, _recipe(seeds), test=test, out=out, name="tau-growth", overwrite=True, callbacks=[TauGrowth()])


class Continuation(Callback):
    """The AL-RNN's ReLUs ``RELUS_FROM − P`` .. turned linear along φ_s, then relabelled P (module doc)."""

    def __init__(self, store: Path) -> None:
        self.store = store

    def on_epoch_start(self, trainer: Trainer) -> None:
        model = trainer.model
        if model.config.relus != RELUS_FROM:
            return
        s = float(np.clip((trainer.epoch - ANNEAL[0]) / (ANNEAL[1] - ANNEAL[0]), 0.0, 1.0))
        linearised = slice(ALRNN["latent"] - RELUS_FROM, ALRNN["latent"] - ALRNN["relus"])
        alrnn = KINDS["alrnn"]

        def annealed(params, relus, mean_centering) -> NormalForm:  # noqa: ANN001 - Kind.normal_form
            nf = alrnn.normal_form(params, relus, mean_centering)
            lin, ramp = nf.lin.copy(), nf.ramp.copy()
            lin[linearised], ramp[linearised] = s, 1.0 - s
            return dataclasses.replace(nf, lin=lin, ramp=ramp)

        model.spec = dataclasses.replace(alrnn, normal_form=annealed)  # this model only

    def on_epoch_end(self, trainer: Trainer, record: dict, snapshot: Snapshot) -> None:
        if record["epoch"] != SWITCH:
            return
        model, relus = trainer.model, ALRNN["relus"]
        del model.spec  # back to the AL-RNN's own normal form, which at s = 1 it equals with P = relus
        model.config = dataclasses.replace(model.config, relus=relus)
        trainer.config = trainer.config.model_copy(update={"relus": relus})
        trainer.best_score[:], trainer.best_epoch[:] = np.inf, -1
        trainer.best_params = model.to_dataset()
        runstore.update_attrs(self.store, config=trainer.config.model_dump())


def continuation(train: str, test: str, out: Path, seeds: int) -> Path:
    path = out / "continuation.zarr"
    config = _recipe(seeds, relus=RELUS_FROM)
    return dsr.fit(train, config, test=test, out=out, name="continuation", overwrite=True, callbacks=[Continuation(path)])


EXPERIMENTS = {"tau-growth": tau_growth, "continuation": continuation}


def _report(name: str, path: Path, seconds: float) -> None:
    metrics = runstore.read_group(path, "metrics").sel(checkpoint="best")
    d_stsp, d_h = metrics["d_stsp"].values, metrics["d_h"].values
    loss = runstore.read_group(path, "history")["loss"].values
    q1, median, q3 = np.percentile(d_stsp, [25, 50, 75])
    print(f"{name:13s} {seconds / 60:5.1f} min  D_stsp median {median:.2f} [{q1:.2f}, {q3:.2f}] best {d_stsp.min():.2f}"
          f"  D_H median {np.median(d_h):.2f} best {d_h.min():.2f}")
    marks = sorted({0, ANNEAL[0] - 1, ANNEAL[1] - 1, SWITCH - 1, len(loss) - 1})
    print(" " * 14 + "training loss (median over members) after epoch " + ", ".join(
        f"{e + 1}: {np.median(loss[e]):.4f}" for e in marks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_reference = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reference"
    parser.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help=f"any of {', '.join(EXPERIMENTS)} (default: both)")
    parser.add_argument("--reference", type=Path, default=Path(os.environ.get("DSR_REFERENCE", default_reference)))
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    unknown = set(args.experiments) - EXPERIMENTS.keys()
    if unknown:
        parser.error(f"unknown experiment(s) {', '.join(sorted(unknown))}; choose from {', '.join(EXPERIMENTS)}")
    out = args.out or Path(tempfile.mkdtemp())

    def store(values: np.ndarray, name: str) -> str:
        return str(write_dataset(to_dataset(values.astype(np.float64), 0.01, dtype=np.float64), out / name, overwrite=True))

    test = store(np.load(args.reference / "lorenz63_test.npy"), "l63_test.zarr")
    train = store(np.load(args.reference / "lorenz63_noisy_train.npy"), "l63_train.zarr")
    for name in args.experiments or EXPERIMENTS:
        start = time.perf_counter()
        path = EXPERIMENTS[name](train, test, out, args.seeds)
        _report(name, path, time.perf_counter() - start)


if __name__ == "__main__":
    main()
