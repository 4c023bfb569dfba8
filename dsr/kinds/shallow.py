"""Shallow PLRNN and clipped shallow PLRNN (Hess et al., ICML 2023, eq. 3 and §3.3).

shPLRNN:         z_t = A ⊙ z_{t−1} + W₁ [W₂ z_{t−1} + h₂]_+ + h₁ (+ C s_t)
clipped shPLRNN: z_t = A ⊙ z_{t−1} + W₁ ([W₂ z_{t−1} + h₂]_+ − [W₂ z_{t−1}]_+) + h₁ (+ C s_t)

W₁ ∈ R^{M×L}, W₂ ∈ R^{L×M}, h₂ ∈ R^L. Normal form: V = W₁, U = W₂, θ = h₂, one column per hidden
unit with ramp 1 (and clip 1, clipped). Region pattern: 1[W₂z + h₂ > 0], then for the clipped model
1[W₂z > 0]. Initialisation (the GTF-shPLRNN code, ``src/models/shallow_plrnn.jl``): A = diag(K)
(Talathi & Vartak 2016), h₁ = 0, W₁ ~ U(±1/√L), W₂ ~ U(±1/√M), h₂ = 0 (shPLRNN) or U(±1/√L) (clipped).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .arrays import Array
from .normal_form import Kind, NormalForm


def _normal_form(clipped: bool):
    def normal_form(p: Mapping[str, Array], relus: int = 0, mean_centering: bool = False) -> NormalForm:
        hidden = p["h2"].shape[-1]
        ones, zeros = np.ones(hidden), np.zeros(hidden)
        return NormalForm(
            A=p["A"], V=p["W1"], U=p["W2"], theta=p["h2"], h=p["h1"],
            lin=zeros, ramp=ones, clip=ones if clipped else zeros,
        )

    return normal_form


def _init(clipped: bool):
    def init_dynamics(config, gen, data_range):  # noqa: ANN001, ANN202 - Kind.init_dynamics
        import torch

        from dsr.models.initializers import normalized_positive_definite, uniform_fan_in

        m, l = config.latent, config.hidden
        # Draw order of the lab's constructor: A (and the unused W) from K, h₂, then W₁, W₂.
        a = torch.diagonal(normalized_positive_definite(m, gen)).clone()
        h2 = uniform_fan_in((l,), gen) if clipped else torch.zeros(l, dtype=torch.float64)
        return {"A": a, "W1": uniform_fan_in((m, l), gen), "W2": uniform_fan_in((l, m), gen), "h1": torch.zeros(m, dtype=torch.float64), "h2": h2}

    return init_dynamics


_DIMS = {"A": ("latent",), "W1": ("latent", "hidden"), "W2": ("hidden", "latent_in"), "h1": ("latent",), "h2": ("hidden",)}
_TRAINED = (("A", ""), ("W1", ""), ("W2", "T"), ("h2", ""), ("h1", ""), (None, ""))

SHPLRNN = Kind("shplrnn", _DIMS, _normal_form(False), _init(False), size_fields=("hidden",), trained=_TRAINED)
CLIPPED_SHPLRNN = Kind("clipped-shplrnn", _DIMS, _normal_form(True), _init(True), size_fields=("hidden",), trained=_TRAINED)
