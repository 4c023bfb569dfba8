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

from dsr.errors import DsrError
from dsr.models import LatentModel
from dsr.training.fused import fused_unsupported
from dsr.training.graphed import graph_unsupported

KERNELS = ("auto", "fused", "graph", "autograd")

GRAPH_MIN_ENSEMBLE = 512
"""From this ensemble size on, ``auto`` prefers the CUDA graph to the CUDA kernels on a GPU.

Measured on an H100 (``benchmarks/train_speed.py``, float32, S = 16, T̃ = 200; clipped shPLRNN M=3 L=50
/ AL-RNN M=20 P=2), ms per iteration, kernels (their step recorded as a graph) against the graph of
autograd's operations: E = 1: 1.8 / 3.1 against 11.7 / 11.1; E = 16: 1.9 / 3.2 against 14.5 / 13.1;
E = 256: 7.5 / 15.6 against 16.6 / 15.8; E = 4 096: 104 / 227 against 61 / 37. The kernels run one
warp per window, and the card holds about 4 200 of them at once (132 SMs × 32 blocks), so from about
E = 260 on their time grows in proportion to E; the crossover lies near E = 256 for the AL-RNN and
near 1 000 for the clipped shPLRNN (interpolated).
"""


def resolve_kernel(model: LatentModel, requested: str) -> str:
    """The training path, ``"fused"``, ``"graph"`` or ``"autograd"``, for ``requested`` in KERNELS."""
    if requested not in KERNELS:
        raise ValueError(f"unknown kernel {requested!r}; choose one of: {', '.join(KERNELS)}")
    if requested == "autograd":
        return requested
    # Only the paths asked about are checked: the loss resolves its path again at every batch.
    unsupported = {"graph": graph_unsupported, "fused": fused_unsupported}
    if requested == "auto":
        order = ("graph", "fused") if model.ensemble >= GRAPH_MIN_ENSEMBLE else ("fused", "graph")
        return next((path for path in order if unsupported[path](model) is None), "autograd")
    reason = unsupported[requested](model)
    if reason:
        raise DsrError(f"--kernel {requested} is not available: {reason}; use --kernel auto or --kernel autograd")
    return requested
