"""One training step of the zoo's gated cells with and without ``--time-parallel newton``, and the Newton steps it takes.

One step = the one-step loss of S = 16 windows of T̃ = 200 steps of standardized Lorenz-63 under GTF with
α = 0.1 in observation space (the zoo's bench recipe), for E = 4 freshly initialised members in float32, and
its gradient: by autograd through the sequential loop (``dsr.training.loss.member_losses``), or by a Newton
solve of each window's forced rollout with gradients from the adjoint scan
(``dsr.parallel.training.newton_member_losses``) with the ``deer`` and the ``quasi`` solver (budget 400, so
that neither falls back). Torch on one thread. Columns: seconds per step (mean of ``--repeats`` after one
warm-up) and the Newton steps of the rollout's solve.

Usage: /tmp/bit/quiet python benchmarks/newton_zoo_step.py [--kinds pararnn-gru,pararnn-lstm,gru] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import torch

from dsr.parallel import Forcing, NewtonFallbackWarning, solve
from dsr.parallel.training import newton_member_losses
from dsr.simulate import simulate
from dsr.training.loss import member_losses
from dsr.zoo import make_zoo_model

ENSEMBLE, WINDOWS, STEPS, ALPHA, BUDGET = 4, 16, 200, 0.1, 400


def seconds(step: Callable[[], object], repeats: int) -> float:
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="pararnn-gru,pararnn-lstm,gru")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    series = torch.as_tensor(simulate("lorenz63", 5_000, dt=0.01, seed=0, standardize=True)["x"].values, dtype=torch.float32)
    x = torch.stack([series[s : s + STEPS + 1] for s in range(0, 300 * WINDOWS, 300)]).expand(ENSEMBLE, -1, -1, -1)
    alphas = [ALPHA] * STEPS
    print("| model | sequential (s) | deer (s) | deer steps | quasi (s) | quasi steps |\n|---|---:|---:|---:|---:|---:|")
    for kind in args.kinds.split(","):
        model = make_zoo_model(kind, 3, ensemble=ENSEMBLE, seeds=0)
        params = [p for p in model.parameters() if p.requires_grad]
        row = [f"{seconds(lambda: torch.autograd.grad(member_losses(model, x, alphas, kernel='autograd').sum(), params), args.repeats):.3f}"]
        z0 = model.initial_state(x[:, :, 0]).detach()
        forcing = Forcing(model.forcing_signal(x[:, :, 1:STEPS]), torch.full((STEPS - 1, 1), ALPHA))
        for solver in ("deer", "quasi"):
            with warnings.catch_warnings():
                warnings.simplefilter("error", NewtonFallbackWarning)  # a fallback would time the loop, not Newton
                steps = solve(model, z0, STEPS - 1, forcing=forcing, solver=solver, max_iter=BUDGET).iterations
                loss = lambda: newton_member_losses(model, x, alphas, solver=solver, max_iter=BUDGET)  # noqa: E731
                row += [f"{seconds(lambda: torch.autograd.grad(loss().sum(), params), args.repeats):.3f}", str(steps)]
        print(f"| {kind} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
