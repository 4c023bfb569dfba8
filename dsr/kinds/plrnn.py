"""PLRNN (Durstewitz 2017; Koppe et al. 2019) and its mean-centred form (Brenner et al., ICML 2022).

    z_t = A ⊙ z_{t−1} + W [u]_+ + h (+ C s_t),   u = z_{t−1}, or u = z_{t−1} − mean_i(z_{t−1,i}) (mcPLRNN),

W off-diagonal (its diagonal is masked out, so it gets no gradient and stays 0). Normal form: V = W
with the diagonal masked, U = I or the centring matrix I − 11ᵀ/M, one ramp column per unit, θ = 0.
Region pattern: 1[u > 0]. Initialisation (the GTF-shPLRNN code, ``src/models/vanilla_plrnn.jl``):
A = diag(K), W = offdiag(K) with K of Talathi & Vartak (2016), h = 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .arrays import Array, broadcast, constant
from .normal_form import Kind, NormalForm


def offdiagonal(w: Array) -> Array:
    """W with its diagonal masked out (the PLRNN's and dendPLRNN's coupling)."""
    m = w.shape[-1]
    return w * constant("offdiagonal", 1.0 - np.eye(m), w)


def normal_form(p: Mapping[str, Array], relus: int = 0, mean_centering: bool = False) -> NormalForm:
    A = p["A"]
    m = A.shape[-1]
    u = broadcast(constant("centring", np.eye(m) - 1.0 / m, A), (A.shape[0], m, m)) if mean_centering else None
    return NormalForm(A=A, V=offdiagonal(p["W"]), U=u, theta=None, h=p["h"], lin=np.zeros(m), ramp=np.ones(m), clip=np.zeros(m))


def init_dynamics(config, gen, data_range):  # noqa: ANN001, ANN201 - Kind.init_dynamics
    """The lab's ``initialize_A_W_h``: A = diag(K), W = offdiag(K) (K of Talathi & Vartak), h = 0."""
    import torch

    from dsr.models.initializers import normalized_positive_definite

    k = normalized_positive_definite(config.latent, gen)
    a = torch.diagonal(k).clone()
    return {"A": a, "W": k - torch.diag(a), "h": torch.zeros(config.latent, dtype=torch.float64)}


DIMS = {"A": ("latent",), "W": ("latent", "latent_in"), "h": ("latent",)}

PLRNN = Kind(
    "plrnn", DIMS, normal_form, init_dynamics, options=("mean_centering",),
    trained=(("A", ""), ("W", ""), (None, ""), (None, ""), ("h", ""), (None, "")), offdiagonal=True,
)
