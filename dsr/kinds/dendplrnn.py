"""dendPLRNN, the dendritic PLRNN (Brenner et al., ICML 2022, eq. 4).

    z_t = A ⊙ z_{t−1} + W Φ(z_{t−1}) + h (+ C s_t),   Φ(z)_m = Σ_{b=1..B} α_b [z_m − H_{m,b}]_+,

W off-diagonal, the basis weights α shared across units. Normal form: V = W with the diagonal masked,
U = I, B ramp columns per unit (r = B) with θ_{m,b} = −H_{m,b} and weights w_{m,b} = α_b. Region
pattern: 1[z_m > H_{m,b}] at index m·B + b. Initialisation (the GTF-shPLRNN code,
``src/models/dendritic_plrnn.jl``): A = diag(K), W = offdiag(K), h = 0, α ~ U(±1/√B), H ~ U(data
range) when the training data's (min, max) is given, else N(0, 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .arrays import Array, broadcast
from .normal_form import Kind, NormalForm
from .plrnn import DIMS, offdiagonal
from .plrnn import init_dynamics as plrnn_init


def normal_form(p: Mapping[str, Array], relus: int = 0, mean_centering: bool = False) -> NormalForm:
    H, alpha = p["H"], p["alpha"]
    members, m, b = H.shape
    ones, zeros = np.ones(m * b), np.zeros(m * b)
    return NormalForm(
        A=p["A"], V=offdiagonal(p["W"]), U=None, theta=-H.reshape(members, m * b), h=p["h"],
        lin=zeros, ramp=ones, clip=zeros, group=b, weights=broadcast(alpha[:, None, :], (members, m, b)),
    )


def init_dynamics(config, gen, data_range):  # noqa: ANN001, ANN201 - Kind.init_dynamics
    from dsr.models.initializers import normal, uniform, uniform_fan_in

    params = plrnn_init(config, gen, data_range)
    params["alpha"] = uniform_fan_in((config.bases,), gen)
    shape = (config.latent, config.bases)
    if data_range is None:
        params["H"] = normal(shape, 1.0, gen)
    else:
        low, high = (float(v) for v in data_range)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"data_range must be finite (min, max) with min < max, got {data_range!r}; pass the training data's range")
        params["H"] = uniform(shape, low, high, gen)
    return params


DENDPLRNN = Kind(
    "dendplrnn", DIMS | {"alpha": ("basis",), "H": ("latent", "basis")}, normal_form, init_dynamics,
    size_fields=("bases",), offdiagonal=True,
    trained=(("A", ""), ("W", ""), (None, ""), ("H", "-"), ("h", ""), ("alpha", "shared")),
)
