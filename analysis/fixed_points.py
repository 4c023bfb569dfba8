"""Fixed points of smooth benchmark systems by damped Newton iteration from many starts.

A fixed point solves g(x) = 0 with g = f for a flow (an equilibrium, f(x*) = 0) and g(x) = f(x) − x
for a map. From each start, Newton's step δ = −Dg(x)⁻¹ g(x) is halved until ‖g‖ decreases
(backtracking, Dennis & Schnabel, Numerical Methods for Unconstrained Optimization and Nonlinear
Equations, SIAM 1996, §6.3); a start converges when ‖g(x)‖∞ ≤ tol (1 + ‖x‖∞). Converged points
closer than ``merge`` (relative) are one fixed point. Each carries the eigenvalues of the Jacobian
of f and its stability type (`stability.classify`: flows by Re μ, maps by |μ|).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, types
from numpy.typing import ArrayLike

from dsr.systems.integrate import JACOBIAN, VECTOR_FIELD

from .lyapunov import Dynamics
from .linalg import solve
from .stability import classify

_MAT = types.float64[:, ::1]


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point (equilibrium of a flow, fixed point of a map) with its linear stability."""

    point: np.ndarray
    eigenvalues: np.ndarray
    stable: bool
    type: str


@njit(cache=True)
def _residual(f, x, p, flow):
    return f(x, p) if flow else f(x, p) - x


@njit(types.Tuple((_MAT, types.boolean[::1]))(VECTOR_FIELD, JACOBIAN, _MAT, types.float64[::1], types.boolean, types.int64, types.float64), cache=True)
def _newton(f, jac, starts, p, flow, max_iter, tol):
    """Damped Newton from each row of ``starts``: (end points, converged flags)."""
    count, n = starts.shape
    out = starts.copy()
    done = np.zeros(count, dtype=np.bool_)
    for c in range(count):
        x = starts[c].copy()
        g = _residual(f, x, p, flow)
        norm = np.max(np.abs(g))
        for _ in range(max_iter):
            if norm <= tol * (1.0 + np.max(np.abs(x))):
                done[c] = True
                break
            d = jac(x, p)
            if not flow:
                for i in range(n):
                    d[i, i] -= 1.0
            delta, ok = solve(d, -g)
            if not ok or not np.all(np.isfinite(delta)):
                break
            t = 1.0
            while t > 1e-6:
                trial = x + t * delta
                g_trial = _residual(f, trial, p, flow)
                n_trial = np.max(np.abs(g_trial))
                if n_trial < norm:
                    break
                t *= 0.5
            x, g, norm = trial, g_trial, n_trial
            if not np.isfinite(norm):
                break
        out[c] = x
    return out, done


def find_fixed_points(
    system: Dynamics,
    starts: ArrayLike | None = None,
    *,
    n_starts: int = 200,
    seed: int = 0,
    tol: float = 1e-10,
    merge: float = 1e-6,
    max_iter: int = 100,
) -> list[FixedPoint]:
    """The distinct fixed points that Newton reaches from ``starts`` (K, dim).

    Without ``starts``: ``n_starts`` points, half from a trajectory after a transient and half
    uniform in a box around it that also contains the origin and the orbit's mirror image (an
    orbit that settled on one of several equilibria says little about where the others are),
    plus the origin; drawn with ``seed``.
    Sorted by the first coordinate. Raises ValueError for bad starts.
    """
    flow = system.kind == "flow"
    if starts is None:
        starts = _default_starts(system, n_starts, seed)
    x0 = np.array(starts, dtype=np.float64, order="C")
    if x0.ndim != 2 or x0.shape[1] != system.dim or len(x0) == 0:
        raise ValueError(f"starts must have shape (K, {system.dim}), got {np.shape(starts)}")
    ends, done = _newton(system.numba_rhs, system.numba_jacobian, x0, system.param_array, flow, int(max_iter), float(tol))
    found: list[np.ndarray] = []
    for x in ends[done]:
        if not any(np.max(np.abs(x - y)) <= merge * (1.0 + np.max(np.abs(y))) for y in found):
            found.append(x)
    found.sort(key=lambda x: tuple(x))
    points = []
    for x in found:
        eigenvalues = np.linalg.eigvals(system.numba_jacobian(x, system.param_array))
        stable, kind = classify(eigenvalues, discrete=not flow)
        points.append(FixedPoint(x, eigenvalues, stable, kind))
    return points


def _default_starts(system: Dynamics, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    orbit = system.trajectory(2000, transient=1000)
    finite = orbit[np.all(np.isfinite(orbit), axis=1)]
    if len(finite) == 0:
        finite = np.asarray(system.x0)[None]
    centre = finite.mean(axis=0)
    half = 1.5 * np.ptp(finite, axis=0) + np.abs(centre) + 1.0
    on_orbit = finite[rng.integers(0, len(finite), count // 2)]
    box = centre + half * rng.uniform(-1.0, 1.0, (count - count // 2, system.dim))
    return np.vstack([np.zeros((1, system.dim)), on_orbit, box])
