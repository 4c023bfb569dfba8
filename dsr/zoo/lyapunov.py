"""Lyapunov exponents of a zoo model from its step's derivative (torch; zoo models have no Numba face).

Benettin et al. (Meccanica 15, 1980) / Shimada & Nagashima (Prog. Theor. Phys. 61, 1979): k tangent
vectors Q_t ∈ R^{M×k} are advanced by the Jacobian of the step, J(z_t) Q_t (k forward-mode derivatives
of the step, ``torch.func.jvp`` under ``vmap``: no M×M Jacobian is formed), and re-orthonormalised by a
QR decomposition after every step; λ_i = Σ_t log |R_t,ii| / (steps · dt). Computed for every member and
start at once in float64; the result has the form of :class:`dsr.analysis.lyapunov.LyapunovResult`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dsr.analysis.lyapunov import LyapunovResult
from dsr.zoo.base import ZooModel


@torch.no_grad()
def lyapunov_spectrum(
    model: ZooModel, z0: Tensor, *, steps: int, transient: int, n_exponents: int, dt: float, records: int = 100, seed: int = 0
) -> list[LyapunovResult]:
    """The ``n_exponents`` largest exponents (per unit of time, ``dt`` per step) of each member from its starts
    z0 (E, K, M): one result per member, its K starts as initial conditions."""
    if not 1 <= n_exponents <= model.latent:
        raise ValueError(f"n_exponents must be in 1..{model.latent}, got {n_exponents}")
    if steps < 1 or transient < 0 or records < 1:
        raise ValueError(f"need steps >= 1, transient >= 0 and records >= 1, got {steps}, {transient}, {records}")
    model = model.double()
    z = z0.double()
    for _ in range(transient):
        z = model.step(z)
    gen = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(*z.shape, n_exponents, generator=gen, dtype=torch.float64))[0]
    sums = torch.zeros(*z.shape[:-1], n_exponents, dtype=torch.float64)
    record_at = np.unique(np.ceil(np.arange(1, min(records, steps) + 1) * steps / min(records, steps)).astype(np.int64) - 1)
    running = []

    def advance(state: Tensor, direction: Tensor) -> tuple[Tensor, Tensor]:
        return torch.func.jvp(model._step, (state,), (direction,))

    for t in range(steps):
        states, pushed = torch.func.vmap(advance, in_dims=(None, -1), out_dims=(0, -1))(z, q)
        z = states[0]
        q, r = torch.linalg.qr(pushed)
        sums += torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs())
        if t in record_at:
            running.append(sums / ((t + 1) * dt))
    times = (record_at + 1) * dt
    per_start = (sums / (steps * dt)).numpy()
    history = torch.stack(running, dim=-2).numpy()  # (E, K, R, k)
    return [
        LyapunovResult(
            per_initial_condition=per_start[e], running=history[e], times=times, unit="per time unit", steps=steps,
            transient=transient, interval=1, dt=dt, final_states=z[e].numpy(),
        )
        for e in range(model.ensemble)
    ]
