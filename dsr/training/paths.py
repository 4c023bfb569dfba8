"""Which training path computes a batch's loss and gradients: the fused kernels, a CUDA graph or autograd.

- ``fused``: the Numba forward and backward kernels of :mod:`dsr.training.fused`, on the CPU or, for
  a model on a GPU, as CUDA kernels (:mod:`dsr.training.fused_cuda`).
- ``graph``: the autograd reference's operations, with the backward pass and the RAdam update,
  recorded once as a CUDA graph and replayed for every batch (:mod:`dsr.training.graphed`; GPU).
- ``autograd``: the reference, step by step in torch, on any device.

``auto`` takes the first of graph, fused, autograd that supports the model on its device: on a CPU the
fused kernel, on a GPU the graph, whose replays beat the CUDA kernels there (on an H100, one clipped
shPLRNN: 11.3 against 21.4 ms per iteration; E = 4 096: 60 against 76 ms; ``benchmarks/train_speed.py``).
The CUDA kernels train on a GPU what the graph cannot record (the affine observation's pseudo-inverse).
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
    reasons = {"graph": graph_unsupported(model), "fused": fused_unsupported(model)}
    if requested == "auto":
        return next((path for path, reason in reasons.items() if reason is None), "autograd")
    if reasons[requested]:
        raise DsrError(f"--kernel {requested} is not available: {reasons[requested]}; use --kernel auto or --kernel autograd")
    return requested
