"""The training loss of ``dsr.training.loss`` with each window's forced rollout solved in parallel in time.

Same definition as :func:`dsr.training.loss.member_losses` (z̃_0 = ẑ(x_0); x̂_t = g(F(z̃_{t−1}, s_t));
z̃_t = (1 − α_t) F(z̃_{t−1}, s_t) + α_t ẑ(x_t) on the forced units; mean squared error of x̂_1..x̂_T̃ per
member), but z̃_1..z̃_{T̃−1} come from a Newton solve over the whole window with gradients from the
adjoint scan (:func:`dsr.parallel.adjoint.rollout`), and the predictions from one step over all t.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dsr.models import LatentModel
from dsr.parallel.adjoint import rollout
from dsr.parallel.recurrence import Forcing


def alpha_steps(alphas: list[Tensor | float], like: Tensor) -> Tensor:
    """The per-step α list of a forcing schedule (numbers, or one value per member (E,)) as (E, 1, T, 1)."""
    members = like.shape[0]
    rows = [a.to(like).expand(members) if isinstance(a, Tensor) else like.new_full((members,), float(a)) for a in alphas]
    return torch.stack(rows, dim=1)[:, None, :, None]


def newton_member_losses(
    model: LatentModel, x: Tensor, alphas: list[Tensor | float], s: Tensor | None = None, partial: bool = True, **options: Any
) -> Tensor:
    """Mean squared one-step error per member, (E,), for windows x (E, S, T̃+1, N) (module doc);
    ``options``: the Newton solve's (solver, max_iter, tol)."""
    z0 = model.initial_state(x[:, :, 0])
    steps = x.shape[2] - 1
    prev = z0.unsqueeze(-2)
    if steps > 1:
        forcing = Forcing(model.forcing_signal(x[:, :, 1:steps], partial), alpha_steps(alphas[: steps - 1], x))
        inputs = None if s is None else s[:, :, 1:steps]
        states, _ = rollout(model, z0, steps - 1, s=inputs, forcing=forcing, **options)
        prev = torch.cat((prev, states), dim=-2)
    predictions = model.observe(model.step(prev, None if s is None else s[:, :, 1:]))
    return ((predictions - x[:, :, 1:]) ** 2).mean(dim=(1, 2, 3))
