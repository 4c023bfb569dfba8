"""Parallel-in-time Newton against the sequential loop: iterations to convergence and wall time.

For each model (the default clipped shPLRNN trained on Lorenz-63, and an AL-RNN M = 20, P = 2), window
length T and GTF strength α, one window of standardized Lorenz-63 data (``dsr simulate lorenz63``,
noise 0.05, seed 1, in the run's standardization) is rolled out under GTF exactly as training does
(z̃_0 = ẑ(x_0), z̃_t = (1 − α) F(z̃_{t−1}) + α ẑ(x_t); α = 0 is a free run). Columns: Newton steps of the
``pwl`` solver after ``--sweeps`` Jacobi sweeps of the initial guess (stopping when the activation pattern
is unchanged; budget ``--max-iter``), whether it
converged (else the sequential fallback ran, its time included), the largest deviation from the
sequential loop, and wall time of Newton, of the sequential torch loop (``dsr.parallel.sequential``:
one model step and one forcing per time step, the autograd path's forward) and of the fused CPU
kernel's forward (``dsr.training.fused.fused_member_losses`` under no_grad: the compiled loop with
the loss) — all three in the same run, best of ``--repeats``. A plot of the residual against the Newton
step at T = ``--plot-length`` (1.6·10⁴) goes to ``--plot`` (``docs/parallel-time.png``). ``--doc FILE``
writes the rows into FILE's table between ``<!-- parallel-time:begin -->`` and ``<!-- parallel-time:end -->``,
replacing rows of the same model, T and α and keeping the others (so the lengths can be run one at a
time); ``--readme FILE`` also writes the first model's summary (steps, sequential / Newton) into FILE's
markers. Nothing in those tables is hand-edited.

Models: ``--default-run`` and ``--alrnn-run`` name run stores (trained by ``dsr fit``; see
docs/parallel-time.md for the commands); without them, the models are freshly initialised (and the
table says so).

Usage: python benchmarks/parallel_time.py --default-run RUN --alrnn-run RUN [--models default alrnn] [--lengths 1000 16000 130000]
       [--alphas 0 0.02 0.05 0.1 0.3] [--dtype float32] [--device cpu|cuda] [--max-iter 50] [--sweeps 2] [--repeats 2] [--threads 1]
       [--plot docs/parallel-time.png] [--plot-length 16000] [--doc docs/parallel-time.md] [--readme README.md]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from dsr.models import LatentModel, make_model
from dsr.parallel import Forcing, NewtonFallbackWarning, Recurrence, default_tolerance, sequential, solve
from dsr.parallel.newton import DEFAULT_SWEEPS
from dsr.simulate import simulate
import sections


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
    parser.add_argument("--models", nargs="+", default=["default", "alrnn"], choices=["default", "alrnn"], help="which of the two models to run")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1_000, 16_000, 130_000])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.02, 0.05, 0.1, 0.3])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--sweeps", type=int, default=DEFAULT_SWEEPS, help="Jacobi sweeps of the initial guess before the Newton steps")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plot", default="docs/parallel-time.png")
    parser.add_argument("--plot-length", type=int, default=16_000, help="the T whose residual histories are plotted (no plot if not run)")
    parser.add_argument("--doc", help="write the rows into this file's table between the parallel-time markers (same model, T, α replaced)")
    parser.add_argument("--readme", help="with --doc: also write the default model's summary table into this file's markers")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (on a loaded 2-core machine, 2 spin against each other)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    torch.backends.cuda.matmul.allow_tf32 = False  # dense combines need full precision: TF32 rounds products to 10 bits
    series = simulate("lorenz63", max(args.lengths) + 1, noise=0.05, seed=1)["x"].values.astype(np.float64)
    print(f"device {args.device}, {args.dtype}, torch threads {torch.get_num_threads()}, Newton budget {args.max_iter}, {args.sweeps} Jacobi sweeps")
    print(HEADER)
    rows: list[str] = []
    histories: dict[str, dict[float, tuple[list[float], bool]]] = {}
    chosen = {"default": (args.default_run, "clipped-shplrnn"), "alrnn": (args.alrnn_run, "alrnn")}
    for run, kind in (chosen[name] for name in args.models):
        model, label, mean, scale = load_model(run, kind, dtype, args.device)
        data = torch.as_tensor((series - mean) / scale, dtype=dtype, device=args.device)
        for length in args.lengths:
            x = data[: length + 1].reshape(1, 1, length + 1, 3)
            with torch.no_grad():
                z0 = model.initial_state(x[:, :, 0])
                signal = model.forcing_signal(x[:, :, 1:], True)
            for alpha in args.alphas:
                forcing = Forcing(signal, torch.full((1, 1, length, 1), alpha, dtype=dtype, device=args.device)) if alpha else None
                rec = Recurrence(model, length, None, forcing)
                with torch.no_grad():
                    t_seq, reference = timed(lambda: sequential(rec, z0), args.repeats if length < 100_000 else 1)
                fused = "-"
                if args.device == "cpu":
                    from dsr.training.fused import fused_member_losses

                    alphas = [torch.full((1,), alpha, dtype=dtype)] * length
                    with torch.no_grad():
                        t_fused, _ = timed(lambda: fused_member_losses(model, x, alphas), args.repeats)
                    fused = f"{t_fused:.3g}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NewtonFallbackWarning)
                    t_newton, result = timed(
                        lambda: solve(model, z0, length, forcing=forcing, max_iter=args.max_iter, sweeps=args.sweeps), 1 if alpha == 0 else args.repeats
                    )
                if length == args.plot_length:
                    scale_z = max(1.0, float(reference.abs().max()))
                    histories.setdefault(label, {})[alpha] = ([r / scale_z for r in result.residuals], result.converged)
                dev = float((result.states - reference).abs().max())
                fused_ratio = "-" if fused == "-" else f"{float(fused) / t_newton:.2f}"
                rows.append(
                    f"| {label} | {length} | {alpha} | {result.sweeps} | {result.iterations} | {'yes' if result.converged else 'no (fallback)'} | {dev:.1e} | "
                    f"{t_newton:.3g} | {t_seq:.3g} | {fused} | {t_seq / t_newton:.2f} | {fused_ratio} |"
                )
                print(rows[-1], flush=True)
    if histories:
        plot(histories, default_tolerance(dtype), args.plot_length, args.plot)
    if args.doc:
        table = merge_rows(Path(args.doc), rows, "python benchmarks/parallel_time.py " + " ".join(sys.argv[1:]))
        if args.readme:
            sections.write(Path(args.readme), "parallel-time", summary(table))


HEADER = (
    "| model | T | α | Jacobi sweeps | Newton steps | converged | max dev. | Newton s | sequential torch s | fused CPU forward s | seq / Newton | fused / Newton |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)
_cells = sections.cells


def merge_rows(path: Path, rows: list[str], command: str) -> list[str]:
    """Put ``rows`` into the table between the parallel-time markers of ``path``, replacing rows of the same model, T and α.

    Rows of other (model, T, α) are kept, so long runs can be made one length at a time; the commands
    that produced the table are listed above it. Returns the merged rows (models in first-seen order, then T, α).
    """

    def arrange(table: list[str]) -> list[str]:
        models = list(dict.fromkeys(_cells(row)[0] for row in table))
        return sorted(table, key=lambda row: (models.index(_cells(row)[0]), int(_cells(row)[1]), float(_cells(row)[2])))

    return sections.merge_table(path, "parallel-time", HEADER, rows, command, 3, arrange)


def summary(rows: list[str]) -> str:
    """The first model's rows as α × T cells "Newton steps, sequential / Newton" (the README's table)."""
    first = _cells(rows[0])[0]
    cells = {(c[2], int(c[1])): c for c in map(_cells, rows) if c[0] == first}
    lengths = sorted({t for _, t in cells})
    alphas = sorted({a for a, _ in cells}, key=float)

    def cell(c: list[str] | None) -> str:
        if c is None:
            return "not run"
        steps = c[4] if c[5] == "yes" else "fallback"
        return f"{steps}, {float(c[10]):.2g}×"

    head = "| α | " + " | ".join(f"T = {t}" for t in lengths) + " |\n|---|" + "---|" * len(lengths)
    return head + "\n" + "\n".join(f"| {a} | " + " | ".join(cell(cells.get((a, t))) for t in lengths) + " |" for a in alphas)


def plot(histories: dict[str, dict[float, tuple[list[float], bool]]], tol: float, length: int, path: str) -> None:
    """Residual (relative to max(1, max|z|), as the stopping test) against the Newton step, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(histories), figsize=(5 * len(histories), 3.6), squeeze=False)
    for ax, (label, runs) in zip(axes[0], histories.items(), strict=True):
        for alpha, (residuals, converged) in runs.items():
            values = np.asarray(residuals, dtype=float)
            # A diverging iterate's residual is inf or nan: drawn up to its last finite value, named in the legend.
            values[~np.isfinite(values)] = np.nan
            note = "" if converged else " (fallback)"
            ax.semilogy(np.arange(len(values)), np.maximum(values, 1e-17), marker="o", ms=3, label=f"α = {alpha}{note}")
        ax.axhline(tol, color="grey", ls="--", lw=0.8, label="tolerance")
        ax.set_title(f"{label}, T = {length}", fontsize=9)
        ax.set_xlabel("Newton step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("max residual / max(1, max|z|)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    print(f"residual plot: {path}")


if __name__ == "__main__":
    main()
