"""Observation models: latent state -> observation, and data -> latent state (initial state, forcing signal).

Source: GTF-shPLRNN ``src/models/affine.jl`` (``Identity``, ``Affine``, ``init_state``, ``apply_inverse``)
and ``src/tf_training/training.jl`` (forcing signals, ``partial_forcing``). All tensors carry the leading
member dim E: states (E, *batch, M), data (E, *batch, N); expand shared data with ``x.expand(E, *x.shape)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from .initializers import glorot_uniform, kaiming_normal
from .tensors import matvec, per_member

if TYPE_CHECKING:
    from .config import ModelConfig


class ObservationModel(nn.Module):
    """Holds the observation parameters (leading member dim E) and maps between latent and data space."""

    name: ClassVar[str]

    def __init__(self, config: ModelConfig, params: Mapping[str, Tensor]) -> None:
        super().__init__()
        self.n_obs = config.n_obs
        self.latent = config.latent
        for key, value in params.items():
            self.register_parameter(key, nn.Parameter(value))

    @classmethod
    def param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        """Named dims (without the member dim) of each parameter this configuration has."""
        raise NotImplementedError

    @classmethod
    def init_member(cls, config: ModelConfig, gen: torch.Generator) -> dict[str, Tensor]:
        """One member's initial parameters (float64), drawn from ``gen``."""
        raise NotImplementedError

    def observe(self, z: Tensor) -> Tensor:
        """x̂ = g(z): (E, *batch, M) -> (E, *batch, N)."""
        raise NotImplementedError

    def initial_state(self, x: Tensor) -> Tensor:
        """Latent state inferred from an observation, used to start a (forced or free) run: (E, *batch, M)."""
        raise NotImplementedError

    def forcing_signal(self, x: Tensor, partial: bool = True) -> Tensor:
        """Data-inferred state ẑ that GTF pulls the latent state towards: (E, *batch, D), D ≤ M.

        Only the first D latent units are forced (D < M is the lab's "partial forcing"). Detached: the
        lab computes forcing signals outside the gradient (``training.jl``), so they act as data.
        """
        raise NotImplementedError


class IdentityObservation(ObservationModel):
    """x̂ = (z_1, ..., z_N): the first N latent units are the read-outs (requires M ≥ N).

    Initial state z_1 = [x_1; L x_1] with a learned L ∈ R^{(M−N)×N} (Glorot-uniform; absent when M = N).
    Forcing signal: x itself (partial forcing: only the first N units are forced, the rest run free —
    identity/sparse TF in ``forcing.jl``, the AL-RNN setting) or, with ``partial=False``, [x; 0] (the
    GTF repo's default ``partial_forcing = false``, which also pulls unobserved units towards 0).
    """

    name = "identity"

    @classmethod
    def param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        return {"L": ("unobserved", "obs")} if config.latent > config.n_obs else {}

    @classmethod
    def init_member(cls, config: ModelConfig, gen: torch.Generator) -> dict[str, Tensor]:
        if config.latent == config.n_obs:
            return {}
        return {"L": glorot_uniform((config.latent - config.n_obs, config.n_obs), gen)}

    def observe(self, z: Tensor) -> Tensor:
        return z[..., : self.n_obs]

    def initial_state(self, x: Tensor) -> Tensor:
        if self.latent == self.n_obs:
            return x
        return torch.cat((x, matvec(self.L, x)), dim=-1)

    def forcing_signal(self, x: Tensor, partial: bool = True) -> Tensor:
        x = x.detach()
        if partial or self.latent == self.n_obs:
            return x
        return torch.cat((x, x.new_zeros(*x.shape[:-1], self.latent - self.n_obs)), dim=-1)


class AffineObservation(ObservationModel):
    """x̂ = B z (+ b), B ∈ R^{N×M} Kaiming-normal, b = 0 initially (bias only with ``obs_bias``).

    Initial state and forcing signal: ẑ = pinv(B)(x − b), the least-squares inversion, recomputed from
    the current B at every call. All M units are inferred from the data, so ``partial`` has no effect
    (the GTF repo would force the first N units of pinv(B)x, which does not single out observed units).
    """

    name = "affine"

    @classmethod
    def param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        dims: dict[str, tuple[str, ...]] = {"B": ("obs", "latent_in")}
        if config.obs_bias:
            dims["b"] = ("obs",)
        return dims

    @classmethod
    def init_member(cls, config: ModelConfig, gen: torch.Generator) -> dict[str, Tensor]:
        params = {"B": kaiming_normal((config.n_obs, config.latent), gen)}
        if config.obs_bias:
            params["b"] = torch.zeros(config.n_obs, dtype=torch.float64)
        return params

    def __init__(self, config: ModelConfig, params: Mapping[str, Tensor]) -> None:
        super().__init__(config, params)
        self.has_bias = config.obs_bias

    def observe(self, z: Tensor) -> Tensor:
        x = matvec(self.B, z)
        return x + per_member(self.b, x) if self.has_bias else x

    def initial_state(self, x: Tensor) -> Tensor:
        if self.has_bias:
            x = x - per_member(self.b, x)
        return matvec(torch.linalg.pinv(self.B), x)

    def forcing_signal(self, x: Tensor, partial: bool = True) -> Tensor:
        return self.initial_state(x).detach()


OBSERVATIONS: dict[str, type[ObservationModel]] = {
    cls.name: cls for cls in (IdentityObservation, AffineObservation)
}
