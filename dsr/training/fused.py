"""The fused training loss: the forced-rollout loss of ``dsr.training.loss`` in one compiled pass (CPU, GPU).

``fused_member_losses`` computes the same per-member losses as the autograd reference
(:func:`dsr.training.loss.member_losses` with ``kernel="autograd"``) with one Numba forward and one
Numba backward pass over all windows and members (:mod:`dsr.training.kernel_plrnn`), wrapped in a
``torch.autograd.Function``: the optimizer, gradient clipping and regularisers stay in torch.

Every kind reaches the kernel through its normal form (``dsr.kinds``; ``LatentModel.normal_form``),
whose columns are the kernel's units: the kernel's V is the normal form's V, with each column of a
group weighted (V_{m,j} = V_{m,k(j)} w_j; the dendPLRNN's W α), Uᵀ its Uᵀ or, for U = I, the repeat map
u_j = z_{⌊j/r⌋}, and θ, lin, ramp, clip its columns'. These are torch operations on the parameters, so
autograd carries the kernel's gradients back to the kind's own parameters (masks, products, transposes).

The observation model enters through the initial state z̃_0 = ``initial_state(x_0)`` (computed in torch,
its gradient returned by the kernel), the forcing signals ``forcing_signal(x, partial)`` (data) and the
read-out (identity: the first N units; affine: B z + b, both handled by the kernel). The kernel computes
in the model's dtype (float32 or float64; float64 for any other), as the autograd path does, on 16 or
8 windows per SIMD instruction. For a model on a GPU the same inputs go to the CUDA kernels instead
(:mod:`dsr.training.fused_cuda`, one warp per window).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from dsr.kinds import KINDS
from dsr.models import LatentModel
from dsr.training import kernel_plrnn
from dsr.training.lanes import lanes

# The kind's part of the unit form: A, V, Uᵀ, θ, h (C, B and β are the same for every kind).
UnitParams = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]
UnitCoefficients = tuple[np.ndarray, np.ndarray, np.ndarray]


def unit_form(model: LatentModel) -> tuple[UnitParams, UnitCoefficients]:
    """The kernel's unit form of the model (module doc of ``dsr.training.kernel_plrnn``): (A, V, Uᵀ, θ, h) as
    tensors of its parameters, and the coefficients (lin, ramp, clip) of its units."""
    nf = model.normal_form()
    A, V = nf.A, nf.V
    if nf.group > 1:
        if nf.U is not None:
            raise ValueError("the kernels repeat pre-activations only for U = I; a dense U takes one column per unit")
        V = (V.unsqueeze(-1) * nf.weights[:, None]).flatten(2)
    ut = A.new_zeros(A.shape[0], A.shape[1], 0) if nf.U is None else nf.U.transpose(1, 2)  # no columns: the repeat map
    theta = A.new_zeros(A.shape[0], nf.columns) if nf.theta is None else nf.theta
    return (A, V, ut, theta, nf.h), tuple(np.asarray(c, dtype=np.float64) for c in (nf.lin, nf.ramp, nf.clip))


def fused_unsupported(model: LatentModel) -> str | None:
    """Why the fused kernel cannot train ``model`` (one line), or None when it can."""
    if model.kind not in KINDS:
        return f"there is no fused kernel for {model.kind} models"
    device = model.A.device
    if device.type == "cuda":
        from dsr.training.fused_cuda import cuda_unavailable
        from dsr.training.kernel_plrnn_cuda import unsupported

        return cuda_unavailable() or unsupported(model.latent, model.normal_form().columns)
    if device.type != "cpu":
        return f"the fused kernels run on the CPU and on CUDA GPUs, and the model is on {device}"
    return None


def kernel_dtype(t: Tensor) -> type:
    """The dtype the kernel computes in for a model of ``t``'s dtype."""
    return np.float32 if t.dtype == torch.float32 else np.float64


def _array(t: Tensor, dtype: type = np.float64) -> np.ndarray:
    """The kernel's view of a tensor: ``dtype``, C-contiguous, detached (a copy only where needed)."""
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


def _runs(alphas: list[Tensor | float]) -> Iterator[tuple[int, int, Tensor | float]]:
    """(start, stop, α) for each run of steps that share one α object (a schedule repeats one object)."""
    start = 0
    for t in range(1, len(alphas) + 1):
        if t == len(alphas) or alphas[t] is not alphas[start]:
            yield start, t, alphas[start]
            start = t


def _alpha_table(alphas: list[Tensor | float], ensemble: int, dtype: type) -> np.ndarray:
    """α as (T, E) for the CPU kernel, each run converted and written once."""
    table = np.empty((len(alphas), ensemble), dtype)
    for start, stop, alpha in _runs(alphas):
        table[start:stop] = _array(alpha, dtype) if isinstance(alpha, Tensor) else alpha
    return table


def _alpha_table_on_device(alphas: list[Tensor | float], ensemble: int, like: Tensor) -> Tensor:
    """α as (T, E) in ``like``'s dtype, built on its device: no copy from the host, so that a CUDA graph
    can record it (numbers become recorded constants, as on the graph path)."""
    rows = [
        (alpha.to(like) if isinstance(alpha, Tensor) else like.new_full((ensemble,), alpha)).expand(stop - start, ensemble)
        for start, stop, alpha in _runs(alphas)
    ]
    return torch.cat(rows)


# Threads for the kernels: NUMBA_NUM_THREADS (default: the number of CPUs), as for numba's own parallel
# code. A thread pool rather than numba's prange: the only threading layer here is OpenMP, whose workers
# spin after every parallel region and took the cores from torch's threads (and other processes), which
# made training iterations 2–3× slower than a single thread on a shared 2-core machine; pool workers sleep.
_threads = numba.config.NUMBA_NUM_THREADS
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def threads() -> int:
    """Number of threads the kernels run on."""
    return _threads


def set_threads(n: int) -> None:
    """Run the kernels on ``n`` threads from now on: the calling thread and n − 1 pool threads."""
    global _threads
    if n < 1:
        raise ValueError(f"the kernels need at least one thread, got {n}")
    _threads = int(n)


@contextmanager
def torch_threads_for(kernel: str) -> Iterator[None]:
    """Torch on one thread while the fused kernel trains (restored after); unchanged for autograd.

    The kernel threads itself; torch's own operations around it are tiny, and its OpenMP workers
    spin between them and take the cores from the kernel's threads: a default fit on 2 cores took
    4.7 min with torch on 2 threads and 3.1 min with one (float64 kernel, 800 epochs).
    """
    threads = torch.get_num_threads()
    if kernel == "fused":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def in_parallel(kernel: Callable[..., None], items: int, *args: Any) -> None:
    """kernel(lo, hi, *args) over [0, items) in up to n contiguous ranges on n threads; the caller runs the last."""
    n = max(1, min(_threads, items))
    bounds = [items * i // n for i in range(n + 1)]
    futures = []
    if n > 1:
        # Keyed by process too: a pool inherited through fork has no threads in the child.
        key = (os.getpid(), n)
        pool = _pools.get(key) or _pools.setdefault(key, ThreadPoolExecutor(n - 1, thread_name_prefix="dsr-kernel"))
        futures = [pool.submit(kernel, bounds[i], bounds[i + 1], *args) for i in range(n - 1)]
    kernel(bounds[n - 1], bounds[n], *args)
    for future in futures:
        future.result()


def _to_lanes(a: np.ndarray) -> np.ndarray:
    """(E, S, *rest) → (E·K, *rest, L): chunks of L = lanes(dtype) windows per member, windows last, zero-padded."""
    width = lanes(a.dtype)
    n_members, n_windows, rest = a.shape[0], a.shape[1], a.shape[2:]
    chunks = -(-n_windows // width)
    padded = np.zeros((n_members, chunks * width, *rest), a.dtype)
    padded[:, :n_windows] = a
    chunked = np.moveaxis(padded.reshape(n_members, chunks, width, *rest), 2, -1)
    return np.ascontiguousarray(chunked.reshape(n_members * chunks, *rest, width))


def _from_lanes(a: np.ndarray, n_members: int, n_windows: int) -> np.ndarray:
    """The inverse of ``_to_lanes``: (E·K, *rest, L) → (E, S, *rest), padding dropped."""
    rest, width = a.shape[1:-1], a.shape[-1]
    windows = np.moveaxis(a.reshape(n_members, -1, *rest, width), -1, 2)
    return windows.reshape(n_members, -1, *rest)[:, :n_windows]


class _FusedLoss(torch.autograd.Function):
    """ℓ_e = Σ_{w,t} ‖x̂_t − x_t‖² / (S T N) from the kernel; inputs: data in lanes, coefficients, z̃_0, unit form."""

    @staticmethod
    def forward(ctx: Any, data: tuple, unit: UnitCoefficients, z0: Tensor, *params: Tensor) -> Tensor:
        targets = data[1]
        dtype, width = targets.dtype, targets.shape[-1]
        arrays, start = tuple(_array(p, dtype) for p in params), _to_lanes(_array(z0, dtype))
        n_members, n_windows, n_latent = z0.shape
        n_chunks, n_steps, n_obs = targets.shape[:3]
        squares = np.empty((n_chunks, width), dtype)
        states = np.empty((n_chunks, n_steps + 1, n_latent, width), dtype)
        pre = np.empty((n_chunks, n_steps, arrays[3].shape[1], width), dtype)
        per_member = n_chunks // n_members
        in_parallel(kernel_plrnn.forward, n_chunks, per_member, start, arrays, unit, data, squares, states, pre)
        count = n_windows * n_steps * n_obs
        ctx.kernel_inputs = (states, pre, arrays, unit, data, count, n_windows)
        ctx.dtypes = [z0.dtype] + [p.dtype for p in params]
        squares = _from_lanes(squares, n_members, n_windows)
        return torch.from_numpy(squares.sum(axis=1) / count).to(z0.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple:
        states, pre, arrays, unit, data, count, n_windows = ctx.kernel_inputs
        n_members, (n_chunks, _, n_latent, width), dtype = grad.shape[0], states.shape, states.dtype
        per_member = n_chunks // n_members
        # k_e per window, 0 for the padding windows (their residuals must not reach the gradients).
        scale = _to_lanes(np.broadcast_to((2.0 * _array(grad, dtype) / count)[:, None], (n_members, n_windows)))
        buffers = tuple(np.zeros((n_chunks, *a.shape[1:]), dtype) for a in arrays)
        start = np.empty((n_chunks, n_latent, width), dtype)
        in_parallel(kernel_plrnn.backward, n_chunks, per_member, scale, states, pre, arrays, unit, data, (*buffers, start))
        grads = [
            _from_lanes(start, n_members, n_windows),
            *(g.reshape(n_members, per_member, *g.shape[1:]).sum(axis=1) for g in buffers),
        ]
        needed = ctx.needs_input_grad[2:]
        return None, None, *(
            torch.from_numpy(np.ascontiguousarray(g)).to(torch_dtype) if need else None
            for g, torch_dtype, need in zip(grads, ctx.dtypes, needed, strict=True)
        )


def fused_log_norms(model: LatentModel, states: Tensor, steps: int = kernel_plrnn.LANCZOS_STEPS, stride: int = 1) -> Tensor:
    """Mean of log ‖J(z_t)‖₂ over t = 0, s, 2s, ... (s = ``stride``) per member and window, (E, S), of the
    states (E, S, T, M), by the kernel.

    The aGTF bound's expensive part (``dsr.training.forcing.alpha_estimate``): one compiled pass over
    the windows in lanes, at the cost of a few model steps per state (``steps`` Lanczos steps, see
    ``kernel_plrnn.jacobian_log_norms``), instead of building E·S·T Jacobians in torch.
    """
    (A, V, UT, theta, h), unit = unit_form(model)
    dtype = kernel_dtype(A)
    arrays, unit = tuple(_array(p, dtype) for p in (A, V, UT, theta, h)), tuple(c.astype(dtype) for c in unit)
    zhat = _to_lanes(_array(states, dtype))
    n_members, n_windows = states.shape[:2]
    out = np.empty((zhat.shape[0], zhat.shape[-1]))
    in_parallel(kernel_plrnn.jacobian_log_norms, zhat.shape[0], zhat.shape[0] // n_members, zhat, arrays, unit, steps, stride, out)
    return torch.from_numpy(_from_lanes(out, n_members, n_windows))


def _observation(model: LatentModel) -> tuple[Tensor, Tensor]:
    """(B, β) of the kernel: empty for the identity read-out, else B and b (or zeros)."""
    obs, A = model.observation, model.A
    if obs.name == "identity":
        return A.new_zeros(A.shape[0], 0, model.latent), A.new_zeros(A.shape[0], 0)
    bias = obs.b if obs.has_bias else obs.B.new_zeros(obs.B.shape[:2])
    return obs.B, bias


def fused_member_losses(
    model: LatentModel, x: Tensor, alphas: list[Tensor | float], s: Tensor | None = None, partial: bool = True
) -> Tensor:
    """Mean squared one-step error per member, (E,), by the fused kernel of the model's device (see module doc)."""
    if model.A.device.type != "cpu":
        return cuda_member_losses(model, x, alphas, s, partial)
    params, unit, series, z0 = _kernel_inputs(model, x, s, partial)
    dtype = kernel_dtype(params[0])
    unit = tuple(c.astype(dtype) for c in unit)
    data = (*(_to_lanes(_array(a, dtype)) for a in series), _alpha_table(alphas, x.shape[0], dtype))
    return _FusedLoss.apply(data, unit, z0, *params)


def cuda_member_losses(
    model: LatentModel, x: Tensor, alphas: list[Tensor | float], s: Tensor | None = None, partial: bool = True
) -> Tensor:
    """The same losses by the CUDA kernels (:mod:`dsr.training.fused_cuda`), on the model's device.

    On a CPU model this runs only under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``; tests).
    """
    from dsr.training.fused_cuda import CudaLoss

    params, unit, series, z0 = _kernel_inputs(model, x, s, partial)
    like = params[0].detach()
    alpha = _alpha_table_on_device(alphas, x.shape[0], like)
    return CudaLoss.apply((*series, alpha), _unit_on_device(unit, like), z0, *params)


_device_units: dict[tuple, tuple[Tensor, ...]] = {}


def _unit_on_device(unit: UnitCoefficients, like: Tensor) -> tuple[Tensor, ...]:
    """The unit coefficients as tensors of ``like``'s dtype and device, copied there once per kind and size:
    a copy from the host cannot be recorded in a CUDA graph."""
    key = (*(c.tobytes() for c in unit), like.dtype, like.device)
    if key not in _device_units:
        _device_units[key] = tuple(torch.as_tensor(c, dtype=like.dtype, device=like.device) for c in unit)
    return _device_units[key]


def _kernel_inputs(
    model: LatentModel, x: Tensor, s: Tensor | None, partial: bool
) -> tuple[tuple[Tensor, ...], UnitCoefficients, tuple[Tensor, Tensor, Tensor], Tensor]:
    """What both kernels take: the unit form's parameters (A, V, Uᵀ, θ, h, C, B, β), its coefficients
    (float64), the series (inputs, targets, forcing signals; (E, S, T, ·)) and z̃_0 (E, S, M)."""
    if x.requires_grad or (s is not None and s.requires_grad):
        raise ValueError("the fused kernel treats data as constants; use kernel='autograd' for gradients with respect to x or s")
    (A, V, UT, theta, h), unit = unit_form(model)
    E, S, steps = x.shape[0], x.shape[1], x.shape[2] - 1
    if (s is None) != (model.config.inputs == 0):
        raise ValueError(f"this model has {model.config.inputs} external inputs, so pass s exactly when it has some")
    if model.config.inputs:
        C, inputs = model.C, s[:, :, 1:]
    else:
        C, inputs = A.new_zeros(E, model.latent, 0), x.new_zeros(E, S, steps, 0)
    B, beta = _observation(model)
    targets = x[:, :, 1:]
    signals = model.forcing_signal(targets, partial)
    z0 = model.initial_state(x[:, :, 0])
    return (A, V, UT, theta, h, C, B, beta), unit, (inputs, targets, signals), z0
