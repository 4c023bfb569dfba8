"""AL-RNN, the almost-linear RNN (Brenner et al., NeurIPS 2024, eq. 2).

    z_t = A ⊙ z_{t−1} + W Φ*(z_{t−1}) + h (+ C s_t),   Φ*(z) = (z_1, ..., z_{M−P}, [z_{M−P+1}]_+, ..., [z_M]_+),

W full: only the last P units are ReLUs. Normal form: V = W, U = I, θ = 0, linear columns for the first
M − P units and ramp columns for the last P. Region pattern: 1[z_{M−P+1..M} > 0], the symbolic code of
the paper's §4. Initialisation (the ALRNN-DSR code, ``initialization.jl``): A = diag(K) (Talathi &
Vartak 2016), W ~ N(0, 0.01²), h = 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .arrays import Array
from .normal_form import Kind, NormalForm
from .plrnn import DIMS


def normal_form(p: Mapping[str, Array], relus: int = 0, mean_centering: bool = False) -> NormalForm:
    m = p["A"].shape[-1]
    relu = np.r_[np.zeros(m - relus), np.ones(relus)]
    return NormalForm(A=p["A"], V=p["W"], U=None, theta=None, h=p["h"], lin=1.0 - relu, ramp=relu, clip=np.zeros(m))


def init_dynamics(config, gen, data_range):  # noqa: ANN001, ANN201 - Kind.init_dynamics
    import torch

    from dsr.models.initializers import normal, normalized_positive_definite

    m = config.latent
    a = torch.diagonal(normalized_positive_definite(m, gen)).clone()
    return {"A": a, "W": normal((m, m), 0.01, gen), "h": torch.zeros(m, dtype=torch.float64)}


ALRNN = Kind(
    "alrnn", DIMS, normal_form, init_dynamics, size_fields=("relus",),
    trained=(("A", ""), ("W", ""), (None, ""), (None, ""), ("h", ""), (None, "")),
)
