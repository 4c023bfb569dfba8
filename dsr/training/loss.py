"""The training loss: one-step predictions along a forced rollout of each window.

For a window x_0..x_T̃ the latent state starts from the data, z̃_0 = ẑ(x_0) (the observation
model's ``initial_state``), and for t = 1..T̃

    z_t = F(z̃_{t−1}, s_t),    x̂_t = g(z_t),    z̃_t = (1 − α_t) z_t + α_t ẑ(x_t),

so each prediction x̂_t is made from the forced state *before* forcing at t. The loss of
member e is the mean squared error of x̂_1..x̂_T̃ against x_1..x_T̃ (Hess et al., ICML 2023;
Brenner et al., NeurIPS 2024). Summing member losses keeps members independent: each
member's gradient comes from its own loss only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dsr.models import LatentModel
from dsr.training.fused import fused_member_losses
from dsr.training.paths import resolve_kernel


def forced_rollout(
    model: LatentModel, x: Tensor, alphas: list[Tensor | float], s: Tensor | None = None, partial: bool = True
) -> Tensor:
    """Predictions x̂_1..x̂_T̃ (E, S, T̃, N) for windows x (E, S, T̃+1, N)."""
    z = model.initial_state(x[:, :, 0])
    predictions = []
    for t in range(1, x.shape[2]):
        z = model.step(z, None if s is None else s[:, :, t])
        predictions.append(model.observe(z))
        alpha = alphas[t - 1]
        if not (isinstance(alpha, float) and alpha == 0.0):
            z = model.force(z, x[:, :, t], alpha, partial)
    return torch.stack(predictions, dim=2)


def member_losses(
    model: LatentModel,
    x: Tensor,
    alphas: list[Tensor | float],
    s: Tensor | None = None,
    partial: bool = True,
    kernel: str = "auto",
) -> Tensor:
    """Mean squared one-step error per member, (E,).

    ``kernel``: ``autograd`` runs the rollout above step by step in torch (the reference);
    ``fused`` the compiled kernel of :mod:`dsr.training.fused` (same values and gradients);
    ``auto`` the fused kernel where it supports the model, else the reference.
    """
    if resolve_kernel(model, kernel) == "fused":
        return fused_member_losses(model, x, alphas, s, partial)
    predictions = forced_rollout(model, x, alphas, s, partial)
    return ((predictions - x[:, :, 1:]) ** 2).mean(dim=(1, 2, 3))


def l2_centres(model: LatentModel) -> dict[str, float]:
    """The parameters the L2 term penalises (the latent model's, by name) and the value it pulls each towards."""
    return {name: 1.0 if name == "A" else 0.0 for name in model.param_dims(model.config)}


def l2_penalty(model: LatentModel) -> Tensor:
    """Σ ‖θ − c‖² over the latent model's parameters per member: c = 1 for A, else 0 (``l2_centres``).

    The GTF repository's ``lat_model_regularization``: it pulls the diagonal towards a
    line attractor (A = 1) and every coupling and bias towards zero.
    """
    total = 0.0
    for name, centre in l2_centres(model).items():
        param = getattr(model, name)
        value = centre - param if centre else param
        total = total + (value**2).flatten(1).sum(dim=1)
    return total
