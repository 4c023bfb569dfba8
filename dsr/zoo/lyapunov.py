"""Lyapunov exponents of a zoo model from its step's derivative (torch; zoo models have no Numba face).

Benettin et al. (Meccanica 15, 1980) / Shimada & Nagashima (Prog. Theor. Phys. 61, 1979): k tangent
vectors Q_t ∈ R^{M×k} are advanced by the Jacobian of the step, J(z_t) Q_t (k forward-mode derivatives
of the step, ``torch.func.jvp`` under ``vmap``: no M×M Jacobian is formed), and re-orthonormalised by a
QR decomposition after every step; λ_i = Σ_t log |R_t,ii| / (steps · dt), largest first. Computed for
every member at once in float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dsr.zoo.base import ZooModel


@torch.no_grad()
def lyapunov_spectrum(model: ZooModel, z0: Tensor, *, steps: int, transient: int, n_exponents: int, dt: float, seed: int = 0) -> np.ndarray:
    """The ``n_exponents`` largest exponents (per unit of time ``dt`` per step) of each member from states z0 (E, M): (E, k)."""
    if not 1 <= n_exponents <= model.latent:
        raise ValueError(f"n_exponents must be in 1..{model.latent}, got {n_exponents}")
    model = model.double()
    z = z0.double()
    for _ in range(transient):
        z = model.step(z)
    gen = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(*z.shape, n_exponents, generator=gen, dtype=torch.float64))[0]
    sums = torch.zeros(*z.shape[:-1], n_exponents, dtype=torch.float64)

    def advance(state: Tensor, direction: Tensor) -> tuple[Tensor, Tensor]:
        return torch.func.jvp(model._step, (state,), (direction,))

    for _ in range(steps):
        states, pushed = torch.func.vmap(advance, in_dims=(None, -1), out_dims=(0, -1))(z, q)
        z = states[0]
        q, r = torch.linalg.qr(pushed)
        sums += torch.log(torch.diagonal(r, dim1=-2, dim2=-1).abs())
    return (sums / (steps * dt)).numpy()
