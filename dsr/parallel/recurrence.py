"""The recurrence a Newton solve works on: a model's step, optionally teacher-forced, at every time step.

    G_t(z) = force_t(F(z, s_t)),    force_t(y) = (1 − α_t) y + α_t ẑ_t on the first D units,

the rollout of ``dsr.training.loss.forced_rollout`` (generalized teacher forcing, Hess et al.,
ICML 2023; α_t ∈ {0, 1} every τ steps is sparse teacher forcing, Mikhaeil et al., NeurIPS 2022;
no forcing is a free run). Its Jacobian is diag(1 − α_t on the forced units, 1 elsewhere) · ∂F/∂z.

Only the narrow model interface is used: ``step(z, s)`` and ``jacobian(z, s)`` for every model, and
``pattern(z)`` with ``affine(pattern, s)`` (the region's affine map) for piecewise-linear ones. Inputs
carry a time dim before the state dim: z (…, T, M), s (…, T, K), ẑ (…, T, D), α broadcastable to
(…, T, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from dsr.models.interpolation import interpolate


@runtime_checkable
class StepModel(Protocol):
    """A recurrent model seen by the solvers: z_t = F(z_{t−1}, s_t) and ∂F/∂z, over any leading dims."""

    def step(self, z: Tensor, s: Tensor | None = None) -> Tensor: ...

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class PiecewiseLinearModel(StepModel, Protocol):
    """A step that is affine in each region named by a pattern: F(z) = matrix(π) z + offset(π) for π = pattern(z)."""

    def pattern(self, z: Tensor) -> Tensor: ...

    def affine(self, pattern: Tensor, s: Tensor | None = None) -> tuple[Tensor, Tensor]: ...


@dataclass(frozen=True)
class Forcing:
    """GTF towards ``signal`` ẑ (…, T, D) with strengths ``alpha`` (broadcastable to (…, T, 1)) on the first D units."""

    signal: Tensor
    alpha: Tensor


class Recurrence:
    """G_t for t = 1..T of ``model`` with inputs ``s`` and ``forcing`` (module doc)."""

    def __init__(self, model: StepModel, steps: int, s: Tensor | None = None, forcing: Forcing | None = None) -> None:
        if s is not None and s.shape[-2] != steps:
            raise ValueError(f"inputs cover {s.shape[-2]} steps, but the solve has {steps}; pass s of shape (…, {steps}, K)")
        if forcing is not None and forcing.signal.shape[-2] != steps:
            raise ValueError(
                f"the forcing signal covers {forcing.signal.shape[-2]} steps, but the solve has {steps}; pass (…, {steps}, D)"
            )
        self.model, self.steps, self.s, self.forcing = model, steps, s, forcing

    @property
    def piecewise_linear(self) -> bool:
        return isinstance(self.model, PiecewiseLinearModel)

    def __call__(self, prev: Tensor) -> Tensor:
        """G_t(prev_t) for every t at once: prev (…, T, M) holds z_0..z_{T−1}."""
        y = self.model.step(prev, self.s)
        return y if self.forcing is None else interpolate(y, self.forcing.signal, self.forcing.alpha)

    def at(self, z: Tensor, t: int) -> Tensor:
        """G_{t+1}(z) for one state z (…, M): the sequential loop's step (t is the 0-based time index)."""
        y = self.model.step(z, None if self.s is None else self.s[..., t, :])
        if self.forcing is None:
            return y
        return interpolate(y, self.forcing.signal[..., t, :], self.forcing.alpha[..., t, :])

    def jacobian(self, prev: Tensor) -> Tensor:
        """∂G_t/∂z at prev_t, (…, T, M, M)."""
        return self._force_rows(self.model.jacobian(prev, self.s))

    def affine(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        """G_t's affine map in region pattern_t: (matrix (…, T, M, M), offset (…, T, M))."""
        matrix, offset = self.model.affine(pattern, self.s)
        if self.forcing is None:
            return matrix, offset
        return self._force_rows(matrix), interpolate(offset, self.forcing.signal, self.forcing.alpha)

    def _force_rows(self, matrix: Tensor) -> Tensor:
        """Scale the forced units' rows by 1 − α_t (the forcing's own Jacobian is that diagonal)."""
        if self.forcing is None:
            return matrix
        d = self.forcing.signal.shape[-1]
        forced = matrix[..., :d, :] * (1 - self.forcing.alpha).unsqueeze(-1)
        return forced if d == matrix.shape[-2] else torch.cat((forced, matrix[..., d:, :]), dim=-2)
