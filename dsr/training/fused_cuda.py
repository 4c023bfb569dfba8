"""The fused training loss on a GPU: the CUDA kernels of :mod:`dsr.training.kernel_plrnn_cuda` as one autograd node.

:func:`dsr.training.fused.fused_member_losses` prepares the kind's unit form, the data and z̃_0 the same
way for both devices and calls ``cuda_loss`` for a model on a GPU. The kernels read the tensors in
place (Numba's view of torch's memory, ``cuda.as_cuda_array``) and run on torch's current stream, so
no copy and no host synchronisation separates them from the torch operations around them.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, used by the tests on machines without a GPU)
the same code runs the kernels on CPU tensors.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

BLOCK = 128
"""Threads per block."""


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
        numba.config.CUDA_LOW_OCCUPANCY_WARNINGS = 0  # one model's 16 windows fill one block, by design
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


def _launch(kernel: Any, threads: int, *args: Any) -> None:
    """``kernel`` on ``threads`` threads, on torch's current stream; tensors are passed as views."""
    from numba import cuda

    grid = (threads + BLOCK - 1) // BLOCK
    views = [_view(a) if isinstance(a, Tensor) else a for a in args]
    on_gpu = any(isinstance(a, Tensor) and a.device.type == "cuda" for a in args)
    if on_gpu:
        stream = cuda.external_stream(torch.cuda.current_stream().cuda_stream)
        kernel[grid, BLOCK, stream](*views)
    else:
        kernel[grid, BLOCK](*views)


def _thread_last(a: Tensor) -> Tensor:
    """(E, S, T, D) → (T, D, E·S): one column per thread (window), contiguous."""
    n_members, n_windows, n_steps, size = a.shape
    return a.permute(2, 3, 0, 1).reshape(n_steps, size, n_members * n_windows).contiguous()


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
        n_steps, n_obs, threads = targets.shape[2], targets.shape[3], n_members * n_windows
        flags = (int(UT.shape[2] > 0), int(B.shape[1] > 0), inputs.shape[3])
        UT, B, beta, C = (_standing_in(p) for p in (UT, B, beta, C))
        s = _thread_last(inputs) if flags[2] else A.new_zeros(1, 1, 1)
        x, zhat = _thread_last(targets), _thread_last(signals)
        start = z0.detach().reshape(threads, n_latent).T.contiguous()
        states = A.new_empty(n_steps + 1, n_latent, threads)
        squares = torch.empty(threads, dtype=torch.float64, device=A.device)
        zt, phi = A.new_empty(n_latent, threads), A.new_empty(theta.shape[1], threads)
        arrays = (A, V, UT, theta, h, C, B, beta, *unit, s, x, zhat, alpha)
        _launch(k.forward, threads, start, *arrays, n_windows, *flags, zt, phi, states, squares)
        count = n_windows * n_steps * n_obs
        ctx.kernel_inputs = (states, arrays, flags, count, n_windows)
        ctx.dtypes = [z0.dtype] + [p.dtype for p in params]
        ctx.shapes = [p.shape for p in params]
        return (squares.view(n_members, n_windows).sum(dim=1) / count).to(z0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple:
        from dsr.training import kernel_plrnn_cuda as k

        states, arrays, flags, count, n_windows = ctx.kernel_inputs
        A, V, UT, theta, h, C, B, beta, lin, ramp, clip, s, x, zhat, alpha = arrays
        dense, readout, n_inputs = flags
        n_latent, threads = states.shape[1], states.shape[2]
        n_members, hidden, n_obs = A.shape[0], theta.shape[1], x.shape[1]
        scale = (2.0 * grad / count).to(A.dtype).contiguous()
        zeros = A.new_zeros
        lam, zt, delta = A.new_empty(n_latent, threads), A.new_empty(n_latent, threads), A.new_empty(x.shape[0], n_latent, threads)
        gA, gh = zeros(n_latent, threads), zeros(n_latent, threads)
        gC = zeros(n_latent, max(n_inputs, 1), threads)
        gB, gbeta = zeros(max(n_obs * readout, 1), n_latent, threads), zeros(max(n_obs * readout, 1), threads)
        common = (lin, ramp, clip, s, x, zhat, alpha, n_windows, dense, readout, n_inputs)
        _launch(k.backward, threads, scale, states, A, V, UT, theta, B, beta, *common, zt, lam, delta, gA, gh, gC, gB, gbeta)
        gV, gUT, gtheta = zeros(V.shape), zeros(UT.shape if dense else ctx.shapes[2]), zeros(theta.shape)
        # Without Uᵀ the kernel never touches gUT: the placeholder stands in for the empty gradient.
        _launch(
            k.unit_gradients, n_members * hidden, states, delta, V, UT, theta, lin, ramp, clip, zhat, alpha, n_windows, dense,
            gV, gUT if dense else UT.new_zeros(1, 1, 1), gtheta,
        )

        def per_member(g: Tensor) -> Tensor:
            """Sum a per-window gradient (..., E·S) over each member's windows: (E, ...)."""
            summed = g.reshape(*g.shape[:-1], n_members, n_windows).sum(dim=-1)
            return summed.movedim(-1, 0)

        grads = [
            lam.T.reshape(n_members, n_windows, n_latent),
            per_member(gA), gV, gUT, gtheta, per_member(gh),
            per_member(gC)[:, :, :n_inputs], per_member(gB)[:, : n_obs * readout], per_member(gbeta)[:, : n_obs * readout],
        ]
        needed = ctx.needs_input_grad[2:]
        return None, None, *(
            g.reshape(shape).to(dtype) if need else None
            for g, dtype, shape, need in zip(grads, ctx.dtypes, [grads[0].shape, *ctx.shapes], needed, strict=True)
        )
