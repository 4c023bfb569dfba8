"""Which training path computes a batch's loss and gradients: the fused kernels, a CUDA graph or autograd.

- ``fused``: the Numba forward and backward kernels of :mod:`dsr.training.fused`, on the CPU or, for
  a model on a GPU, as CUDA kernels (:mod:`dsr.training.fused_cuda`).
- ``graph``: the autograd reference's operations, with the backward pass and the RAdam update,
  recorded once as a CUDA graph and replayed for every batch (:mod:`dsr.training.graphed`; GPU).
- ``autograd``: the reference, step by step in torch, on any device.

``auto`` takes the fastest path that supports the model on its device: on a CPU the fused kernel; on a
GPU the CUDA kernels for ensembles below ``GRAPH_MIN_ENSEMBLE`` members and the graph from there on,
each falling back to the other (the graph cannot record the affine observation's pseudo-inverse), then
to autograd.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, ClassVar

import torch

from dsr.errors import DsrError
from dsr.models import LatentModel
from dsr.training.fused import fused_unsupported, torch_threads_for
from dsr.training.graphed import graph_unsupported

if TYPE_CHECKING:
    from dsr.training.config import FitConfig
    from dsr.training.forcing import ForcingSchedule
    from dsr.training.fused_epoch import FusedEpoch
    from dsr.training.step import Step
    from dsr.training.windows import WindowSampler

KERNELS = ("auto", "fused", "graph", "autograd")

GRAPH_MIN_ENSEMBLE = 512
"""From this ensemble size on, ``auto`` prefers the CUDA graph to the CUDA kernels on a GPU (the crossover
measured on an H100 by ``benchmarks/train_speed.py``; ``docs/gpu.md``)."""


class TrainingPath:
    """One way to compute a batch's loss and gradients and update the parameters; a fit picks one.

    ``name`` is what the run store records (attr ``kernel``) and the progress line shows; ``loss`` the
    path of :func:`dsr.training.loss.member_losses` and of aGTF's bound (``fused`` or ``autograd``).
    """

    name: ClassVar[str]
    loss: ClassVar[str]

    def unsupported(self, model: LatentModel) -> str | None:
        """Why this path cannot train ``model`` (one line), or None when it can."""
        return None

    def replays_graph(self, model: LatentModel) -> bool:
        """Whether the step is recorded once as a CUDA graph and replayed per batch."""
        return False

    def make_optimizer(self, model: LatentModel, lr: float) -> torch.optim.RAdam:
        """RAdam over the model's parameters; replayable (capturable, tensor learning rate) where the step is."""
        if not self.replays_graph(model):
            return torch.optim.RAdam(model.parameters(), lr=lr)
        ref = next(model.parameters())
        return torch.optim.RAdam(model.parameters(), lr=torch.tensor(lr, dtype=ref.dtype, device=ref.device), capturable=True)

    def make_step(
        self, model: LatentModel, optimizer: torch.optim.Optimizer, *, partial: bool = True, l2: float = 0.0,
        grad_clip: float | None = None,
    ) -> Step:
        """The batch step on this path (:func:`dsr.training.step.make_step`)."""
        from dsr.training.step import make_step

        return make_step(model, optimizer, self, partial=partial, l2=l2, grad_clip=grad_clip)

    def compiled_epochs(
        self, model: LatentModel, optimizer: torch.optim.RAdam, sampler: WindowSampler, forcing: ForcingSchedule,
        config: FitConfig,
    ) -> FusedEpoch | None:
        """Whole epochs as compiled calls, where this path and the fit allow them; else None (batch by batch)."""
        return None

    def threads(self) -> AbstractContextManager[None]:
        """The torch thread setting this path trains under."""
        return torch_threads_for(self.name)


class Autograd(TrainingPath):
    """The reference: the rollout step by step in torch, backpropagated by autograd, on any device."""

    name = loss = "autograd"


class Fused(TrainingPath):
    """The Numba forward and adjoint kernels (CPU) or their CUDA versions, behind an autograd Function."""

    name = loss = "fused"

    def unsupported(self, model: LatentModel) -> str | None:
        return fused_unsupported(model)

    def replays_graph(self, model: LatentModel) -> bool:
        # On a GPU the kernels' step is recorded too, where a graph can hold it (not pinv(B)).
        return graph_unsupported(model) is None

    def compiled_epochs(
        self, model: LatentModel, optimizer: torch.optim.RAdam, sampler: WindowSampler, forcing: ForcingSchedule,
        config: FitConfig,
    ) -> FusedEpoch | None:
        from dsr.training.fused_epoch import FusedEpoch, fused_epoch_unsupported

        if fused_epoch_unsupported(model, config, self.name) is not None:
            return None
        return FusedEpoch(model, optimizer, sampler, forcing, config)


class Graph(TrainingPath):
    """The autograd reference's step with its backward pass and update recorded as a CUDA graph (GPU)."""

    name, loss = "graph", "autograd"

    def unsupported(self, model: LatentModel) -> str | None:
        return graph_unsupported(model)

    def replays_graph(self, model: LatentModel) -> bool:
        return True


class TimeParallelNewton(Autograd):
    """Autograd's path with each window's forced rollout solved by parallel Newton and its gradient by the
    adjoint scan (:func:`dsr.parallel.training.newton_member_losses`: the same values and gradients)."""

    def __init__(self, solver: str, max_iter: int) -> None:
        self.options = {"solver": solver, "max_iter": max_iter}

    def make_step(
        self, model: LatentModel, optimizer: torch.optim.Optimizer, *, partial: bool = True, l2: float = 0.0,
        grad_clip: float | None = None,
    ) -> Step:
        from dsr.training.step import make_step

        return make_step(model, optimizer, self, partial=partial, l2=l2, grad_clip=grad_clip, newton=self.options)


PATHS: dict[str, TrainingPath] = {path.name: path for path in (Fused(), Graph(), Autograd())}


def path_named(path: TrainingPath | str) -> TrainingPath:
    """The path object of a concrete path name (``fused``, ``graph``, ``autograd``), or the object itself."""
    if isinstance(path, TrainingPath):
        return path
    if path not in PATHS:
        raise ValueError(f"unknown training path {path!r}; choose one of: {', '.join(PATHS)}")
    return PATHS[path]


def choose_path(model: LatentModel, requested: str) -> TrainingPath:
    """The training path for ``requested`` in KERNELS (module doc); DsrError if a named one cannot train the model."""
    if requested not in KERNELS:
        raise ValueError(f"unknown kernel {requested!r}; choose one of: {', '.join(KERNELS)}")
    if requested == "auto":
        order = ("graph", "fused") if model.ensemble >= GRAPH_MIN_ENSEMBLE else ("fused", "graph")
        return next((PATHS[name] for name in order if PATHS[name].unsupported(model) is None), PATHS["autograd"])
    path = PATHS[requested]
    reason = path.unsupported(model)
    if reason:
        raise DsrError(f"--kernel {requested} is not available: {reason}; use --kernel auto or --kernel autograd")
    return path


def path_for_fit(model: LatentModel, config: FitConfig) -> TrainingPath:
    """The fit's training path: ``--time-parallel newton`` (autograd's path), else :func:`choose_path`."""
    if config.time_parallel == "newton":
        return TimeParallelNewton(config.newton_solver, config.newton_max_iter)
    return choose_path(model, config.kernel)


def resolve_kernel(model: LatentModel, requested: str) -> str:
    """The name of :func:`choose_path`'s path, ``"fused"``, ``"graph"`` or ``"autograd"``."""
    return choose_path(model, requested).name

