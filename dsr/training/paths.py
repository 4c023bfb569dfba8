"""Which training path computes a batch's loss and gradients: the fused kernels, a CUDA graph or autograd.

- ``fused``: the Numba forward and backward kernels of :mod:`dsr.training.fused`, on the CPU or, for
  a model on a GPU, as CUDA kernels (:mod:`dsr.training.fused_cuda`).
- ``graph``: the autograd reference's operations, with the backward pass and the RAdam update,
  recorded once as a CUDA graph and replayed for every batch (:mod:`dsr.training.graphed`; GPU).
- ``autograd``: the reference, step by step in torch, on any device.

``auto`` takes the first of fused, graph, autograd that supports the model on its device. On a GPU the
kernels beat the graph, whose replay still runs one kernel per operation and step (train_speed.py).
"""

from __future__ import annotations

from dsr.errors import DsrError
from dsr.models import LatentModel
from dsr.training.fused import fused_unsupported
from dsr.training.graphed import graph_unsupported

KERNELS = ("auto", "fused", "graph", "autograd")


def resolve_kernel(model: LatentModel, requested: str) -> str:
    """The training path, ``"fused"``, ``"graph"`` or ``"autograd"``, for ``requested`` in KERNELS."""
    if requested not in KERNELS:
        raise ValueError(f"unknown kernel {requested!r}; choose one of: {', '.join(KERNELS)}")
    if requested == "autograd":
        return requested
    reasons = {"fused": fused_unsupported(model), "graph": graph_unsupported(model)}
    if requested == "auto":
        return next((path for path, reason in reasons.items() if reason is None), "autograd")
    if reasons[requested]:
        raise DsrError(f"--kernel {requested} is not available: {reasons[requested]}; use --kernel auto or --kernel autograd")
    return requested
