"""Parallel-in-time Newton against the sequential loop: iterations to convergence and wall time.

For each model (the default clipped shPLRNN trained on Lorenz-63, and an AL-RNN M = 20, P = 2), window
length T and GTF strength α, one window of standardized Lorenz-63 data (``dsr simulate lorenz63``,
noise 0.05, seed 1, in the run's standardization) is rolled out under GTF exactly as training does
(z̃_0 = ẑ(x_0), z̃_t = (1 − α) F(z̃_{t−1}) + α ẑ(x_t); α = 0 is a free run). Columns: Newton steps of the
``pwl`` solver (stopping when the activation pattern is unchanged; budget ``--max-iter``), whether it
converged (else the sequential fallback ran, its time included), the largest deviation from the
sequential loop, and wall time of Newton, of the sequential torch loop (``dsr.parallel.sequential``:
one model step and one forcing per time step, the autograd path's forward) and of the fused CPU
kernel's forward (``dsr.training.fused.fused_member_losses`` under no_grad: the compiled loop with
the loss) — all three in the same run, best of ``--repeats``. A residual-against-iteration plot for
T = 1.6·10⁴ goes to ``docs/parallel-time.png``.

Models: ``--default-run`` and ``--alrnn-run`` name run stores (trained by ``dsr fit``; see
docs/parallel-time.md for the commands); without them, the models are freshly initialised (and the
table says so).

Usage: python benchmarks/parallel_time.py --default-run RUN --alrnn-run RUN [--lengths 1000 16000 130000]
       [--alphas 0 0.02 0.05 0.1 0.3] [--dtype float32] [--device cpu|cuda] [--max-iter 50] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from dsr.models import LatentModel, make_model
from dsr.parallel import Forcing, NewtonFallbackWarning, Recurrence, sequential, solve
from dsr.simulate import simulate


def load_model(run: str | None, kind: str, dtype: torch.dtype, device: str) -> tuple[LatentModel, str, np.ndarray, np.ndarray]:
    """The best member of a run (or a fresh model), with the run's standardization (mean, scale)."""
    if run is None:
        options = {"hidden": 100} if kind == "clipped-shplrnn" else {"relus": 2}
        model = make_model(kind, 3, 3 if kind == "clipped-shplrnn" else 20, seeds=0, dtype=dtype, device=device, **options)
        return model, f"{kind} (untrained)", np.zeros(3), np.ones(3)
    import dsr
    from dsr.models import from_dataset

    r = dsr.load_run(run)
    params = r.params("best").isel(member=[r.best_member])
    model = from_dataset(params).to(dtype=dtype, device=device)
    s = r.attrs["standardization"]
    return model, f"{r.config.model} M={model.latent} (trained, {Path(run).name})", np.asarray(s["mean"]), np.asarray(s["scale"])


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default-run")
    parser.add_argument("--alrnn-run")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1_000, 16_000, 130_000])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.02, 0.05, 0.1, 0.3])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plot", default="docs/parallel-time.png")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (on a loaded 2-core machine, 2 spin against each other)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    torch.backends.cuda.matmul.allow_tf32 = False  # dense combines need full precision: TF32 rounds products to 10 bits
    series = simulate("lorenz63", max(args.lengths) + 1, noise=0.05, seed=1)["x"].values.astype(np.float64)
    print(f"device {args.device}, {args.dtype}, torch threads {torch.get_num_threads()}, Newton budget {args.max_iter}")
    print("| model | T | α | Newton steps | converged | max dev. | Newton s | sequential torch s | fused CPU forward s | seq / Newton | fused / Newton |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    histories: dict[str, dict[float, list[float]]] = {}
    for run, kind in ((args.default_run, "clipped-shplrnn"), (args.alrnn_run, "alrnn")):
        model, label, mean, scale = load_model(run, kind, dtype, args.device)
        data = torch.as_tensor((series - mean) / scale, dtype=dtype, device=args.device)
        histories[label] = {}
        for length in args.lengths:
            x = data[: length + 1].reshape(1, 1, length + 1, 3)
            with torch.no_grad():
                z0 = model.initial_state(x[:, :, 0])
                signal = model.forcing_signal(x[:, :, 1:], True)
            seq_time = fused_time = None
            for alpha in args.alphas:
                forcing = Forcing(signal, torch.full((1, 1, length, 1), alpha, dtype=dtype, device=args.device)) if alpha else None
                rec = Recurrence(model, length, None, forcing)
                with torch.no_grad():
                    t_seq, reference = timed(lambda: sequential(rec, z0), args.repeats if length < 100_000 else 1)
                seq_time = t_seq if seq_time is None else min(seq_time, t_seq)
                fused = "-"
                if args.device == "cpu":
                    from dsr.training.fused import fused_member_losses

                    alphas = [torch.full((1,), alpha, dtype=dtype)] * length
                    with torch.no_grad():
                        t_fused, _ = timed(lambda: fused_member_losses(model, x, alphas), args.repeats)
                    fused = f"{t_fused:.3g}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NewtonFallbackWarning)
                    t_newton, result = timed(lambda: solve(model, z0, length, forcing=forcing, max_iter=args.max_iter), 1 if alpha == 0 else args.repeats)
                if length == 16_000 or length == max(args.lengths) == min(args.lengths):
                    histories[label][alpha] = result.residuals
                dev = float((result.states - reference).abs().max())
                fused_ratio = "-" if fused == "-" else f"{float(fused) / t_newton:.2f}"
                print(
                    f"| {label} | {length} | {alpha} | {result.iterations} | {'yes' if result.converged else 'no (fallback)'} | {dev:.1e} | "
                    f"{t_newton:.3g} | {t_seq:.3g} | {fused} | {t_seq / t_newton:.2f} | {fused_ratio} |",
                    flush=True,
                )
    plot(histories, args.plot)


def plot(histories: dict[str, dict[float, list[float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histories), figsize=(5 * len(histories), 3.6), squeeze=False)
    for ax, (label, runs) in zip(axes[0], histories.items(), strict=True):
        for alpha, residuals in runs.items():
            ax.semilogy(range(len(residuals)), np.maximum(residuals, 1e-17), marker="o", ms=3, label=f"α = {alpha}")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("Newton step")
        ax.set_ylabel("max residual")
        ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.rename(path)
    print(f"residual plot: {path}")


if __name__ == "__main__":
    main()
