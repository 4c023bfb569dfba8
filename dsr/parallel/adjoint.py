"""A Newton-solved rollout that autograd can differentiate: gradients from the adjoint recurrence.

At the solution Z* = (z_1..z_T) of z_t = G_t(z_{t−1}; θ), backpropagation through time computes
λ_t = ∂L/∂z_t (total) = g_t + J_{t+1}ᵀ λ_{t+1} (λ_T = g_T, g_t the loss's direct gradient, J_t = ∂G_t/∂z
at z_{t−1}) and ∂L/∂θ = Σ_t λ_tᵀ ∂G_t/∂θ, ∂L/∂z_0 = J_1ᵀ λ_1. The λ recurrence is linear and runs
backwards in time, so the reverse scan of :mod:`dsr.parallel.scan` solves it in parallel (the implicit
gradient of DEER, Lim et al., ICLR 2024, and ParaRNN's backward pass). Here the rollout returns
G(z_0, Z*_{1..T−1}) evaluated once over all t with autograd — equal to Z* at convergence — through an
identity whose backward replaces g by λ; autograd then forms Σ_t λ_tᵀ ∂G_t/∂θ and J_1ᵀ λ_1 itself. No
graph through the Newton iterations is kept, and the gradients equal BPTT through the sequential loop
whenever the forward solve converged (the fallback's sequential trajectory is exact too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dsr.parallel.newton import solve
from dsr.parallel.recurrence import Forcing, Recurrence, StepModel
from dsr.parallel.result import NewtonResult
from dsr.parallel.scan import solve_linear


class _AdjointIdentity(torch.autograd.Function):
    """Forward: y unchanged. Backward: g ↦ λ with λ_t = g_t + J_{t+1}ᵀ λ_{t+1} (reverse scan)."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, jacobians: Tensor) -> Tensor:
        ctx.save_for_backward(jacobians)
        return y.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (jac,) = ctx.saved_tensors
        # Step t of the reverse recurrence multiplies λ_{t+1} by J_{t+1}ᵀ; nothing follows step T.
        transposed = torch.cat((jac[..., 1:, :, :].mT, torch.zeros_like(jac[..., :1, :, :])), dim=-3)
        return solve_linear(transposed, grad, reverse=True), None


def rollout(
    model: StepModel, z0: Tensor, steps: int, *, s: Tensor | None = None, forcing: Forcing | None = None, **options: Any
) -> tuple[Tensor, NewtonResult]:
    """z_1..z_steps (…, steps, M) by a Newton solve (``options`` as :func:`dsr.parallel.solve`), differentiable
    with respect to z0, the model's parameters and s by the adjoint recurrence (module doc); and the solve's record."""
    result = solve(model, z0, steps, s=s, forcing=forcing, **options)
    rec = Recurrence(model, steps, s, forcing)
    prev = torch.cat((z0.unsqueeze(-2), result.states[..., :-1, :]), dim=-2)
    with torch.no_grad():
        jacobians = rec.jacobian(prev)
    return _AdjointIdentity.apply(rec(prev), jacobians), result
