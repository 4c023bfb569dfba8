"""How far to trust λ1 estimated from a series (`dsr.analysis.series_lyapunov`, Rosenstein et al. 1993).

Run:  python benchmarks/data_lyapunov.py [--seeds 8] [--quick]

For each case and series length, series from ``--seeds`` initial conditions (each seed also
draws the observation noise); each series is analysed as `dsr analyze DATA` would: the observed
states as they are, or a scalar component delay-embedded with the lag and dimension that
`dsr embed --auto` chooses. The table gives the median estimate, its relative error against
the published exponent (Sprott), the spread (min..max over seeds) and the largest relative error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import dsr.systems as systems
from dsr.analysis import embedding, series_lyapunov

CASES = {
    # name: (system, dt, how the series is observed)
    "Lorenz-63, state (x, y, z)": ("lorenz63", 0.01, "state"),
    "Lorenz-63, x delay-embedded": ("lorenz63", 0.01, "x"),
    "Lorenz-63, state, 5 % noise": ("lorenz63", 0.01, "state+noise"),
    "Hénon, x delay-embedded (lag 1, dim 2)": ("henon", None, "x-lag1"),
}
LENGTHS = {"lorenz63": (5_000, 10_000, 20_000, 50_000), "henon": (1_000, 2_000, 5_000, 20_000)}


def series(system_name: str, dt: float | None, observed: str, steps: int, seed: int) -> tuple[np.ndarray, str]:
    system = systems.get(system_name)
    rng = np.random.default_rng(seed)
    x0 = system.sample_initial_conditions(1, rng)[0]
    states = system.trajectory(steps, dt=dt, x0=x0, transient=1_000)
    if observed == "state":
        return states, ""
    if observed == "state+noise":
        return states + 0.05 * states.std(axis=0) * rng.standard_normal(states.shape), ""
    if observed == "x-lag1":
        return embedding.delay_embed(states[:, 0], 2, 1)[0], "lag 1, dim 2"
    lag = embedding.choose_lag(states[:, 0]).lag
    dim = embedding.choose_dimension(states[:, 0], lag).dim
    return embedding.delay_embed(states[:, 0], dim, lag)[0], f"lag {lag}, dim {dim}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="two lengths per case, three seeds")
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    print("| series | steps | median λ1 | error of median | min..max | largest error | embeddings | CPU s per estimate |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (system_name, dt, observed) in CASES.items():
        reference = systems.get(system_name).invariants["max_lyapunov_exponent"]
        lengths = LENGTHS[system_name][1::2] if args.quick else LENGTHS[system_name]
        for steps in lengths:
            estimates, chosen, cpu = [], set(), 0.0
            for seed in range(seeds):
                x, how = series(system_name, dt, observed, steps, seed)
                start = time.process_time()
                estimates.append(series_lyapunov.largest_lyapunov(x, dt).exponent)
                cpu += time.process_time() - start
                chosen.add(how)
            est = np.array(estimates)
            errors = np.abs(est / reference - 1)
            print(
                f"| {name} | {steps} | {np.median(est):.3f} | {np.median(est) / reference - 1:+.1%} | "
                f"{est.min():.3f}..{est.max():.3f} | {errors.max():.1%} | {'; '.join(sorted(c for c in chosen if c)) or '-'} | "
                f"{cpu / seeds:.2f} |",
                flush=True,
            )
    print(f"\nreference λ1: Lorenz-63 {systems.get('lorenz63').invariants['max_lyapunov_exponent']} per time unit, "
          f"Hénon {systems.get('henon').invariants['max_lyapunov_exponent']} per step (Sprott); {seeds} seeds per row")


if __name__ == "__main__":
    main()
