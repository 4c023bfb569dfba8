"""One training step: a batch's loss, backward pass, per-member gradient clipping and RAdam update.

The trainer and the speed benchmark both build their steps here (``make_step``), so the step they
time is the step that trains. On a GPU the step is recorded once as a CUDA graph and replayed per batch
(:class:`dsr.training.graphed.GraphedStep`; ``replays_graph``): on the ``graph`` path, whose autograd
operations would otherwise be launched one by one, and on the ``fused`` path, whose two kernels then
cost no host time either. Its optimizer then holds its learning rate as a device tensor and updates
"capturably" (no host synchronisation), which ``make_optimizer``, ``set_learning_rate`` and
``optimizer_state_for`` take care of.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dsr.models import LatentModel
from dsr.parallel.training import newton_member_losses
from dsr.training.graphed import GraphedStep, StepFunction
from dsr.training.loss import l2_penalty, member_losses
from dsr.training.paths import TrainingPath, path_named


def replays_graph(model: LatentModel, kernel: TrainingPath | str) -> bool:
    """Whether the step on ``kernel``'s path is recorded as a CUDA graph (``TrainingPath.replays_graph``)."""
    return path_named(kernel).replays_graph(model)


def make_optimizer(model: LatentModel, lr: float, kernel: TrainingPath | str) -> torch.optim.RAdam:
    """RAdam over the model's parameters on ``kernel``'s path (``TrainingPath.make_optimizer``)."""
    return path_named(kernel).make_optimizer(model, lr)


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    """Set every group's rate; a tensor rate (graph path) is filled in place, where the graph reads it."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def optimizer_state_for(state: dict, model: LatentModel, kernel: TrainingPath | str) -> dict:
    """A saved optimizer ``state`` dict made loadable for ``model`` on ``kernel``'s path (a shallow copy).

    ``load_state_dict`` takes the saved groups' settings, so a state saved on one path would carry
    that path's ``capturable`` flag and kind of learning rate to another (a GPU run resumed on a CPU,
    say). Set both for this path; a replayed step's tensor rate takes the parameters' dtype and device.
    """
    graph, like = replays_graph(model, kernel), next(model.parameters())
    groups = []
    for group in state["param_groups"]:
        lr = float(group["lr"])
        lr = torch.tensor(lr, dtype=like.dtype, device=like.device) if graph else lr
        groups.append({**group, "capturable": graph, "lr": lr})
    return {**state, "param_groups": groups}


def member_grad_norms(model: LatentModel) -> Tensor:
    """‖∇θ_e‖₂ of each member e over all its parameters, (E,).

    One concatenation and one norm: per-parameter squares and sums cost three small operations per
    parameter, a tenth of a millisecond per step on a CPU, where a fused step takes 0.6 ms.
    """
    grads = [p.grad.flatten(1) for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.cat(grads, dim=1), dim=1)


class EagerStep:
    """A step run as it is written (the CPU paths): the interface of ``GraphedStep`` without a graph."""

    def __init__(self, step: StepFunction) -> None:
        self._step = step

    def __call__(self, x: Tensor, s: Tensor | None, alphas: list[Tensor | float]) -> tuple[Tensor, Tensor]:
        return self._step(x, s, alphas)

    def invalidate(self) -> None:
        """Nothing recorded, nothing to forget (``GraphedStep.invalidate``)."""


Step = EagerStep | GraphedStep


def make_step(
    model: LatentModel,
    optimizer: torch.optim.Optimizer,
    kernel: TrainingPath | str,
    *,
    partial: bool = True,
    l2: float = 0.0,
    grad_clip: float | None = None,
    newton: dict | None = None,
) -> Step:
    """The step ``(x, s, alphas) -> (loss (E,), grad norm (E,))`` on ``kernel``'s path.

    Loss: :func:`dsr.training.loss.member_losses` (+ ``l2`` times the L2 penalty); each member's
    gradient is scaled to norm ``grad_clip`` where it exceeds it. With ``newton`` (the Newton solve's
    options) the loss is :func:`dsr.parallel.training.newton_member_losses` (same values and gradients).
    Both outputs are detached; where the step is replayed they are the graph's outputs, overwritten by
    the next step.
    """
    path = path_named(kernel)
    loss_kernel = path.loss

    def step(x: Tensor, s: Tensor | None, alphas: list[Tensor | float]) -> tuple[Tensor, Tensor]:
        if newton is None:
            loss = member_losses(model, x, alphas, s, partial, kernel=loss_kernel)
        else:
            loss = newton_member_losses(model, x, alphas, s, partial, **newton)
        total = loss + l2 * l2_penalty(model) if l2 else loss
        optimizer.zero_grad(set_to_none=True)
        total.sum().backward()
        grad_norm = member_grad_norms(model)
        if grad_clip is not None:
            scale = (grad_clip / (grad_norm + 1e-12)).clamp(max=1.0)
            for p in model.parameters():
                if p.grad is not None:  # a parameter the loss does not use (the dendPLRNN's α with one basis)
                    p.grad.mul_(scale.view(-1, *([1] * (p.ndim - 1))))
        optimizer.step()
        return loss.detach(), grad_norm.detach()

    return GraphedStep(step, model, optimizer) if path.replays_graph(model) else EagerStep(step)
