"""The fused training loss on a GPU: the CUDA kernels of :mod:`dsr.training.kernel_plrnn_cuda` as one autograd node.

:func:`dsr.training.fused.fused_member_losses` prepares the kind's unit form, the data and z̃_0 the same
way for both devices and, for a model on a GPU, calls :func:`dsr.training.fused.cuda_member_losses`,
hence ``CudaLoss``. The kernels read the tensors in place (Numba's view of torch's memory,
``cuda.as_cuda_array``) and run on torch's current stream, so no copy and no host synchronisation
separates them from the torch operations around them, and a CUDA graph records them with the rest of
the training step (:mod:`dsr.training.step`).

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, used by the tests on machines without a GPU)
the same code runs the kernels on CPU tensors.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


@functools.cache
def cuda_unavailable() -> str | None:
    """Why the CUDA kernels cannot run here (one line), or None when they can.

    Compiles a one-line kernel: numba's CUDA target can be present and still fail to compile, e.g.
    numba-cuda 0.30.4 with NumPy 2.5 (it registers ``np.row_stack``, which NumPy 2.5 removed).
    """
    try:
        import numba
        from numba import cuda

        if not cuda.is_available():
            return "numba finds no CUDA driver"
        numba.config.CUDA_LOW_OCCUPANCY_WARNINGS = 0  # one model is 16 blocks (windows), by design
        cuda.jit("void(float64[:])")(_probe)
    except Exception as err:  # noqa: BLE001 - any failure means: take another path
        return f"numba cannot compile CUDA kernels here ({type(err).__name__}: {str(err).splitlines()[0][:120]})"
    return None


def _probe(a: Any) -> None:
    a[0] = 1.0


def _view(t: Tensor) -> Any:
    """Numba's view of ``t``'s memory (no copy, no synchronisation); a NumPy view under the simulator."""
    from numba import cuda

    if t.device.type == "cuda":
        return cuda.as_cuda_array(t, sync=False)
    return t.numpy()


def _launch(kernel: Any, blocks: int, shared: int, *args: Any) -> None:
    """``kernel`` on ``blocks`` blocks of one warp with ``shared`` bytes of shared memory, on torch's current stream."""
    from numba import cuda

    from dsr.training.kernel_plrnn_cuda import LANES

    views = [_view(a) if isinstance(a, Tensor) else a for a in args]
    on_gpu = any(isinstance(a, Tensor) and a.device.type == "cuda" for a in args)
    stream = cuda.external_stream(torch.cuda.current_stream().cuda_stream) if on_gpu else 0
    kernel[blocks, LANES, stream, shared](*views)


def _windows_first(a: Tensor) -> Tensor:
    """(E, S, T, D) → (E·S, T, D), contiguous."""
    return a.reshape(a.shape[0] * a.shape[1], *a.shape[2:]).contiguous()


def _standing_in(p: Tensor) -> Tensor:
    """``p``, or a one-element array of its rank where it is empty (the kernels compile per rank)."""
    return p if p.numel() else p.new_zeros((1,) * p.ndim)


class CudaLoss(torch.autograd.Function):
    """ℓ_e = Σ_{w,t} ‖x̂_t − x_t‖² / (S T N) by the CUDA kernels.

    Inputs: ``data`` = (s, x, ẑ) as (E, S, T, ·) and α (T, E); ``unit`` = (lin, ramp, clip) tensors; z̃_0
    (E, S, M); then the unit form A, V, Uᵀ, θ, h, C, B, β of :mod:`dsr.training.fused` (Uᵀ, C, B, β
    may be empty: repeat map, no inputs, identity read-out).
    """

    @staticmethod
    def forward(ctx: Any, data: tuple, unit: tuple, z0: Tensor, *params: Tensor) -> Tensor:
        from dsr.training import kernel_plrnn_cuda as k

        inputs, targets, signals, alpha = data
        A, V, UT, theta, h, C, B, beta = (p.detach().contiguous() for p in params)
        n_members, n_windows, n_latent = z0.shape
        n_steps, n_obs, blocks = targets.shape[2], targets.shape[3], n_members * n_windows
        flags = (int(UT.shape[2] > 0), int(B.shape[1] > 0), inputs.shape[3])
        UT, B, beta, C = (_standing_in(p) for p in (UT, B, beta, C))
        s = _windows_first(inputs) if flags[2] else A.new_zeros(1, 1, 1)
        x, zhat = _windows_first(targets), _windows_first(signals)
        start = z0.detach().reshape(blocks, n_latent).contiguous()
        states = A.new_empty(blocks, n_steps + 1, n_latent)
        squares = torch.zeros(blocks, dtype=torch.float64, device=A.device)
        arrays = (A, V, UT, theta, h, C, B, beta, *unit, s, x, zhat, alpha)
        shared = k.shared_bytes(n_latent, n_obs)
        _launch(k.forward, blocks, shared, start, *arrays, n_windows, *flags, states, squares)
        count = n_windows * n_steps * n_obs
        ctx.kernel_inputs = (states, arrays, flags, count, n_windows, shared)
        ctx.dtypes = [z0.dtype] + [p.dtype for p in params]
        ctx.shapes = [z0.shape] + [p.shape for p in params]
        return (squares.view(n_members, n_windows).sum(dim=1) / count).to(z0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple:
        from dsr.training import kernel_plrnn_cuda as k

        states, arrays, flags, count, n_windows, shared = ctx.kernel_inputs
        A, V, UT, theta, h, C, B, beta, lin, ramp, clip, s, x, zhat, alpha = arrays
        dense, readout, n_inputs = flags
        blocks, n_latent, n_members, n_obs = states.shape[0], states.shape[2], A.shape[0], x.shape[2]
        scale = (2.0 * grad / count).to(A.dtype).contiguous()
        per_window = [A.new_zeros(blocks, *shape) for shape in (
            (n_latent,), (n_latent,), (n_latent,), (n_latent, max(n_inputs, 1)),
            (max(n_obs * readout, 1), n_latent), (max(n_obs * readout, 1),),
        )]
        wide = [torch.zeros(p.shape, dtype=torch.float64, device=A.device) for p in (V, UT, theta)]
        _launch(
            k.backward, blocks, shared, scale, states, A, V, UT, theta, B, beta, lin, ramp, clip, s, x, zhat, alpha,
            n_windows, dense, readout, n_inputs, *per_window, *wide,
        )
        gz0, gA, gh, gC, gB, gbeta = (g.reshape(n_members, n_windows, *g.shape[1:]) for g in per_window)
        gV, gUT, gtheta = wide
        rows = n_obs * readout
        grads = [
            gz0, gA.sum(dim=1), gV, gUT if dense else None, gtheta, gh.sum(dim=1),
            gC.sum(dim=1)[:, :, :n_inputs], gB.sum(dim=1)[:, :rows], gbeta.sum(dim=1)[:, :rows],
        ]
        needed = ctx.needs_input_grad[2:]
        return None, None, *(
            (torch.zeros(shape, dtype=dtype, device=A.device) if g is None else g.reshape(shape).to(dtype)) if need else None
            for g, dtype, shape, need in zip(grads, ctx.dtypes, ctx.shapes, needed, strict=True)
        )
