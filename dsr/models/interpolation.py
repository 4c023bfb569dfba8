"""Generalized teacher forcing (GTF): interpolation of the latent state towards a data-inferred state.

Source: Hess et al., ICML 2023; GTF-shPLRNN ``src/tf_training/forcing.jl`` (``force(z, z̄, α)``) and
``tfrecur.jl`` (``GTFRecur``: when ẑ has D < M rows only the first D units are mixed).
"""

from __future__ import annotations

from torch import Tensor, cat


def interpolate(z: Tensor, zhat: Tensor, alpha: float | Tensor) -> Tensor:
    """z̃ = (1 − α) z + α ẑ on the first D = ẑ.shape[-1] units; units D+1..M pass through unchanged.

    z: (E, *batch, M); ẑ: (E, *batch, D); α a number, or a tensor of shape (E,) for one α per member.
    α = 1 replaces the first D units by ẑ (identity TF; the gradient through them is cut, as the lab's
    custom rrule does), α = 0 leaves z as it is. ∂z̃/∂z = (1 − α) on forced units.
    """
    if isinstance(alpha, Tensor) and alpha.ndim == 1:
        alpha = alpha.reshape(-1, *([1] * (z.ndim - 1)))
    d = zhat.shape[-1]
    mixed = (1 - alpha) * z[..., :d] + alpha * zhat
    return mixed if d == z.shape[-1] else cat((mixed, z[..., d:]), dim=-1)
