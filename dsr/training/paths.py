"""Which training path computes a batch's loss and gradients: the fused CPU kernel, a CUDA graph or autograd.

- ``fused``: the Numba forward and backward kernel of :mod:`dsr.training.fused` (CPU).
- ``graph``: the autograd reference's operations, with the backward pass and the RAdam update,
  recorded once as a CUDA graph and replayed for every batch (:mod:`dsr.training.graphed`; GPU).
- ``autograd``: the reference, step by step in torch, on any device.

``auto`` takes the fast path of the model's device where it supports the model, else the reference.
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
