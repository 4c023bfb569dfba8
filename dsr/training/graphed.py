"""The CUDA-graph training step: a whole training step recorded once, then replayed for every batch.

On a GPU the autograd reference launches a few kernels per operation and hundreds of operations per
window (model step, read-out and forcing at each of T̃ steps, then the backward pass), so a training
step of a small DSR model costs launch overhead rather than arithmetic. ``GraphedStep`` records the
trainer's eager step (loss, backward pass, clipping, RAdam update; :func:`dsr.training.step.make_step`)
with ``torch.cuda.graph`` and replays it with one launch per batch (PyTorch's "whole-network capture"
recipe, https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs). On the graph path the step's
kernels are those of the autograd path, so results equal it up to floating-point reassociation; the
fused path records its step the same way, around the CUDA kernels (:func:`dsr.training.step.replays_graph`).
On an H100 one clipped shPLRNN (M=3, L=50, S=16, T̃=200) took 11.3 ms per iteration against 184–231 ms
eagerly, and E = 4 096 members 61 ms (``benchmarks/train_speed.py``): the replay still runs one kernel
per operation.

A replay reads from fixed addresses. So before each replay the batch (windows x, inputs s) and each
member's α are copied into static buffers; the learning rate is a one-element device tensor that the
schedule fills in place (RAdam with ``capturable=True``); numbers in the α list (sparse teacher
forcing's 0/1 steps) are recorded as constants. A batch of another shape or α pattern records a new
graph, and so must a caller that replaced the optimizer's state tensors (``invalidate``: rollback,
resume).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dsr.models import LatentModel

StepFunction = Callable[[Tensor, Tensor | None, list[Tensor | float]], tuple[Tensor, Tensor]]

WARMUP_STEPS = 3
"""Eager steps on a side stream before recording: they create the optimizer's state and the CUDA
libraries' handles, which must exist before capture (PyTorch's recipe); their effect is undone."""


def graph_unsupported(model: LatentModel) -> str | None:
    """Why the graph path cannot train ``model`` (one line), or None when it can."""
    device = next(model.parameters()).device
    if device.type != "cuda":
        return f"CUDA graphs need a GPU, and the model is on {device}"
    if model.config.observation == "affine":
        # Recording torch.linalg.pinv fails: "Cannot copy between CPU and CUDA tensors during CUDA graph
        # capture" (torch 2.11, H100; benchmarks/gpu_check.sh of the first GPU session).
        return "the affine observation's pseudo-inverse cannot be recorded in a CUDA graph"
    return None


class GraphedStep:
    """``step`` recorded as a CUDA graph and replayed per batch; same call and outputs as ``step``.

    The outputs (loss, grad norm) are the graph's static tensors: the next replay overwrites them.
    """

    def __init__(self, step: StepFunction, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.step, self.model, self.optimizer = step, model, optimizer
        self.graph: torch.cuda.CUDAGraph | None = None
        self.signature: tuple | None = None

    def invalidate(self) -> None:
        """Record afresh at the next call (the optimizer's state tensors were replaced)."""
        self.graph = None

    def __call__(self, x: Tensor, s: Tensor | None, alphas: list[Tensor | float]) -> tuple[Tensor, Tensor]:
        tensors = _distinct_tensors(alphas)
        signature = (x.shape, None if s is None else s.shape, _pattern(alphas, tensors))
        if self.graph is None or signature != self.signature:
            self._record(x, s, alphas, tensors)
            self.signature = signature
        self.x.copy_(x)
        if s is not None:
            self.s.copy_(s)
        for buffer, alpha in zip(self.alpha_buffers, tensors, strict=True):
            buffer.copy_(alpha)
        self.graph.replay()
        return self.outputs

    def _record(self, x: Tensor, s: Tensor | None, alphas: list[Tensor | float], tensors: list[Tensor]) -> None:
        self.x, self.s = x.clone(), None if s is None else s.clone()
        self.alpha_buffers = [a.clone() for a in tensors]
        buffer_of = {id(a): b for a, b in zip(tensors, self.alpha_buffers, strict=True)}
        static_alphas = [a if isinstance(a, float) else buffer_of[id(a)] for a in alphas]
        undo = self._undo_record()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self.step(self.x, self.s, static_alphas)
        torch.cuda.current_stream().wait_stream(side)
        undo()
        _step_counters_in_parameter_dtype(self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)  # backward in the capture allocates the static gradients
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = self.step(self.x, self.s, static_alphas)

    def _undo_record(self) -> Callable[[], None]:
        """A function that puts parameters and optimizer state back, in place, as they are now.

        State tensors that the warm-up creates are zeroed: RAdam's initial state (step, moments) is zero.
        """
        params = [(p, p.detach().clone()) for p in self.model.parameters()]
        existing = {id(t): t.clone() for t in _state_tensors(self.optimizer)}

        @torch.no_grad()
        def undo() -> None:
            for p, saved in params:
                p.copy_(saved)
            for t in _state_tensors(self.optimizer):
                t.copy_(existing[id(t)]) if id(t) in existing else t.zero_()

        return undo


def _step_counters_in_parameter_dtype(optimizer: torch.optim.Optimizer) -> None:
    """Keep each parameter's step counter in the parameter's dtype.

    A capturable RAdam computes its bias corrections and rectification term from the counter on the
    device, and torch keeps the counter in float32: for float64 models the rectification term
    ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ), a difference of numbers near 2 000, then loses about five digits
    (parameters differed from the eager path's by 1e-5 of an update on an H100).
    """
    for param, state in optimizer.state.items():
        step = state.get("step")
        if isinstance(step, Tensor) and step.dtype != param.dtype:
            state["step"] = step.to(param.dtype)


def _state_tensors(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    return [t for state in optimizer.state.values() for t in state.values() if isinstance(t, Tensor)]


def _distinct_tensors(alphas: list[Tensor | float]) -> list[Tensor]:
    """The α tensors in order of first appearance (schedules repeat one tensor over many steps)."""
    return list({id(a): a for a in alphas if not isinstance(a, float)}.values())


def _pattern(alphas: list[Tensor | float], tensors: list[Tensor]) -> tuple:
    """The α list with each tensor replaced by its index in ``tensors``: what a recorded graph fixes."""
    index = {id(a): f"tensor {i}" for i, a in enumerate(tensors)}
    return tuple(a if isinstance(a, float) else index[id(a)] for a in alphas)
