"""Training speed: a plain PyTorch eager loop against dsr's autograd path, its fused kernels and its CUDA graph.

One training iteration = loss of S = 16 windows of T̃ = 200 steps under GTF (α = 0.1), backward pass
and one RAdam step. Models: the clipped shPLRNN (M = N = 3, L = 50) and the AL-RNN (M = 20, P = 2,
partial forcing of the N = 3 observed units), on standardized Lorenz-63 windows, in float32 (the fit
default). The reference is the same maths written plainly in this file (no dsr code), as one would
write it by hand in PyTorch.

Rows: milliseconds per iteration for one model (reference, dsr autograd, dsr fused) and, for an
ensemble of E = 16, model-iterations per second (E / seconds per iteration) against the reference's;
the last columns give the CPU time of the process per iteration and the ratio of CPU cost per
model-iteration (reference / row), a view that other processes on a shared machine disturb less.
A second table times a default fit's iteration (clipped shPLRNN M = N = 3, L = 100, E = 4, aGTF, on
Lorenz-63): the bare kernel (the forward and adjoint passes of all windows and members, one compiled
call per thread, nothing else) against an iteration of the compiled epoch (``dsr.training.fused_epoch``:
window sampling, both passes, clipping, RAdam and aGTF's bound every 5th batch), an epoch's time
divided by its 50 batches.
Each time is the best mean over several blocks of iterations, the rows' blocks taking turns (the
machine is shared; the best block is the least disturbed one). Then the peak resident memory of a default-config fit of a few epochs
(in a child process, ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). The GPU table times the same
iterations on CUDA (the reference moved to the GPU; dsr's autograd path, CUDA graph and CUDA kernels,
E up to 4 096) when a GPU is present and says "unmeasured" otherwise.

Usage: python benchmarks/train_speed.py [--rounds 7] [--fit-epochs 3] [--dtype float32] [--gpu-only]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numba import njit

from dsr.data import TimeSeries
from dsr.fitting import build_model
from dsr.models import make_model
from dsr.simulate import simulate
from dsr.training import fused, kernel_plrnn
from dsr.training.config import FitConfig
from dsr.training.trainer import Trainer
from dsr.training.step import make_optimizer, make_step
from dsr.zarrstore import write_dataset

WINDOWS, STEPS, ALPHA, ENSEMBLE = 16, 200, 0.1, 16
THREADS = fused.threads()  # the default: NUMBA_NUM_THREADS
MODELS = {  # name -> (make_model options, reference class name)
    "clipped shPLRNN (M=3, L=50)": ({"kind": "clipped-shplrnn", "latent": 3, "hidden": 50}, "ReferenceClippedShPLRNN"),
    "AL-RNN (M=20, P=2)": ({"kind": "alrnn", "latent": 20, "relus": 2}, "ReferenceALRNN"),
}


# ----- the reference: plain eager PyTorch --------------------------------------------------------------


class ReferenceClippedShPLRNN(torch.nn.Module):
    """z_t = A ⊙ z + W₁ ([W₂ z + h₂]_+ − [W₂ z]_+) + h₁; x̂ = z; z̃ = (1 − α) z + α x."""

    def __init__(self, n_obs: int, latent: int, hidden: int, dtype: torch.dtype) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.A = torch.nn.Parameter(0.9 * torch.ones(latent, dtype=dtype))
        self.W1 = torch.nn.Parameter((torch.rand(latent, hidden, generator=g, dtype=dtype) - 0.5) / hidden**0.5)
        self.W2 = torch.nn.Parameter((torch.rand(hidden, latent, generator=g, dtype=dtype) - 0.5) / latent**0.5)
        self.h1 = torch.nn.Parameter(torch.zeros(latent, dtype=dtype))
        self.h2 = torch.nn.Parameter((torch.rand(hidden, generator=g, dtype=dtype) - 0.5) / hidden**0.5)

    def loss(self, x: torch.Tensor, alpha: float) -> torch.Tensor:
        z = x[:, 0]
        predictions = []
        for t in range(1, x.shape[1]):
            u = z @ self.W2.T
            z = self.A * z + (torch.relu(u + self.h2) - torch.relu(u)) @ self.W1.T + self.h1
            predictions.append(z)
            z = (1 - alpha) * z + alpha * x[:, t]
        return ((torch.stack(predictions, dim=1) - x[:, 1:]) ** 2).mean()


class ReferenceALRNN(torch.nn.Module):
    """z_t = A ⊙ z + W Φ*(z) + h, z̃_0 = [x_0; L x_0]; x̂ = z[:N]; forcing on the first N units."""

    def __init__(self, n_obs: int, latent: int, relus: int, dtype: torch.dtype) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.n_obs, self.linear = n_obs, latent - relus
        self.A = torch.nn.Parameter(0.9 * torch.ones(latent, dtype=dtype))
        self.W = torch.nn.Parameter(0.01 * torch.randn(latent, latent, generator=g, dtype=dtype))
        self.h = torch.nn.Parameter(torch.zeros(latent, dtype=dtype))
        self.L = torch.nn.Parameter((torch.rand(latent - n_obs, n_obs, generator=g, dtype=dtype) - 0.5) / n_obs**0.5)

    def loss(self, x: torch.Tensor, alpha: float) -> torch.Tensor:
        n = self.n_obs
        z = torch.cat((x[:, 0], x[:, 0] @ self.L.T), dim=-1)
        predictions = []
        for t in range(1, x.shape[1]):
            phi = torch.cat((z[:, : self.linear], torch.relu(z[:, self.linear :])), dim=-1)
            z = self.A * z + phi @ self.W.T + self.h
            predictions.append(z[:, :n])
            z = torch.cat(((1 - alpha) * z[:, :n] + alpha * x[:, t], z[:, n:]), dim=-1)
        return ((torch.stack(predictions, dim=1) - x[:, 1:]) ** 2).mean()


# ----- timing --------------------------------------------------------------------------------------------


def race(iterations: dict[str, tuple[Callable[[], None], int]], rounds: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per iteration of each entry (iteration, iterations per block): best block means.

    Blocks of all entries take turns, round after round, so a busy spell of the shared machine slows
    every entry alike instead of whichever happened to run then. CPU time (all threads of this
    process) is less sensitive to other processes than wall time.
    """
    for iteration, _ in iterations.values():
        iteration()  # warm-up: compilation, allocator, optimizer state
    best = dict.fromkeys(iterations, (np.inf, np.inf))
    for _ in range(rounds):
        for name, (iteration, per_block) in iterations.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(per_block):
                iteration()
            wall, cpu = (time.perf_counter() - wall) / per_block, (time.process_time() - cpu) / per_block
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def reference_model(options: dict, reference_class: str, x: torch.Tensor) -> torch.nn.Module:
    """The plain-torch reference of a ``MODELS`` entry, sized by its options, in x's dtype."""
    sizes = {k: v for k, v in options.items() if k != "kind"}
    return globals()[reference_class](x.shape[-1], *sizes.values(), dtype=x.dtype)


def reference_iteration(module: torch.nn.Module, x: torch.Tensor, device: str = "cpu") -> Callable[[], None]:
    module, x = module.to(device), x.to(device)
    optimizer = torch.optim.RAdam(module.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        module.loss(x, ALPHA).backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def dsr_iteration(
    options: dict, x: torch.Tensor, ensemble: int, kernel: str, device: str = "cpu", threads: int = THREADS
) -> Callable[[], None]:
    """One training step of dsr's trainer (``make_step``) on ``kernel``'s path for an ensemble of E members."""
    options = dict(options)
    model = make_model(options.pop("kind"), n_obs=x.shape[-1], ensemble=ensemble, dtype=x.dtype, device=device, **options)
    optimizer = make_optimizer(model, 1e-3, kernel)
    train_step = make_step(model, optimizer, kernel)
    batch = x.to(device).expand(ensemble, *x.shape).contiguous()
    alphas = [torch.full((ensemble,), ALPHA, dtype=x.dtype, device=device)] * (x.shape[1] - 1)

    def step() -> None:
        fused.set_threads(threads)
        with fused.torch_threads_for(kernel):  # as the trainer does
            train_step(batch, None, alphas)
            if device == "cuda":  # GPU work is asynchronous: time it to its end
                torch.cuda.synchronize()

    return step


def lorenz_windows(dtype: torch.dtype) -> torch.Tensor:
    values = simulate("lorenz63", 5000, seed=0, standardize=True)["x"].values
    starts = np.random.default_rng(0).integers(0, len(values) - STEPS - 1, WINDOWS)
    return torch.as_tensor(np.stack([values[s : s + STEPS + 1] for s in starts]), dtype=dtype)


def fit_peak_memory_mb(epochs: int) -> float:
    """Peak RSS (MB) of a child process running a default-config fit of ``epochs`` epochs on Lorenz-63."""
    with tempfile.TemporaryDirectory() as folder:
        store = write_dataset(simulate("lorenz63", 10_000, noise=0.05, seed=0), Path(folder) / "lorenz.zarr")
        code = (
            "import dsr; from dsr.training.config import FitConfig;"
            f"dsr.fit({str(store)!r}, FitConfig(epochs={epochs}), out={folder!r}, name='mem')"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports kB


GPU_ROWS = (
    (1, "autograd", 3), (1, "graph", 50), (1, "fused", 50), (ENSEMBLE, "graph", 50), (ENSEMBLE, "fused", 50),
    (256, "graph", 20), (256, "fused", 20), (4096, "autograd", 1), (4096, "graph", 5), (4096, "fused", 5),
)
"""(E, path, iterations per timing block) of the GPU table."""


def print_rows(name: str, rows: dict, rounds: int, cpu_columns: bool) -> None:
    """Time ``rows`` (label -> (iteration, per block, members)) against their first row, the reference."""
    seconds = race({label: row[:2] for label, row in rows.items()}, rounds)
    reference_wall, reference_cpu = seconds[next(iter(rows))]
    for label, (_, _, members) in rows.items():
        wall, cpu = seconds[label]
        rate = members / wall
        line = f"{name:30} {label:26} {1e3 * wall:13.2f} {rate:11.1f} {rate * reference_wall:11.1f}×"
        if cpu_columns:
            line += f" {1e3 * cpu:11.2f} {members * reference_cpu / cpu:9.1f}×"
        print(line)


def row_label(kernel: str, members: int) -> str:
    return f"dsr {kernel}" + (f", E={members}" if members > 1 else "")


def cpu_table(x: torch.Tensor, rounds: int) -> None:
    print(
        f"{'model':30} {'path':26} {'ms/iteration':>13} {'model-it/s':>11} {'× reference':>12} "
        f"{'CPU ms/it':>11} {'× ref (CPU)':>10}"
    )
    for name, (options, reference_class) in MODELS.items():
        rows = {"reference (eager torch)": (reference_iteration(reference_model(options, reference_class, x), x), 2, 1)}
        for members, kernel, per_block in ((1, "autograd", 2), (1, "fused", 50), (ENSEMBLE, "autograd", 1), (ENSEMBLE, "fused", 10)):
            label = row_label(kernel, members)
            rows[label] = (dsr_iteration(options, x, members, kernel), per_block, members)
            if kernel == "fused" and THREADS > 1:
                rows[f"{label}, 1 thread"] = (dsr_iteration(options, x, members, kernel, threads=1), per_block, members)
        print_rows(name, rows, rounds, cpu_columns=True)


@njit(cache=True, nogil=True)
def _both_passes(lo, hi, per_member, z0, params, unit, data, squares, states, pre, scale, grads):
    """The kernel's forward and backward pass of members lo..hi−1 (their chunks), as one call."""
    kernel_plrnn.forward(lo * per_member, hi * per_member, per_member, z0, params, unit, data, squares, states, pre)
    kernel_plrnn.backward(lo * per_member, hi * per_member, per_member, scale, states, pre, params, unit, data, grads)


def bare_kernel_iteration(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """Both passes of the fused kernel on batch x (E, S, T̃+1, N) as one call per thread, nothing else."""
    params, unit, series, z0 = fused._kernel_inputs(model, x, None, True)
    dtype = fused.kernel_dtype(params[0])
    arrays = tuple(np.ascontiguousarray(p.detach().numpy(), dtype) for p in params)
    unit = tuple(c.astype(dtype) for c in unit)
    alphas = np.full((x.shape[2] - 1, x.shape[0]), ALPHA, dtype)
    data = (*(fused._to_lanes(np.ascontiguousarray(a.detach().numpy(), dtype)) for a in series), alphas)
    start = fused._to_lanes(np.ascontiguousarray(z0.detach().numpy(), dtype))
    chunks, steps, width = start.shape[0], data[1].shape[1], start.shape[-1]
    per_member = chunks // x.shape[0]
    squares, scale = np.empty((chunks, width), dtype), np.ones((chunks, width), dtype)
    states = np.empty((chunks, steps + 1, start.shape[1], width), dtype)
    pre = np.empty((chunks, steps, arrays[3].shape[1], width), dtype)
    grads = (*(np.zeros((chunks, *a.shape[1:]), dtype) for a in arrays), np.empty_like(start))

    def step() -> None:
        fused.in_parallel(_both_passes, x.shape[0], per_member, start, arrays, unit, data, squares, states, pre, scale, grads)

    return step


def default_fit_table(rounds: int) -> None:
    """A default fit's iteration, compiled epoch against the bare kernel (module doc)."""
    config = FitConfig(seed=0)
    values = simulate("lorenz63", 20_000, seed=0, noise=0.05, standardize=True)["x"].values.astype(np.float64)
    train = TimeSeries(values=values[None], variables=("x", "y", "z"), dt=0.01)
    torch.manual_seed(config.seed)
    model = build_model(config, train, torch.device("cpu"))
    trainer = Trainer(model, train, train, config)
    x, _ = trainer.sampler.sample()
    batches = config.batches_per_epoch
    seconds = race({"bare": (bare_kernel_iteration(model, x), batches), "epoch": (trainer.train_epoch, 1)}, rounds)
    bare, epoch = seconds["bare"], tuple(v / batches for v in seconds["epoch"])
    print(f"{'default fit iteration (E=4, L=100)':38} {'ms/iteration':>13} {'CPU ms/it':>11} {'× bare kernel':>14}")
    print(f"{'bare kernel: forward + backward':38} {1e3 * bare[0]:13.2f} {1e3 * bare[1]:11.2f} {1.0:13.2f}×")
    print(f"{'compiled epoch, per batch':38} {1e3 * epoch[0]:13.2f} {1e3 * epoch[1]:11.2f} {epoch[0] / bare[0]:13.2f}×")


def gpu_table(x: torch.Tensor, rounds: int) -> None:
    """The same iterations on the GPU, against the eager reference moved to the GPU."""
    if not torch.cuda.is_available():
        for name in MODELS:
            for members, kernel, _ in GPU_ROWS:
                print(f"{name:30} {f'GPU dsr {kernel}, E={members}':26} {'unmeasured':>13}")
        return
    print(f"GPU: {torch.cuda.get_device_name()}")
    print(f"{'model':30} {'path (GPU)':26} {'ms/iteration':>13} {'model-it/s':>11} {'× reference':>12}")
    for name, (options, reference_class) in MODELS.items():
        reference = reference_model(options, reference_class, x)
        rows = {"reference (eager torch)": (reference_iteration(reference, x, "cuda"), 3, 1)}
        for members, kernel, per_block in GPU_ROWS:
            label = row_label(kernel, members)
            rows[label] = (dsr_iteration(options, x, members, kernel, "cuda"), per_block, members)
        torch.cuda.reset_peak_memory_stats()
        print_rows(name, rows, rounds, cpu_columns=False)
        print(f"{name:30} peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
        del rows
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timing blocks per row (the best counts)")
    parser.add_argument("--fit-epochs", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU table (on a GPU machine)")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    x = lorenz_windows(dtype)
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), fused kernel on {THREADS} threads, "
        f"{args.dtype}, S={WINDOWS}, T={STEPS}, GTF α={ALPHA}"
    )
    if not args.gpu_only:
        cpu_table(x, args.rounds)
        default_fit_table(args.rounds)
    gpu_table(x, args.rounds)
    if not args.gpu_only:
        peak = fit_peak_memory_mb(args.fit_epochs)
        print(f"peak resident memory of a default fit ({args.fit_epochs} epochs): {peak:.0f} MB")


if __name__ == "__main__":
    main()
