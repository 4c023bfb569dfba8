"""Numba kernels that carry tangent vectors along an orbit and re-orthonormalise them.

For a map x' = f(x) the k tangent vectors y_j evolve by y_j' = J(x) y_j. For a flow they evolve
through the exact derivative of the RK4 step of ``dsr.systems.integrate`` (the variational
equations integrated by the same Runge–Kutta stages, so the result is the Lyapunov spectrum of
the discretised flow):

    K1 = J(x) Y,            K2 = J(x + h/2 k1)(Y + h/2 K1),
    K3 = J(x + h/2 k2)(Y + h/2 K2),   K4 = J(x + h k3)(Y + h K3),
    Y' = Y + h/6 (K1 + 2 K2 + 2 K3 + K4).

Every ``interval`` steps the vectors are re-orthonormalised by Gram–Schmidt (a QR
factorisation) and log|R_jj| is accumulated: the Benettin–Galgani–Giorgilli–Strelcyn /
Shimada–Nagashima method (Benettin et al., Meccanica 15, 9 (1980); Shimada & Nagashima,
Prog. Theor. Phys. 61, 1605 (1979)). Functions are passed as Numba first-class functions
(``VECTOR_FIELD``/``JACOBIAN`` of ``dsr.systems.integrate``), so one compiled kernel serves
every system and every model.

Tangent vectors are stored as the rows of a (k, n) array so that every inner loop is contiguous.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from dsr.systems.integrate import JACOBIAN, STEP_JACOBIAN, VECTOR_FIELD

from .linalg import FAST, matmul_t_into

_VEC = types.float64[::1]
_MAT = types.float64[:, ::1]


@njit(cache=True)
def _apply(jac, y):
    """Rows of y mapped by jac: out[j] = jac @ y[j], i.e. y @ jacᵀ (a new array)."""
    out = np.empty_like(y)
    matmul_t_into(y, jac, out)
    return out


@njit(cache=True, fastmath=FAST, inline="always")
def _project_out(y, j, v, r):
    """One classical Gram–Schmidt pass: v ← v − Σ_{i<j} (y_i · v) y_i; returns ‖v‖².

    The j dot products are independent (unlike in modified Gram–Schmidt), which keeps the
    pipeline full; ``v`` is a separate vector so that the loops see no aliasing.
    """
    n = y.shape[1]
    for i in range(j):
        s = 0.0
        for m in range(n):
            s += y[i, m] * v[m]
        r[i] = s
    for i in range(j):
        ri = r[i]
        for m in range(n):
            v[m] -= ri * y[i, m]
    s = 0.0
    for m in range(n):
        s += v[m] * v[m]
    return s


@njit(cache=True)
def orthonormalize(y, logs):
    """`orthonormalize_into` with its own workspace."""
    orthonormalize_into(y, logs, np.empty(y.shape[1]), np.empty(y.shape[0]))


@njit(cache=True, fastmath=FAST)
def orthonormalize_into(y, logs, v, r):
    """Gram–Schmidt QR of the rows of y (y = R^T Q), in place; adds log|R_jj| to ``logs``.

    Classical Gram–Schmidt, faster than the modified variant for the small matrices here; a row
    that lost more than 1 − 1/√2 of its norm to the projections is orthogonalised a second time
    (the Daniel–Gragg–Kaufman–Stewart criterion, Math. Comp. 30, 772 (1976)), which keeps the
    rows orthogonal to rounding level ("twice is enough": Giraud, Langou, Rozložník & van den
    Eshof, Numer. Math. 101, 87 (2005)). A row that vanishes (a singular Jacobian) contributes
    −inf and is replaced by a unit vector orthogonal to the previous rows. ``v`` (n,) and ``r``
    (k,) are workspace. Called every step at QR interval 1, so the row copy is a plain loop and
    the projection pass is inlined.
    """
    k, n = y.shape
    for j in range(k):
        before = 0.0
        for m in range(n):
            v[m] = y[j, m]
            before += v[m] * v[m]
        squared = _project_out(y, j, v, r)
        if squared < 0.5 * before:
            squared = _project_out(y, j, v, r)
        if squared == 0.0:
            logs[j] = -np.inf
            for start in range(n):
                v[:] = 0.0
                v[(j + start) % n] = 1.0
                _project_out(y, j, v, r)
                squared = _project_out(y, j, v, r)
                if squared > 1e-16:
                    break
        else:
            logs[j] += 0.5 * np.log(squared)
        scale = 1.0 / np.sqrt(squared)
        for m in range(n):
            y[j, m] = v[m] * scale


@njit(cache=True)
def advance(f, jac, step_jac, combined, x, p, y, dt, flow, spare, jac_buffer):
    """One step of the state and its tangent vectors: (x', y'). Maps write y' into ``spare``
    (an array like y), and the caller passes the old y as the next spare; with ``combined`` a map
    steps by ``step_jac`` (f and J in one call, J into ``jac_buffer``) instead of f and jac."""
    if not flow:
        if combined:
            x_next = step_jac(x, p, jac_buffer)
            matmul_t_into(y, jac_buffer, spare)
            return x_next, spare
        matmul_t_into(y, jac(x, p), spare)
        return f(x, p), spare
    half = 0.5 * dt
    k1 = f(x, p)
    t1 = _apply(jac(x, p), y)
    x2 = x + half * k1
    k2 = f(x2, p)
    t2 = _apply(jac(x2, p), y + half * t1)
    x3 = x + half * k2
    k3 = f(x3, p)
    t3 = _apply(jac(x3, p), y + half * t2)
    x4 = x + dt * k3
    k4 = f(x4, p)
    t4 = _apply(jac(x4, p), y + dt * t3)
    # The state update is written as in ``integrate.rk4_step``, so orbits agree with `trajectory`.
    x_next = np.empty_like(x)
    for i in range(x.shape[0]):
        x_next[i] = x[i] + dt / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i])
    return x_next, y + dt / 6.0 * (t1 + 2.0 * (t2 + t3) + t4)


@njit(cache=True)
def _spectrum_one(f, jac, step_jac, combined, x, p, dt, flow, k, transient, blocks, interval, record_at, running):
    n = x.shape[0]
    y = np.zeros((k, n))
    for j in range(k):
        y[j, j] = 1.0
    logs = np.zeros(k)
    spare, v, w, jac_buffer = np.empty((k, n)), np.empty(n), np.empty(k), np.empty((n, n))
    # The transient also carries the vectors, so that they start aligned with the Lyapunov
    # directions; the growth it accumulates is discarded.
    for s in range(transient):
        x, y_next = advance(f, jac, step_jac, combined, x, p, y, dt, flow, spare, jac_buffer)
        y, spare = y_next, y
        if (s + 1) % interval == 0:
            orthonormalize_into(y, logs, v, w)
    orthonormalize_into(y, logs, v, w)
    logs[:] = 0.0
    r = 0
    for b in range(blocks):
        for _ in range(interval):
            x, y_next = advance(f, jac, step_jac, combined, x, p, y, dt, flow, spare, jac_buffer)
            y, spare = y_next, y
        orthonormalize_into(y, logs, v, w)
        while r < record_at.shape[0] and record_at[r] == b:
            running[r] = logs / ((b + 1) * interval)
            r += 1
    return logs, x


@njit(
    types.Tuple((_MAT, types.float64[:, :, ::1], _MAT))(
        VECTOR_FIELD, JACOBIAN, STEP_JACOBIAN, types.boolean, _MAT, _VEC, types.float64, types.boolean,
        types.int64, types.int64, types.int64, types.int64, types.int64[::1],
    ),
    cache=True,
)
def spectrum(f, jac, step_jac, combined, x0s, p, dt, flow, k, transient, blocks, interval, record_at):
    """Growth sums of the first k exponents from each row of ``x0s``.

    Maps step by ``f`` and ``jac``, or with ``combined`` by ``step_jac`` (a ``STEP_JACOBIAN``;
    pass ``integrate.no_step_jacobian`` otherwise).

    After ``transient`` discarded steps, ``blocks`` blocks of ``interval`` steps are measured,
    each ending in a re-orthonormalisation. Returns (log-growth sums (K, k) over
    blocks·interval steps, running means per step (K, len(record_at), k) after the blocks
    listed in the ascending ``record_at``, final states (K, n)).
    """
    count, n = x0s.shape
    sums = np.empty((count, k))
    running = np.full((count, record_at.shape[0], k), np.nan)
    finals = np.empty((count, n))
    for c in range(count):
        logs, x = _spectrum_one(
            f, jac, step_jac, combined, x0s[c].copy(), p, dt, flow, k, transient, blocks, interval, record_at, running[c]
        )
        sums[c] = logs
        finals[c] = x
    return sums, running, finals
