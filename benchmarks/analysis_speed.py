"""Speed of the analysis kernels (`dsr.analysis`). Run:  python benchmarks/analysis_speed.py

1. Lyapunov spectrum of a trained AL-RNN (M = 20, P = 2: a short `dsr fit` on Lorenz-63 made here)
   over 10^5 steps, QR every step and every 10 steps: the Numba kernel against a plain numpy loop
   and a torch eager loop (target: >= 20x torch).
2. Hénon spectrum over 10^6 iterations, QR every step: against pynamicalsys 1.7.0 (numba, modified
   Gram-Schmidt QR, after its JIT warm-up) if it is installed (target: at or below its time),
   else against the numpy loop (target: >= 50x).
3. First-call compile times of the kernels in fresh processes, empty and warm Numba cache.
4. Fixed points of AL-RNNs with P = 8..12 ReLUs: SCYFI (its default loop limits, and a larger
   budget) against exhaustive search, time and solutions found.
One run each (the loops take seconds); timings on a shared machine are order-of-magnitude.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import dsr.systems as systems
from dsr.analysis import cycles, lyapunov, pwl

M, P_SPECTRUM, STEPS = 20, 2, 100_000
TRAINING_EPOCHS = 30
HENON_STEPS = 1_000_000


def timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def trained_alrnn(m: int, p: int, epochs: int) -> dict[str, np.ndarray]:
    """A, W, h of the best member of a short AL-RNN fit (STF τ = 16, as ALRNN-DSR) on 20 000 steps of Lorenz-63."""
    import torch

    import dsr
    from dsr.numba_face import member_arrays
    from dsr.simulate import simulate
    from dsr.training.config import FitConfig
    from dsr.zarrstore import write_dataset

    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        data = write_dataset(simulate("lorenz63", 20_000, noise=0.05, seed=0), Path(tmp) / "lorenz63.zarr")
        config = FitConfig(model="alrnn", latent=m, relus=p, forcing="stf", tau=16, epochs=epochs, ensemble=2, eval_every=10)
        run = dsr.load_run(dsr.fit(data, config, out=tmp, name="alrnn"))
        arrays = member_arrays(run.params("best"), run.best_member)
    torch.set_num_threads(threads)
    return {name: arrays[name] for name in ("A", "W", "h")}


def random_alrnn(m: int, seed: int) -> dict[str, np.ndarray]:
    """Random AL-RNN parameters whose region maps all contract (‖diag(A) + W D‖₂ < 1), so orbits
    stay bounded; the cost per step does not depend on the dynamics."""
    rng = np.random.default_rng(seed)
    return {"A": rng.uniform(0.2, 0.5, m), "W": 0.25 * rng.standard_normal((m, m)) / np.sqrt(m), "h": rng.standard_normal(m)}


def multistable_alrnn(m: int, p: int, seed: int) -> dict[str, np.ndarray]:
    """An AL-RNN with up to 2^P real fixed points: each ReLU unit alone, z' = z/2 + [z]_+ − 1/4,
    has one in each of its two regions (−1/2 and +1/2); a weak random coupling perturbs them."""
    rng = np.random.default_rng(seed)
    w = 0.05 * rng.standard_normal((m, m)) / np.sqrt(m)
    relu = np.arange(m - p, m)
    w[relu, relu] += 1.0
    h = 0.1 * rng.standard_normal(m)
    h[relu] = -0.25
    return {"A": np.full(m, 0.5), "W": w, "h": h}


def numpy_alrnn_spectrum(params: dict[str, np.ndarray], p: int, z0: np.ndarray, steps: int, interval: int) -> np.ndarray:
    """The same QR method as a plain numpy loop (np.linalg.qr, Householder)."""
    a, w, h = params["A"], params["W"], params["h"]
    m = len(a)
    z, q, total = z0.copy(), np.eye(m), np.zeros(m)
    linear = np.arange(m) < m - p
    for i in range(steps):
        g = np.where(linear | (z > 0), 1.0, 0.0)
        q = (np.diag(a) + w * g) @ q
        if (i + 1) % interval == 0:
            q, r = np.linalg.qr(q)
            total += np.log(np.abs(np.diag(r)))
        z = a * z + w @ (g * z) + h
    return total / steps


def torch_alrnn_spectrum(params: dict[str, np.ndarray], p: int, z0: np.ndarray, steps: int, interval: int) -> np.ndarray:
    """The same method with the torch model (dsr.models) in eager mode: step, jacobian, torch QR.

    One thread: on matrices this small more threads only add synchronisation (on the shared
    2-core test machine, two threads made the loop 30x slower).
    """
    import torch

    from dsr.models import make_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = make_model("alrnn", 3, len(z0), relus=p, dtype=torch.float64, seeds=[0])
    with torch.no_grad():
        for name, value in params.items():
            getattr(model, name).copy_(torch.as_tensor(value)[None])
        z = torch.as_tensor(z0)[None, None]
        q = torch.eye(len(z0), dtype=torch.float64)
        total = torch.zeros(len(z0), dtype=torch.float64)
        for i in range(steps):
            q = model.jacobian(z)[0, 0] @ q
            if (i + 1) % interval == 0:
                q, r = torch.linalg.qr(q)
                total += torch.log(torch.abs(torch.diagonal(r)))
            z = model.step(z)
    torch.set_num_threads(threads)
    return (total / steps).numpy()


def numpy_henon_spectrum(x0: np.ndarray, steps: int) -> np.ndarray:
    x, q, total = x0.copy(), np.eye(2), np.zeros(2)
    for _ in range(steps):
        q, r = np.linalg.qr(np.array([[-2.8 * x[0], 1.0], [0.3, 0.0]]) @ q)
        total += np.log(np.abs(np.diag(r)))
        x = np.array([1.0 - 1.4 * x[0] ** 2 + x[1], 0.3 * x[0]])
    return total / steps


def spectrum_table() -> None:
    params = trained_alrnn(M, P_SPECTRUM, TRAINING_EPOCHS)
    face = pwl.from_params("alrnn", params, relus=P_SPECTRUM)
    z0 = face.trajectory(1, np.full(M, 0.1), transient=1_000)[0]
    lyapunov.lyapunov_spectrum(face, z0, steps=10, transient=0)  # load the compiled kernel
    print(f"1. Lyapunov spectrum, AL-RNN M={M} P={P_SPECTRUM} (trained {TRAINING_EPOCHS} epochs on Lorenz-63), {STEPS:,} steps, float64, one thread each")
    for interval in (1, 10):
        rows = [("numba kernel (dsr.analysis)", STEPS, *timed(
            lambda: lyapunov.lyapunov_spectrum(face, z0, steps=STEPS, transient=0, interval=interval).exponents))]
        rows.append(("numpy loop (np.linalg.qr)", STEPS, *timed(lambda: numpy_alrnn_spectrum(params, P_SPECTRUM, z0, STEPS, interval))))
        rows.append(("torch eager loop (model.step/jacobian, torch QR)", STEPS, *timed(
            lambda: torch_alrnn_spectrum(params, P_SPECTRUM, z0, STEPS, interval))))
        print(f"   QR every {interval} step(s)")
        _print_rows(rows, "steps")
        agree = max(np.max(np.abs(np.sort(rows[0][3]) - np.sort(r[3]))) for r in rows[1:])
        speedup = rows[2][2] / rows[0][2]
        print(f"   largest exponent {rows[0][3].max():.5f} per step; methods agree to {agree:.1e}")
        print(f"   target numba >= 20x torch eager: {'met' if speedup >= 20 else 'NOT met'} ({speedup:.0f}x)\n")


def henon_table() -> None:
    henon = systems.get("henon")
    x0 = henon.trajectory(1, transient=1_000)[0]
    lyapunov.lyapunov_spectrum(henon, x0, steps=10, transient=0)
    ours_s, ours = timed(lambda: lyapunov.lyapunov_spectrum(henon, x0, steps=HENON_STEPS, transient=0).exponents)
    rows = [("numba kernel (dsr.analysis)", HENON_STEPS, ours_s, ours)]
    rival = _pynamicalsys_rows(x0)
    rows += rival
    numpy_steps = HENON_STEPS // 10
    numpy_s, numpy_out = timed(lambda: numpy_henon_spectrum(x0, numpy_steps))
    rows.append((f"numpy loop ({numpy_steps:,} iterations, time x10)", HENON_STEPS, 10 * numpy_s, numpy_out))
    print(f"2. Hénon (a=1.4, b=0.3) spectrum, {HENON_STEPS:,} iterations, QR every iteration")
    _print_rows(rows, "iterations")
    print(f"   exponents {ours[0]:.7f}, {ours[1]:.7f}")
    if rival:
        ratio = rival[0][2] / ours_s
        print(f"   target at or below pynamicalsys: {'met' if ratio >= 1 else 'NOT met'} ({ratio:.1f}x faster)\n")
    else:
        ratio = rows[-1][2] / ours_s
        print(f"   pynamicalsys not installed; target >= 50x numpy loop: {'met' if ratio >= 50 else 'NOT met'} ({ratio:.0f}x)\n")


def _pynamicalsys_rows(x0: np.ndarray) -> list[tuple[str, int, float, np.ndarray]]:
    try:
        from pynamicalsys import DiscreteDynamicalSystem
    except ImportError:
        return []
    ds = DiscreteDynamicalSystem(model="henon map")
    jit_s, _ = timed(lambda: ds.lyapunov(x0, 10, parameters=[1.4, 0.3], method="QR"))
    seconds, out = timed(lambda: ds.lyapunov(x0, HENON_STEPS, parameters=[1.4, 0.3], method="QR"))
    print(f"   (pynamicalsys first call, JIT included: {jit_s:.1f} s)")
    return [("pynamicalsys 1.7.0 lyapunov(method='QR')", HENON_STEPS, seconds, np.asarray(out, dtype=float).ravel())]


def _print_rows(rows: list, unit: str) -> None:
    base = rows[0][1] / rows[0][2]
    print(f"   {'method':52s} {unit:>10s} {'seconds':>9s} {'numba/this':>11s}")
    for label, n, seconds, _ in rows:
        print(f"   {label:52s} {n:>10,d} {seconds:>9.3f} {base / (n / seconds):>10.1f}x")


_COMPILE_PROBE = """
import importlib, time, numpy as np
out = {}
def probe(name, run):
    t = time.perf_counter(); run(); out[name] = time.perf_counter() - t
for module, what in [("dsr.systems", "RK4 kernels, system functions"), ("dsr.analysis.pwl", "step, jacobian, pattern, affine"),
                     ("dsr.analysis.lyapunov", "tangent spectrum kernel"), ("dsr.analysis.dimensions", "pair-count kernel"),
                     ("dsr.analysis.cycles", "SCYFI and exhaustive kernels"), ("dsr.analysis.fixed_points", "Newton kernel")]:
    probe(f"import {module} ({what})", lambda: importlib.import_module(module))
import dsr.systems as s
from dsr.analysis import cycles, dimensions, fixed_points, lyapunov, pwl
m = pwl.from_params("alrnn", {"A": np.full(3, .5), "W": np.eye(3), "h": np.ones(3)}, relus=2)
probe("first spectrum of a model", lambda: lyapunov.lyapunov_spectrum(m, np.zeros(3), steps=10))
probe("first spectrum of lorenz63 (compiles its f, jac)", lambda: lyapunov.lyapunov_spectrum(s.get("lorenz63"), steps=10))
probe("first cycle search", lambda: cycles.find_cycles(m, 2))
probe("first fixed points of henon", lambda: fixed_points.find_fixed_points(s.get("henon")))
probe("first correlation dimension", lambda: dimensions.correlation_dimension(np.random.rand(500, 2)))
print(repr(out))
"""


def compile_table() -> None:
    def fresh(cache_dir: str) -> dict[str, float]:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        done = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, capture_output=True, text=True, check=True)
        return ast.literal_eval(done.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as empty:
        cold = fresh(empty)
        warm = fresh(empty)
    print("3. Times in fresh processes: compiling into an empty Numba cache, then loading from it")
    print(f"   {'step':72s} {'empty':>7s} {'warm':>7s}")
    for name in cold:
        print(f"   {name:72s} {cold[name]:>6.2f}s {warm[name]:>6.2f}s")
    print(f"   {'total':72s} {sum(cold.values()):>6.2f}s {sum(warm.values()):>6.2f}s\n")


def cycles_table() -> None:
    print("4. Fixed points of multistable AL-RNNs (M = 20, up to 2^P real fixed points): SCYFI against exhaustive search")
    print(f"   {'P':>3s} {'method':34s} {'solved':>9s} {'found':>6s} {'seconds':>9s}")
    cycles.find_cycles(pwl.from_params("alrnn", random_alrnn(M, 0), relus=2), 1, method="scyfi")  # load kernels
    for p in range(8, 13):
        params = multistable_alrnn(M, p, seed=p)
        model = pwl.from_params("alrnn", params, relus=p)
        for label, options in (
            ("exhaustive", {"method": "exhaustive"}),
            ("SCYFI, default limits (10 x 20)", {"method": "scyfi"}),
            ("SCYFI, larger budget (200 x 200)", {"method": "scyfi", "outer": 200, "inner": 200}),
        ):
            seconds, found = timed(lambda: cycles.find_cycles(model, 1, **options))
            print(f"   {p:>3d} {label:34s} {found.orders[0].solved:>9,d} {len(found.cycles):>6d} {seconds:>9.3f}")


def main() -> None:
    print(f"machine: {os.cpu_count()} cores\n")
    spectrum_table()
    henon_table()
    compile_table()
    cycles_table()


if __name__ == "__main__":
    main()
