"""Shallow PLRNN and clipped shallow PLRNN (Hess et al., ICML 2023).

shPLRNN:         z_t = A ⊙ z_{t−1} + W₁ [W₂ z_{t−1} + h₂]_+ + h₁ (+ C s_t)
clipped shPLRNN: z_t = A ⊙ z_{t−1} + W₁ ([W₂ z_{t−1} + h₂]_+ − [W₂ z_{t−1}]_+) + h₁ (+ C s_t)

with W₁ ∈ R^{M×L}, W₂ ∈ R^{L×M}, h₂ ∈ R^L. In the notation of ``base.py``: u = W₂ z, V = W₁, U = W₂.
Region pattern: 1[W₂z + h₂ > 0], followed for the clipped model by 1[W₂z > 0] (E, *batch, L or 2L);
in the region g = π₁ (− π₂ clipped) and c = π₁ ⊙ h₂.
Init: A = diag(K) (Talathi–Vartak), h₁ = 0, W₁ ~ U(±1/√L), W₂ ~ U(±1/√M), h₂ = 0 (shPLRNN) or
U(±1/√L) (clipped). Source: GTF-shPLRNN ``src/models/shallow_plrnn.jl``; note §1.3, §1.5.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from .base import LatentModel
from .config import ModelConfig
from .initializers import normalized_positive_definite, uniform_fan_in
from .tensors import matvec, per_member


class ShallowPLRNN(LatentModel):
    """shPLRNN (see module doc)."""

    kind = "shplrnn"
    size_fields = ("hidden",)
    clipped: ClassVar[bool] = False
    dynamics_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "A": ("latent",),
        "W1": ("latent", "hidden"),
        "W2": ("hidden", "latent_in"),
        "h1": ("latent",),
        "h2": ("hidden",),
    }

    @classmethod
    def init_dynamics(
        cls, config: ModelConfig, gen: torch.Generator, data_range: tuple[float, float] | None
    ) -> dict[str, Tensor]:
        m, l = config.latent, config.hidden
        # Draw order of the lab's constructor: A (and the unused W) from K, h₂, then W₁, W₂.
        a = torch.diagonal(normalized_positive_definite(m, gen)).clone()
        h2 = uniform_fan_in((l,), gen) if cls.clipped else torch.zeros(l, dtype=torch.float64)
        return {
            "A": a,
            "W1": uniform_fan_in((m, l), gen),
            "W2": uniform_fan_in((l, m), gen),
            "h1": torch.zeros(m, dtype=torch.float64),
            "h2": h2,
        }

    @property
    def pattern_size(self) -> int:
        return 2 * self.config.hidden if self.clipped else self.config.hidden

    def _readout(self) -> Tensor:
        return self.W1

    def _bias(self) -> Tensor:
        return self.h1

    def _preactivation(self, z: Tensor) -> Tensor:
        return matvec(self.W2, z)

    def _activation(self, u: Tensor) -> Tensor:
        active = torch.relu(u + per_member(self.h2, u))
        return active - torch.relu(u) if self.clipped else active

    def _pattern(self, u: Tensor) -> Tensor:
        shifted = u + per_member(self.h2, u) > 0
        return torch.cat((shifted, u > 0), dim=-1) if self.clipped else shifted

    def _slope_offset(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        hidden = self.config.hidden
        shifted = pattern[..., :hidden].to(self.A.dtype)
        g = shifted - pattern[..., hidden:].to(self.A.dtype) if self.clipped else shifted
        return g, shifted * per_member(self.h2, shifted)

    def _coupling(self, g: Tensor) -> Tensor:
        return torch.einsum("eml,e...l,elk->e...mk", self.W1, g, self.W2)


class ClippedShallowPLRNN(ShallowPLRNN):
    """Clipped shPLRNN (see module doc): bounded nonlinearity, bounded orbits when max|A_ii| < 1."""

    kind = "clipped-shplrnn"
    clipped = True
