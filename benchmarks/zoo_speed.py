"""Training speed of the model zoo against the default model's fused kernel, on the same windows, in one run.

One training iteration = the one-step loss of S = 16 windows of T̃ = 200 steps of standardized
Lorenz-63 under GTF with α = 0.1 (for the zoo's recurrent families in observation space: the input
of each step is α x_data + (1 − α) x̂), the backward pass and one RAdam step, for an ensemble of E = 4
members (the fit's default), in float32. The reference row is the default model (clipped shPLRNN,
M = 3, L = 100) on its fused kernel, as ``dsr fit`` trains it (``benchmarks/train_speed.py``'s
``dsr_iteration``). The zoo's gradient families train on the autograd path with torch on one thread
(on two threads of a busy 2-core machine torch's tiny operations ran ~30× slower). ESN, SINDy and the
parrot have no iterations: their rows time their whole closed-form fit on the same 16 windows.
A last row times the neural ODE's step integrated by torchdiffeq's adaptive dopri5 (rtol 1e-6)
instead of the zoo's fixed-step RK4, if torchdiffeq is installed: the measurement behind the choice.

Columns: wall and CPU milliseconds per iteration (best block mean; blocks of all rows take turns, so a
busy spell of the shared machine slows every row alike), and the ratio to the reference row.

Usage: python benchmarks/zoo_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from train_speed import ALPHA, STEPS, WINDOWS, dsr_iteration, lorenz_windows, race

from dsr.training.loss import member_losses
from dsr.zoo import ZOO, ZooModel, make_zoo_model

ENSEMBLE = 4
DEFAULT = {"kind": "clipped-shplrnn", "latent": 3, "hidden": 100}
DT = 0.01  # simulate()'s default step for Lorenz-63, the data's dt


def zoo_model(kind: str, x: torch.Tensor) -> ZooModel:
    """An E-member ensemble of ``kind`` with its default options, sized for windows x."""
    return make_zoo_model(kind, x.shape[-1], ensemble=ENSEMBLE, seeds=0, dtype=x.dtype, **ZOO[kind].data_options(x, DT))


def zoo_iteration(model: ZooModel, x: torch.Tensor) -> Callable[[], None]:
    """One teacher-forced training iteration of a zoo ensemble on windows x (S, T̃+1, N)."""
    optimizer = torch.optim.RAdam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    batch = x.expand(ENSEMBLE, *x.shape).contiguous()
    alphas = [torch.full((ENSEMBLE,), ALPHA, dtype=x.dtype)] * (x.shape[1] - 1)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        member_losses(model, batch, alphas, kernel="autograd").sum().backward()
        optimizer.step()

    return step


def closed_form_fit(model: ZooModel, x: torch.Tensor) -> Callable[[], None]:
    """A closed-form fit of a zoo ensemble on the windows x taken as trials."""
    return lambda: model.fit_closed_form(x)


def on_one_thread(iteration: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            iteration()
        finally:
            torch.set_num_threads(threads)

    return run


def torchdiffeq_node(x: torch.Tensor) -> Callable[[], None] | None:
    """The neural ODE's iteration with each step integrated by torchdiffeq's dopri5 instead of RK4."""
    try:
        from torchdiffeq import odeint
    except ImportError:
        return None
    model = zoo_model("node", x)
    span = torch.tensor([0.0, DT], dtype=x.dtype)
    model._step = lambda z: odeint(lambda t, y: model.field(y), z, span, method="dopri5", rtol=1e-6, atol=1e-8)[-1]
    return zoo_iteration(model, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing blocks per row (the best counts)")
    args = parser.parse_args()
    x = lorenz_windows(torch.float32)
    rows: dict[str, tuple[Callable[[], None], int]] = {"default (clipped shPLRNN, fused)": (dsr_iteration(DEFAULT, x, ENSEMBLE, "fused"), 20)}
    kinds: dict[str, str] = {}
    for kind, cls in ZOO.items():
        if cls.fitted_by == "gradient":
            rows[kind] = (on_one_thread(zoo_iteration(zoo_model(kind, x), x)), 1)
            kinds[kind] = "iteration"
        else:
            rows[kind] = (on_one_thread(closed_form_fit(zoo_model(kind, x), x)), 1)
            kinds[kind] = "closed-form fit"
    node_dopri5 = torchdiffeq_node(x)
    if node_dopri5 is not None:
        rows["node (torchdiffeq dopri5)"] = (on_one_thread(node_dopri5), 1)
        kinds["node (torchdiffeq dopri5)"] = "iteration"
    print(f"torch {torch.__version__}, float32, E={ENSEMBLE}, S={WINDOWS}, T={STEPS}, GTF α={ALPHA}, best of {args.rounds} blocks")
    seconds = race(rows, args.rounds)
    ref_wall, ref_cpu = seconds[next(iter(rows))]
    print("| model | timed | ms | × default | CPU ms | × default (CPU) |\n|---|---|---:|---:|---:|---:|")
    for label, (wall, cpu) in seconds.items():
        print(f"| {label} | {kinds.get(label, 'iteration')} | {1e3 * wall:.2f} | {wall / ref_wall:.1f} | {1e3 * cpu:.2f} | {cpu / ref_cpu:.1f} |")


if __name__ == "__main__":
    main()
