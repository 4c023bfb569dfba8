"""Numba kernels that advance any registered system, and the DOP853 accuracy reference.

Every system supplies two jitted functions with the fixed signatures

    f(x, p)   -> float64[::1]        vector field (flows) or next state (maps)
    jac(x, p) -> float64[:, ::1]     its Jacobian

where ``x`` is the state and ``p`` the parameters as C-contiguous float64 arrays.
The kernels below take ``f`` as a Numba *first-class function* (``VECTOR_FIELD``):
one machine-code kernel serves every system, so it is compiled once, cached on
disk (``cache=True``), and never re-specialised per system. Later analysis
kernels (variational equations, Lyapunov spectra) should type their arguments
with ``VECTOR_FIELD`` and ``JACOBIAN`` for the same reason.

Fixed-step classical Runge–Kutta (RK4):

    k1 = f(x),  k2 = f(x + dt/2 k1),  k3 = f(x + dt/2 k2),  k4 = f(x + dt k3)
    x' = x + dt/6 (k1 + 2 k2 + 2 k3 + k4)

(Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit, prange, types
from scipy.integrate import solve_ivp

_VEC = types.float64[::1]
_MAT = types.float64[:, ::1]

VECTOR_FIELD = types.FunctionType(_VEC(_VEC, _VEC))
"""Numba type of ``f(x, p)``: vector field of a flow, or the map of a map."""
JACOBIAN = types.FunctionType(_MAT(_VEC, _VEC))
"""Numba type of ``jac(x, p)``: the (dim, dim) Jacobian of ``f``."""
STEP_JACOBIAN = types.FunctionType(_VEC(_VEC, _VEC, _MAT))
"""Numba type of ``step_jac(x, p, jac_out)``: a map's f(x), with J(x) written into ``jac_out``.

Optional (piecewise-linear models have it): one call per step of a tangent propagation instead
of two, which share their work (the region of x) and allocate no Jacobian.
"""


@njit(_VEC(_VEC, _VEC, _MAT), cache=True)
def no_step_jacobian(x, p, jac_out):
    """The STEP_JACOBIAN placeholder of systems that have none: tangent kernels are told not to call
    it and use f and jac (it returns x unchanged, so a call by mistake shows as a frozen orbit)."""
    return x.copy()


@njit(cache=True)
def rk4_step(f, x, p, dt):
    """One RK4 step of ``dx/dt = f(x, p)``; returns a new array."""
    n = x.shape[0]
    k1 = f(x, p)
    y = np.empty(n)
    for i in range(n):
        y[i] = x[i] + 0.5 * dt * k1[i]
    k2 = f(y, p)
    for i in range(n):
        y[i] = x[i] + 0.5 * dt * k2[i]
    k3 = f(y, p)
    for i in range(n):
        y[i] = x[i] + dt * k3[i]
    k4 = f(y, p)
    for i in range(n):
        y[i] = x[i] + dt / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i])
    return y


@njit(cache=True)
def _fill(f, x0, p, dt, transient, out, flow):
    # Shared by the single and the batch kernel so both give bit-identical rows.
    x = x0.copy()
    for _ in range(transient):
        x = rk4_step(f, x, p, dt) if flow else f(x, p)
    out[0] = x
    for i in range(1, out.shape[0]):
        x = rk4_step(f, x, p, dt) if flow else f(x, p)
        out[i] = x


@njit(_MAT(VECTOR_FIELD, _VEC, _VEC, types.float64, types.int64, types.int64, types.boolean), cache=True, nogil=True)
def simulate(f, x0, p, dt, steps, transient, flow):
    """Trajectory of ``steps`` rows from ``x0``: row 0 is the state after ``transient`` steps.

    Releases the GIL, so that callers can run several trajectories (an ensemble's members) on threads.

    ``flow=True``: RK4 steps of size ``dt``; ``flow=False``: iterates the map ``f`` (``dt`` unused).
    """
    out = np.empty((steps, x0.shape[0]))
    _fill(f, x0, p, dt, transient, out, flow)
    return out


@njit(
    types.float64[:, :, ::1](VECTOR_FIELD, _MAT, _VEC, types.float64, types.int64, types.int64, types.boolean),
    cache=True,
    parallel=True,
)
def simulate_batch(f, x0s, p, dt, steps, transient, flow):
    """``simulate`` for each row of ``x0s`` (K, dim), in parallel; returns (K, steps, dim)."""
    out = np.empty((x0s.shape[0], steps, x0s.shape[1]))
    for k in prange(x0s.shape[0]):
        _fill(f, x0s[k], p, dt, transient, out[k], flow)
    return out


def dop853(
    rhs: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    steps: int,
    dt: float,
    rtol: float,
    atol: float,
) -> np.ndarray:
    """Adaptive DOP853 solution sampled at t = 0, dt, ..., (steps-1) dt; shape (steps, dim).

    Dormand–Prince 8(5,3) as implemented by ``scipy.integrate.solve_ivp``; the
    accuracy reference for the fixed-step kernels.
    """
    times = dt * np.arange(steps)
    if steps == 1:  # solve_ivp rejects an empty time span
        return x0[None].copy()
    sol = solve_ivp(
        lambda _t, x: rhs(x), (0.0, times[-1]), x0, method="DOP853", t_eval=times, rtol=rtol, atol=atol
    )
    if not sol.success:
        raise RuntimeError(f"DOP853 failed: {sol.message}")
    return np.ascontiguousarray(sol.y.T)
