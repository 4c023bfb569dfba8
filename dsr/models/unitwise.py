"""Kinds whose nonlinearity acts unit by unit: z_t = A ⊙ z_{t−1} + W φ(z_{t−1}) + h (+ C s_t).

PLRNN (optionally mean-centred), AL-RNN and dendPLRNN; in the notation of ``base.py`` V = W, U = I
(the centring matrix for the mean-centred PLRNN) and φ, g, c are unit-wise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from .base import LatentModel
from .config import ModelConfig
from .initializers import normal, normalized_positive_definite, uniform, uniform_fan_in
from .tensors import per_member


class UnitwiseModel(LatentModel):
    """Shared parameters A (M), W (M×M), h (M) and the coupling V diag(g) U = W diag(g)."""

    dynamics_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "A": ("latent",),
        "W": ("latent", "latent_in"),
        "h": ("latent",),
    }
    # W is off-diagonal (PLRNN, dendPLRNN): its diagonal is masked out of the maths, so it gets no
    # gradient (the lab zeroes that gradient: ``keep_connectivity_offdiagonal!``) and stays at its initial 0.
    offdiagonal: ClassVar[bool] = True

    def __init__(self, config: ModelConfig, params: Mapping[str, Tensor], seeds: Sequence[int]) -> None:
        super().__init__(config, params, seeds)
        if self.offdiagonal:
            eye = torch.eye(config.latent, dtype=self.W.dtype, device=self.W.device)
            self.register_buffer("_offdiagonal_mask", 1 - eye, persistent=False)

    def _readout(self) -> Tensor:
        return self.W * self._offdiagonal_mask if self.offdiagonal else self.W

    def _bias(self) -> Tensor:
        return self.h

    def _preactivation(self, z: Tensor) -> Tensor:
        return z

    def _coupling(self, g: Tensor) -> Tensor:
        return per_member(self._readout(), g) * g.unsqueeze(-2)


def _talathi_vartak_a_w_h(config: ModelConfig, gen: torch.Generator) -> dict[str, Tensor]:
    """The lab's ``initialize_A_W_h``: A = diag(K), W = offdiag(K) (K Talathi–Vartak), h = 0."""
    k = normalized_positive_definite(config.latent, gen)
    a = torch.diagonal(k).clone()
    return {"A": a, "W": k - torch.diag(a), "h": torch.zeros(config.latent, dtype=torch.float64)}


class PLRNN(UnitwiseModel):
    """PLRNN: z_t = A ⊙ z_{t−1} + W [z_{t−1}]_+ + h (+ C s_t), W off-diagonal.

    Mean-centred (``mean_centering``, mcPLRNN): W [z − mean_i(z_i)]_+, so U = I − 11ᵀ/M.
    Region pattern: 1[u > 0] (E, *batch, M). Init: A = diag(K), W = offdiag(K), h = 0.
    Source: GTF-shPLRNN ``src/models/vanilla_plrnn.jl`` (PLRNN, mcPLRNN); note §1.1, §1.5.
    """

    kind = "plrnn"
    options = ("mean_centering",)

    @classmethod
    def init_dynamics(
        cls, config: ModelConfig, gen: torch.Generator, data_range: tuple[float, float] | None
    ) -> dict[str, Tensor]:
        return _talathi_vartak_a_w_h(config, gen)

    @property
    def pattern_size(self) -> int:
        return self.config.latent

    def _preactivation(self, z: Tensor) -> Tensor:
        return z - z.mean(dim=-1, keepdim=True) if self.config.mean_centering else z

    def _activation(self, u: Tensor) -> Tensor:
        return torch.relu(u)

    def _pattern(self, u: Tensor) -> Tensor:
        return u > 0

    def _slope_offset(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        g = pattern.to(self.A.dtype)
        return g, torch.zeros_like(g)

    def _coupling(self, g: Tensor) -> Tensor:
        coupling = super()._coupling(g)
        # X (I − 11ᵀ/M) subtracts each row's mean from the row.
        return coupling - coupling.mean(dim=-1, keepdim=True) if self.config.mean_centering else coupling


class ALRNN(UnitwiseModel):
    """AL-RNN: z_t = A ⊙ z_{t−1} + W Φ*(z_{t−1}) + h (+ C s_t), W full,
    Φ*(z) = (z_1, ..., z_{M−P}, [z_{M−P+1}]_+, ..., [z_M]_+): only the last P units are ReLU.

    Region pattern: 1[z_{M−P+1..M} > 0] (E, *batch, P), the symbolic code of note §4.4.
    Init: A = diag(K) (Talathi–Vartak), W ~ N(0, 0.01²), h = 0.
    Source: ALRNN-DSR ``src/models/alrnn.jl``, ``initialization.jl``; note §1.4.
    """

    kind = "alrnn"
    size_fields = ("relus",)
    offdiagonal = False

    @classmethod
    def init_dynamics(
        cls, config: ModelConfig, gen: torch.Generator, data_range: tuple[float, float] | None
    ) -> dict[str, Tensor]:
        m = config.latent
        a = torch.diagonal(normalized_positive_definite(m, gen)).clone()
        return {"A": a, "W": normal((m, m), 0.01, gen), "h": torch.zeros(m, dtype=torch.float64)}

    @property
    def pattern_size(self) -> int:
        return self.config.relus

    @property
    def _linear_units(self) -> int:
        return self.config.latent - self.config.relus

    def _activation(self, u: Tensor) -> Tensor:
        k = self._linear_units
        return torch.cat((u[..., :k], torch.relu(u[..., k:])), dim=-1)

    def _pattern(self, u: Tensor) -> Tensor:
        return u[..., self._linear_units :] > 0

    def _slope_offset(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        ones = pattern.new_ones(*pattern.shape[:-1], self._linear_units, dtype=self.A.dtype)
        g = torch.cat((ones, pattern.to(self.A.dtype)), dim=-1)
        return g, torch.zeros_like(g)


class DendPLRNN(UnitwiseModel):
    """dendPLRNN: z_t = A ⊙ z_{t−1} + W Φ(z_{t−1}) + h (+ C s_t), W off-diagonal, with the
    linear-spline basis expansion Φ(z)_m = Σ_{b=1..B} α_b [z_m − H_{m,b}]_+ (α shared across units).

    Region pattern: 1[z_m > H_{m,b}] flattened to (E, *batch, M·B) at index m·B + b; in the region,
    g_m = Σ_b α_b π_{m,b} and c_m = −Σ_b α_b π_{m,b} H_{m,b}.
    Init: A = diag(K), W = offdiag(K), h = 0, α ~ U(±1/√B), H ~ U(data_range) when the data's
    (min, max) is given, else N(0, 1). Source: GTF-shPLRNN ``src/models/dendritic_plrnn.jl``
    (the PyTorch BPTT_TF writes +θ = −H); note §1.2, §1.5.
    """

    kind = "dendplrnn"
    size_fields = ("bases",)
    dynamics_dims = UnitwiseModel.dynamics_dims | {"alpha": ("basis",), "H": ("latent", "basis")}

    @classmethod
    def init_dynamics(
        cls, config: ModelConfig, gen: torch.Generator, data_range: tuple[float, float] | None
    ) -> dict[str, Tensor]:
        params = _talathi_vartak_a_w_h(config, gen)
        params["alpha"] = uniform_fan_in((config.bases,), gen)
        shape = (config.latent, config.bases)
        if data_range is None:
            params["H"] = normal(shape, 1.0, gen)
        else:
            low, high = (float(v) for v in data_range)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"data_range must be finite (min, max) with min < max, got {data_range!r}; "
                    "pass the training data's range"
                )
            params["H"] = uniform(shape, low, high, gen)
        return params

    @property
    def pattern_size(self) -> int:
        return self.config.latent * self.config.bases

    def _thresholds(self, u: Tensor) -> Tensor:
        return per_member(self.H, u)  # (E, 1.., M, B)

    def _weights(self, u: Tensor) -> Tensor:
        return per_member(self.alpha, u).unsqueeze(-2)  # (E, 1.., 1, B)

    def _activation(self, u: Tensor) -> Tensor:
        return (self._weights(u) * torch.relu(u.unsqueeze(-1) - self._thresholds(u))).sum(dim=-1)

    def _pattern(self, u: Tensor) -> Tensor:
        return (u.unsqueeze(-1) > self._thresholds(u)).flatten(start_dim=-2)

    def _slope_offset(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        # The pattern has u's number of dims, which is all per_member needs to know.
        active = pattern.unflatten(-1, (self.config.latent, self.config.bases)).to(self.A.dtype)
        weighted = self._weights(pattern) * active
        return weighted.sum(dim=-1), -(weighted * self._thresholds(pattern)).sum(dim=-1)
