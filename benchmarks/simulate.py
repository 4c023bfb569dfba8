"""Simulation speed of `dsr.systems` on Lorenz-63 (RK4, dt = 0.01).

Compares the Numba kernel with a plain numpy per-step RK4 loop and with
scipy's adaptive solvers, and measures the Numba compile time in fresh
processes (empty cache vs warm cache). Run:  python benchmarks/simulate.py
Target: Numba >= 20x faster than the numpy loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

import dsr.systems as systems

DT = 0.01
SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0


def best_time(run: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def lorenz_numpy(x: np.ndarray) -> np.ndarray:
    return np.array([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2]])


def numpy_loop(x0: np.ndarray, steps: int) -> np.ndarray:
    """Plain RK4 in Python with numpy arrays: the baseline the kernel is measured against."""
    out = np.empty((steps, 3))
    x = x0.copy()
    out[0] = x
    for i in range(1, steps):
        k1 = lorenz_numpy(x)
        k2 = lorenz_numpy(x + 0.5 * DT * k1)
        k3 = lorenz_numpy(x + 0.5 * DT * k2)
        k4 = lorenz_numpy(x + DT * k3)
        x = x + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        out[i] = x
    return out


def scipy_run(x0: np.ndarray, samples: int, method: str, rtol: float, atol: float) -> np.ndarray:
    times = DT * np.arange(samples)
    sol = solve_ivp(lambda _t, x: lorenz_numpy(x), (0.0, times[-1]), x0, method=method, t_eval=times, rtol=rtol, atol=atol)
    return sol.y.T


def first_call_seconds(cache_dir: str | None) -> tuple[float, float]:
    """(import, first trajectory) seconds in a fresh interpreter; ``cache_dir`` redirects Numba's cache."""
    code = (
        "import time; t0 = time.perf_counter(); import dsr.systems as s; t1 = time.perf_counter();"
        "s.get('lorenz63').trajectory(10); t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import_s, call_s = map(float, out.stdout.split())
    return import_s, call_s


def main() -> None:
    lorenz = systems.get("lorenz63")
    x0 = lorenz.trajectory(1, transient=1000)[0]
    lorenz.trajectory(10, x0=x0)  # load the compiled kernel before timing

    rows: list[tuple[str, int, float]] = []
    steps = 1_000_000
    rows.append(("numba kernel (dsr.systems), 1 trajectory", steps, best_time(lambda: lorenz.trajectory(steps, x0=x0))))
    batch = lorenz.sample_initial_conditions(16, np.random.default_rng(0))
    lorenz.trajectory(10, x0=batch)
    rows.append(
        (
            f"numba batch kernel, 16 trajectories, {os.cpu_count()} cores",
            16 * 100_000,
            best_time(lambda: lorenz.trajectory(100_000, x0=batch)),
        )
    )
    rows.append(("numpy per-step RK4 loop", 100_000, best_time(lambda: numpy_loop(x0, 100_000), repeats=1)))
    rows.append(
        (
            "scipy solve_ivp RK45 rtol 1e-6 (samples)",
            100_000,
            best_time(lambda: scipy_run(x0, 100_000, "RK45", 1e-6, 1e-9), repeats=1),
        )
    )
    rows.append(
        (
            "scipy solve_ivp DOP853 rtol 1e-9 (samples)",
            100_000,
            best_time(lambda: scipy_run(x0, 100_000, "DOP853", 1e-9, 1e-12), repeats=1),
        )
    )

    numba_rate = rows[0][1] / rows[0][2]
    print(f"Lorenz-63, RK4 at dt = {DT} (scipy: adaptive, output samples every {DT})")
    print(f"{'method':46s} {'steps':>10s} {'seconds':>9s} {'steps/s':>11s} {'numba/this':>11s}")
    for label, n, seconds in rows:
        rate = n / seconds
        print(f"{label:46s} {n:>10,d} {seconds:>9.3f} {rate:>11.3e} {numba_rate / rate:>10.1f}x")

    with tempfile.TemporaryDirectory() as empty_cache:
        cold_import, cold_call = first_call_seconds(empty_cache)
    warm_import, warm_call = first_call_seconds(None)
    print(
        "\nfresh process, empty Numba cache: import dsr.systems "
        f"{cold_import:.2f} s (compiles the generic kernels), first lorenz63 trajectory {cold_call:.2f} s "
        "(compiles f)"
    )
    print(f"fresh process, warm Numba cache:  import dsr.systems {warm_import:.2f} s, first trajectory {warm_call:.3f} s")
    speedup = numba_rate / (rows[2][1] / rows[2][2])
    print(f"\ntarget numba >= 20x numpy loop: {'met' if speedup >= 20 else 'NOT met'} ({speedup:.0f}x)")


if __name__ == "__main__":
    main()
