"""Cost of a default fit against the number of channels: every part of an epoch, N = M from 3 to 128.

For each N, a default `dsr fit` configuration (clipped shPLRNN, L = 100, E = 4, aGTF, S = 16 windows
of T̃ = 200 steps, 50 batches per epoch, evaluation and checkpoint every 10 epochs, 1 200 epochs) is
set up on a simulated series of that size (Lorenz-63 for N = 3, Lorenz-96 with N sites above;
10⁴ steps, the last fifth held out) and each part of its training is timed separately:

- sampling: drawing a batch of windows (``WindowSampler.sample``), 50 per epoch;
- kernel: the fused kernel's forward and backward pass alone, 50 per epoch (the reference);
- step rest: the rest of a training step around the kernel (autograd, clipping, RAdam), 50 per epoch;
- bound: aGTF's α estimate (``alpha_estimate``), every ``agtf_interval`` batches, 10 per epoch;
- evaluation: the held-out evaluation of the training loop (free runs, D_stsp (GMM above 5
  dimensions), D_H, PE), one per ``eval_every`` epochs;
- checkpoint: writing parameters, optimizer state, best checkpoint and history, one per ``eval_every``;
- compiled epoch: what a fit runs instead of the first four parts where it can: the whole epoch's
  training as compiled calls (:mod:`dsr.training.fused_epoch`), timed as one; and split into its
  training without the bound (the same epoch of a GTF twin, which never estimates α) and the bound
  (the difference), whose growths the last table compares: the kernel and the bound as a fit runs
  them, without the per-call overheads of the per-batch parts above.

Each part is the best of ``--rounds`` timings (the machine is shared), in milliseconds per epoch; the
table gives each part's share of the per-batch epoch, the projected default fit (1 200 epochs of the
compiled epoch, evaluation and checkpoint, plus the final phase), and each
part's growth from N = ``--growth-from`` against the kernel's (part(N)/part(N₀) ÷ kernel(N)/kernel(N₀);
a part whose cost grows faster than the kernel's shows a value above 1). N₀ = 10 by default: from
there on the bound is estimated by Lanczos (for M ≤ 3 it has a closed form, for M ≤ 8 Lanczos is exact). The final phase of a fit
(evaluation of two checkpoints on the whole test set and the stored free run) runs once and is
listed on its own. The reference for the bound is the exact computation it replaced (torch:
every Jacobian formed, LAPACK's symmetric eigensolver per state), timed once per N.

Usage: python benchmarks/scaling.py [--sizes 3,10,20,64,128] [--rounds 3] [--steps 10000] [--growth-from 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from simulate import best_time  # benchmarks/simulate.py: the benchmarks' one timer

from dsr import runstore
from dsr.checkpoints import RunStoreCheckpoints
from dsr.data import TimeSeries
from dsr.fitting import build_model, finish
from dsr.simulate import simulate
from dsr.training.config import FitConfig
from dsr.training.forcing import alpha_estimate
from dsr.training.fused import fused_member_losses, torch_threads_for
from dsr.training.trainer import Trainer, _alphas_like

PARTS = ("sampling", "kernel", "step rest", "bound", "evaluation", "checkpoint")


def warm_best_time(call: Callable[[], object], rounds: int) -> float:
    """Best wall time of ``rounds`` calls, after one untimed call (compilation, caches)."""
    call()
    return best_time(call, rounds)


def series(n: int, steps: int) -> TimeSeries:
    """Standardised Lorenz-63 (n = 3) or Lorenz-96 with n sites, (1, steps, n)."""
    system, params = ("lorenz63", {}) if n == 3 else ("lorenz96", {"N": n})
    ds = simulate(system, steps=steps, seed=1, params=params, standardize=True)
    values = ds["x"].values.astype(np.float64)
    return TimeSeries(values=values[None], variables=tuple(ds["variable"].values), dt=float(ds.attrs["dt"]))


def gtf_twin(config: FitConfig, train: TimeSeries, test: TimeSeries) -> Trainer:
    """A trainer of the same fit under constant GTF: its compiled epoch is the default's without aGTF's bound."""
    config = config.model_copy(update={"forcing": "gtf"})
    torch.manual_seed(config.seed)
    return Trainer(build_model(config, train, torch.device("cpu")), train, test, config)


def measure(n: int, steps: int, rounds: int, folder: Path) -> dict[str, float]:
    """Milliseconds per epoch of every part of a default fit on an n-channel series, and of its final phase."""
    config = FitConfig(latent=n)
    data = series(n, steps)
    train, test = data.split(config.test_fraction)
    torch.manual_seed(config.seed)
    model = build_model(config, train, torch.device("cpu"))
    store = folder / f"n{n}.zarr"
    runstore.create(store, {"config": config.model_dump()}, overwrite=True)
    trainer = Trainer(model, train, test, config)
    writer = RunStoreCheckpoints(store)
    c = config
    with torch_threads_for(trainer.kernel):
        x, s = trainer.sampler.sample()
        alphas = _alphas_like(trainer.forcing.alphas(x.shape[2] - 1), x)

        def kernel() -> None:
            fused_member_losses(model, x, alphas, s, c.partial_forcing).sum().backward()
            model.zero_grad(set_to_none=True)

        per_call = {
            "sampling": warm_best_time(trainer.sampler.sample, rounds),
            "kernel": warm_best_time(kernel, rounds),
            "step": warm_best_time(lambda: trainer.step(x, s, alphas), rounds),
            "bound": warm_best_time(lambda: alpha_estimate(model, x[:, :, 1:], trainer.kernel), rounds),
            "evaluation": warm_best_time(trainer.evaluate, max(1, rounds // 2)),
            "checkpoint": warm_best_time(lambda: writer.save(trainer, trainer.snapshot()), rounds),
            "compiled epoch": warm_best_time(trainer.train_epoch, rounds) if trainer.fused_epoch else np.nan,
            "compiled without bound": warm_best_time(gtf_twin(config, train, test).train_epoch, rounds),
        }
        start = time.perf_counter()
        alpha_estimate(model, x[:, :, 1:], "autograd")
        exact_bound = time.perf_counter() - start
        start = time.perf_counter()
        finish(trainer, store)
        final = time.perf_counter() - start
    batches, bounds = c.batches_per_epoch, c.batches_per_epoch / c.agtf_interval
    epoch = {
        "sampling": batches * per_call["sampling"],
        "kernel": batches * per_call["kernel"],
        "step rest": batches * max(per_call["step"] - per_call["kernel"], 0.0),
        "bound": bounds * per_call["bound"],
        "evaluation": per_call["evaluation"] / c.eval_every,
        "checkpoint": per_call["checkpoint"] / c.eval_every,
    }
    compiled = per_call["compiled epoch"] + epoch["evaluation"] + epoch["checkpoint"]
    return {
        **{part: 1e3 * value for part, value in epoch.items()},
        "exact bound": 1e3 * bounds * exact_bound,
        "compiled epoch": 1e3 * per_call["compiled epoch"],
        "compiled training": 1e3 * per_call["compiled without bound"],
        "compiled bound": 1e3 * max(per_call["compiled epoch"] - per_call["compiled without bound"], 0.0),
        "final": final,
        "fit minutes": (c.epochs * (compiled if np.isfinite(compiled) else sum(epoch.values())) + final) / 60.0,
        "epochs": c.epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10,20,64,128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--growth-from", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows[n] = measure(n, args.steps, args.rounds, Path(tmp))
            print(f"measured N = {n}", flush=True)
    print(f"\nms per epoch of a default fit (share of the epoch), {args.steps} steps, torch {torch.__version__}")
    header = f"{'N=M':>5} " + " ".join(f"{p:>17}" for p in PARTS) + f" {'epoch':>8} {'exact bound':>12} {'compiled':>9} {'final s':>8} {'fit min':>8}"
    print(header)
    for n, row in rows.items():
        epoch = sum(row[p] for p in PARTS)
        cells = " ".join(f"{row[p]:9.1f} ({100 * row[p] / epoch:4.1f}%)" for p in PARTS)
        print(f"{n:>5} {cells} {epoch:8.1f} {row['exact bound']:12.1f} {row['compiled epoch']:9.1f} {row['final']:8.1f} {row['fit minutes']:8.1f}")
    print("(epoch: the per-batch loop's parts added up; compiled: the compiled epoch's training, which replaces the first four parts)")
    base = args.growth_from if args.growth_from in rows else sizes[0]
    first = rows[base]
    print(f"\ngrowth from N = {base} relative to the kernel's (above 1: the part grows faster than the kernel)")
    print(f"{'N=M':>5} {'kernel x':>9} " + " ".join(f"{p:>11}" for p in (*PARTS, "compiled epoch") if p != "kernel"))
    for n, row in rows.items():
        kernel = row["kernel"] / first["kernel"]
        # "step rest" is a difference of two timings and can come out as 0 on a busy machine.
        cells = " ".join(
            f"{row[p] / first[p] / kernel:11.2f}" if first[p] > 0 else f"{'-':>11}" for p in (*PARTS, "compiled epoch") if p != "kernel"
        )
        print(f"{n:>5} {kernel:9.2f} {cells}")
    print(f"\nas a fit runs it (ms per epoch): the compiled epoch's training without the bound (the kernel with the")
    print(f"sampling, forcing and RAdam around it), and the growth from N = {base} relative to that training's of the bound")
    print("inside the compiled epoch, evaluation and checkpoint (above 1: the part grows faster)")
    print(f"{'N=M':>5} {'training':>9} {'bound':>9} {'growth':>7} {'evaluation':>11} {'checkpoint':>11}")
    for n, row in rows.items():
        training = row["compiled training"] / first["compiled training"]
        growth = {p: row[p] / first[p] / training for p in ("compiled bound", "evaluation", "checkpoint")}
        print(
            f"{n:>5} {row['compiled training']:9.1f} {row['compiled bound']:9.1f} {growth['compiled bound']:7.2f}"
            f" {growth['evaluation']:11.2f} {growth['checkpoint']:11.2f}"
        )


if __name__ == "__main__":
    main()
