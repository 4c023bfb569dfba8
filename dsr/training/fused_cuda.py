"""The fused training loss on a GPU: the CUDA kernels of :mod:`dsr.training.kernel_plrnn_cuda` as one autograd node.

:func:`dsr.training.fused.fused_member_losses` prepares the kind's unit form, the data and z̃_0 the same
way for both devices and calls :func:`dsr.training.fused.cuda_member_losses`, hence ``CudaLoss``, for a model on a GPU. The kernels read the tensors in
place (Numba's view of torch's memory, ``cuda.as_cuda_array``) and run on torch's current stream, so
no copy and no host synchronisation separates them from the torch operations around them, and a CUDA
graph records them with the rest of the training step (:mod:`dsr.training.step`).

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


def _launch(kernel: Any, threads: int, *args: Any) -> None:
    """``kernel`` on one GPU thread per window (``threads`` of them), on torch's current stream."""
    from numba import cuda

    from dsr.training.kernel_plrnn_cuda import THREADS

    views = [_view(a) if isinstance(a, Tensor) else a for a in args]
    on_gpu = any(isinstance(a, Tensor) and a.device.type == "cuda" for a in args)
    stream = cuda.external_stream(torch.cuda.current_stream().cuda_stream) if on_gpu else 0
    kernel[-(-threads // THREADS), THREADS, stream](*views)


def _windows_last(a: Tensor) -> Tensor:
    """(E, S, T, D) → (E, D, T, S), contiguous: the kernels' layout (see their module doc)."""
    return a.permute(0, 3, 2, 1).contiguous()


def _standing_in(p: Tensor) -> Tensor:
    """``p``, or a one-element array of its rank where it is empty (the kernels compile per rank)."""
    return p if p.numel() else p.new_zeros((1,) * p.ndim)


class CudaLoss(torch.autograd.Function):
    """ℓ_e = Σ_{w,t} ‖x̂_t − x_t‖² / (S T N) by the CUDA kernels; the parameter gradients as batched
    matrix products over the sequences of the adjoint kernel (see its module doc).

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
        n_steps, n_obs = targets.shape[2], targets.shape[3]
        flags = (int(UT.shape[2] > 0), int(B.shape[1] > 0), inputs.shape[3])
        UT, B, beta, C = (_standing_in(p) for p in (UT, B, beta, C))
        s = _windows_last(inputs) if flags[2] else A.new_zeros(1, 1, 1, 1)
        x, zhat = _windows_last(targets), _windows_last(signals)
        start = z0.detach().transpose(1, 2).contiguous()
        states = A.new_empty(n_members, n_latent, n_steps + 1, n_windows)
        squares = torch.empty(n_members, n_windows, dtype=torch.float64, device=A.device)
        _launch(k.forward, n_members * n_windows, start, A, V, UT, theta, h, C, B, beta, *unit, s, x, zhat, alpha, *flags, states, squares)
        count = n_windows * n_steps * n_obs
        ctx.kernel_inputs = (states, (A, V, UT, theta, B, beta, *unit, x, zhat, alpha), s, flags, count)
        ctx.dtypes = [z0.dtype] + [p.dtype for p in params]
        ctx.shapes = [z0.shape] + [p.shape for p in params]
        return (squares.sum(dim=1) / count).to(z0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple:
        from dsr.training import kernel_plrnn_cuda as k

        states, arrays, s, (dense, readout, n_inputs), count = ctx.kernel_inputs
        A, V, UT, theta, B, beta, lin, ramp, clip, x, zhat, alpha = arrays
        n_members, n_latent, steps_and_start, n_windows = states.shape
        n_steps, hidden, n_obs = steps_and_start - 1, theta.shape[1], x.shape[1]
        needed = ctx.needs_input_grad[2:]  # z̃_0, A, V, Uᵀ, θ, h, C, B, β
        theta_grad = int(needed[4])

        def sequence(size: int, written: bool = True) -> Tensor:
            return A.new_empty(n_members, size, n_steps, n_windows) if written else A.new_zeros(1, 1, 1, 1)

        kr, delta, zt, phi = sequence(n_obs), sequence(n_latent), sequence(n_latent), sequence(hidden)
        gamma, psi = sequence(hidden, bool(dense)), sequence(hidden, bool(theta_grad))
        gz0 = A.new_empty(n_members, n_latent, n_windows)
        scale = (2.0 * grad / count).to(A.dtype).contiguous()
        _launch(
            k.backward, n_members * n_windows, scale, states, A, V, UT, theta, B, beta, lin, ramp, clip, x, zhat, alpha,
            dense, readout, theta_grad, kr, delta, zt, phi, gamma, psi, gz0,
        )

        def flat(a: Tensor) -> Tensor:
            """(E, D, T, S) → (E, D, T·S): a sum over steps and windows is then one matrix product."""
            return a.reshape(a.shape[0], a.shape[1], -1)

        delta, zt, kr = flat(delta), flat(zt), flat(kr)
        grads = [
            gz0.transpose(1, 2),
            (delta * zt).sum(dim=2),
            delta @ flat(phi).mT,
            zt @ flat(gamma).mT if dense else None,
            flat(psi).sum(dim=2) * ramp if theta_grad else None,
            delta.sum(dim=2),
            delta @ flat(s).mT if n_inputs else None,
            kr @ flat(states[:, :, 1:]).mT if readout else None,
            kr.sum(dim=2) if readout else None,
        ]
        return None, None, *(
            (torch.zeros(shape, dtype=dtype, device=A.device) if g is None else g.reshape(shape).to(dtype)) if need else None
            for g, dtype, shape, need in zip(grads, ctx.dtypes, ctx.shapes, needed, strict=True)
        )
