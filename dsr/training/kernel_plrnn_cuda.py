"""CUDA forward and backward passes of the forced-rollout loss for the PLRNN family (Numba for CUDA).

The maths is that of the CPU kernel, :mod:`dsr.training.kernel_plrnn`, whose module doc gives the unit
form, the forward recursion and the adjoint recursion (δ_t, ω_t, γ_t, λ_t) with the parameter gradients.
Here one block of ``LANES`` = 32 threads (one warp) runs one window: block i = e·S + w for member e,
window w, so an ensemble of E members with S windows each runs as E·S blocks. Within a step the lanes
share the hidden units (lane p takes j = p, p + 32, ...): each computes u_j, φ_j (forward) or ω_j,
γ_j (backward) and its partial sums Σ_j V_mj φ_j or Σ_j U_jm γ_j for every m, and a tree reduction
in shared memory adds the lanes' partials. Sums over the steps of ∂V, ∂Uᵀ, ∂θ stay in each lane's
accumulators and go to the member's gradient by one atomic addition per entry at the end; the small
per-window gradients (A, h, C, B, β, z̃_0) are summed over windows by the caller.

Arrays, window-major: params (A (E,M), V (E,M,H), Uᵀ (E,M,H), θ (E,H), h (E,M), C (E,M,K), B (E,N,M),
β (E,N)); unit (lin, ramp, clip), each (H,); data (s (ES,T,K), x (ES,T,N) targets x_1..x_T,
ẑ (ES,T,D), α (T,E)); z̃_0 (ES,M); states (ES,T+1,M) = z̃_0, z_1, ..., z_T (before forcing). Absent
parts are flagged by sizes, not by empty arrays (a zero-size array has no device pointer to pass):
``dense`` = 0 for the repeat map (Uᵀ unused), ``readout`` = 0 for the identity observation (B, β
unused), ``n_inputs`` = K = 0 without inputs (s, C unused); unused arrays are one-element stand-ins of
the right rank. Float arrays share one dtype (float32 or float64); shared scratch, accumulators, the
squares and the gradients of V, Uᵀ, θ are float64. Limits: M ≤ ``MAX_LATENT``, ⌈H/32⌉ ≤ ``MAX_OWNED``,
M ⌈H/32⌉ ≤ ``MAX_ACCUMULATORS`` (:func:`unsupported`).

Checks without a GPU (``tests/test_kernels.py``): Numba's CUDA simulator runs the kernels as Python
against autograd, untyped; ``cuda.compile_ptx`` with NVVM from pip's ``nvidia-cuda-nvcc-cu12`` (in the
test extra) types and compiles them for the argument types ``CudaLoss`` passes.

Measurements on an H100 and the designs that were slower: ``docs/gpu.md``.
"""

from __future__ import annotations

import math

from numba import cuda, float64

LANES = 32
MAX_LATENT = 128
MAX_OWNED = 16
MAX_ACCUMULATORS = 512


def unsupported(n_latent: int, hidden: int) -> str | None:
    """Why these kernels cannot take a model of M latent and H hidden units (one line), or None."""
    owned = math.ceil(hidden / LANES)
    if n_latent > MAX_LATENT or owned > MAX_OWNED or n_latent * owned > MAX_ACCUMULATORS:
        return f"the CUDA kernels hold at most M = {MAX_LATENT} latent and H = {LANES * MAX_OWNED} hidden units (M = {n_latent}, H = {hidden})"
    return None


def shared_bytes(n_latent: int, n_obs: int) -> int:
    """Dynamic shared memory of a block, for either kernel."""
    return 8 * ((3 + LANES) * n_latent + n_obs)


@cuda.jit(device=True)
def _tree_sum(red, base, n_latent, p):  # noqa: ANN001, ANN202
    """red[base + m] = Σ_q red[base + q·M + m] over the 32 lanes q (all lanes call; ends synchronised)."""
    half = LANES // 2
    while half > 0:
        if p < half:
            for m in range(n_latent):
                red[base + p * n_latent + m] += red[base + (p + half) * n_latent + m]
        cuda.syncthreads()
        half //= 2


@cuda.jit(device=True)
def _preactivation(UT, dense, sh, zt, e, j, n_latent, repeat):  # noqa: ANN001, ANN202
    """u_j = (U z̃)_j with z̃ at sh[zt:], or z̃_{⌊j/r⌋} for the repeat map."""
    if not dense:
        return sh[zt + j // repeat]
    u = float64(0.0)
    for m in range(n_latent):
        u += UT[e, m, j] * sh[zt + m]
    return u


@cuda.jit(device=True)
def _unit(u, theta_j, lin_j, ramp_j, clip_j):  # noqa: ANN001, ANN202
    """(φ_j(u), φ'_j(u), 1[u + θ_j > 0]) of the unit form: φ = lin u + ramp [u + θ]_+ − clip [u]_+."""
    shifted = u + theta_j > 0.0
    phi = lin_j * u
    slope = lin_j
    if shifted:
        phi += ramp_j * (u + theta_j)
        slope += ramp_j
    if u > 0.0:
        phi -= clip_j * u
        slope -= clip_j
    return phi, slope, shifted


@cuda.jit
def forward(z0, A, V, UT, theta, h, C, B, beta, lin, ramp, clip, s, x, zhat, alpha, n_windows, dense, readout, n_inputs, states, squares):  # noqa: ANN001, ANN201
    """squares[i] += Σ_t ‖r_t‖² (zero on entry) and states[i] for block (window) i."""
    i, p = cuda.blockIdx.x, cuda.threadIdx.x
    e = i // n_windows
    n_latent, hidden, n_steps, n_obs, n_forced = z0.shape[1], theta.shape[1], x.shape[1], x.shape[2], zhat.shape[2]
    repeat = hidden // n_latent
    sh = cuda.shared.array(0, float64)
    ZT, Z, RED = 0, n_latent, 2 * n_latent  # z̃_{t−1}, z_t, lanes' partial sums (32 × M)
    part = cuda.local.array(MAX_LATENT, float64)
    for m in range(p, n_latent, LANES):
        states[i, 0, m] = z0[i, m]
        sh[ZT + m] = z0[i, m]
    cuda.syncthreads()
    total = float64(0.0)
    for t in range(1, n_steps + 1):
        # Lanes over hidden units: φ_j and the partial sums Σ_j V_mj φ_j.
        for m in range(n_latent):
            part[m] = 0.0
        for j in range(p, hidden, LANES):
            u = _preactivation(UT, dense, sh, ZT, e, j, n_latent, repeat)
            phi, _, _ = _unit(u, theta[e, j], lin[j], ramp[j], clip[j])
            for m in range(n_latent):
                part[m] += V[e, m, j] * phi
        for m in range(n_latent):
            sh[RED + p * n_latent + m] = part[m]
        cuda.syncthreads()
        _tree_sum(sh, RED, n_latent, p)
        # Lanes over latent units: z_t = A ⊙ z̃ + V φ + h + C s_t.
        for m in range(p, n_latent, LANES):
            acc = h[e, m] + A[e, m] * sh[ZT + m] + sh[RED + m]
            for k in range(n_inputs):
                acc += C[e, m, k] * s[i, t - 1, k]
            states[i, t, m] = acc
            sh[Z + m] = states[i, t, m]  # rounded to the model's dtype, as the backward pass reads it
        cuda.syncthreads()
        for n in range(p, n_obs, LANES):
            if readout:
                r = beta[e, n] - x[i, t - 1, n]
                for m in range(n_latent):
                    r += B[e, n, m] * sh[Z + m]
            else:
                r = sh[Z + n] - x[i, t - 1, n]
            total += r * r
        a = alpha[t - 1, e]
        for m in range(p, n_latent, LANES):  # z̃_t
            value = sh[Z + m]
            if m < n_forced:
                value = (1.0 - a) * value + a * zhat[i, t - 1, m]
            sh[ZT + m] = value
        cuda.syncthreads()
    if p < n_obs:
        cuda.atomic.add(squares, i, total)


@cuda.jit
def backward(scale, states, A, V, UT, theta, B, beta, lin, ramp, clip, s, x, zhat, alpha, n_windows, dense, readout, n_inputs, gz0, gA, gh, gC, gB, gbeta, gV, gUT, gtheta):  # noqa: ANN001, ANN201
    """The adjoint sweep of block (window) i; ``scale`` (E,) is k_e. Per-window gradients (gz0, gA, gh,
    gC, gB, gβ; (ES, ...)) and the member gradients gV, gUT, gθ are zero on entry."""
    i, p = cuda.blockIdx.x, cuda.threadIdx.x
    e = i // n_windows
    k = scale[e]
    n_latent, hidden, n_steps, n_obs, n_forced = states.shape[2], theta.shape[1], x.shape[1], x.shape[2], zhat.shape[2]
    repeat = hidden // n_latent
    sh = cuda.shared.array(0, float64)
    LAM, DELTA, ZT, KR = 0, n_latent, 2 * n_latent, 3 * n_latent  # λ, δ, z̃_{t−1}, k r_t
    RED = 3 * n_latent + n_obs
    part = cuda.local.array(MAX_LATENT, float64)
    acc_v = cuda.local.array(MAX_ACCUMULATORS, float64)
    acc_u = cuda.local.array(MAX_ACCUMULATORS, float64)
    acc_theta = cuda.local.array(MAX_OWNED, float64)
    owned = (hidden - p + LANES - 1) // LANES if p < hidden else 0
    for q in range(owned * n_latent):
        acc_v[q] = 0.0
        acc_u[q] = 0.0
    for q in range(owned):
        acc_theta[q] = 0.0
    for m in range(p, n_latent, LANES):
        sh[LAM + m] = 0.0  # λ_T = 0
    cuda.syncthreads()
    for t in range(n_steps, 0, -1):
        for n in range(p, n_obs, LANES):  # k r_t
            if readout:
                r = beta[e, n] - x[i, t - 1, n]
                for m in range(n_latent):
                    r += B[e, n, m] * states[i, t, m]
                gbeta[i, n] += k * r
            else:
                r = states[i, t, n] - x[i, t - 1, n]
            sh[KR + n] = k * r
        cuda.syncthreads()
        keep = 1.0 - alpha[t - 1, e]
        for m in range(p, n_latent, LANES):
            # δ_t = P_tᵀ λ_t + k Bᵀ r_t (identity read-out: + k r_t on the first N units)
            d = keep * sh[LAM + m] if m < n_forced else sh[LAM + m]
            if readout:
                for n in range(n_obs):
                    d += B[e, n, m] * sh[KR + n]
                    gB[i, n, m] += sh[KR + n] * states[i, t, m]
            elif m < n_obs:
                d += sh[KR + m]
            sh[DELTA + m] = d
            value = states[i, t - 1, m]  # z̃_{t−1}
            if t > 1 and m < n_forced:
                a = alpha[t - 2, e]
                value = (1.0 - a) * value + a * zhat[i, t - 2, m]
            sh[ZT + m] = value
            gA[i, m] += d * value
            gh[i, m] += d
            for kk in range(n_inputs):
                gC[i, m, kk] += d * s[i, t - 1, kk]
        cuda.syncthreads()
        # Lanes over hidden units: ω_j = (Vᵀ δ)_j, γ_j = φ'_j ω_j, their sums, and the partials of Uᵀ γ.
        for m in range(n_latent):
            part[m] = 0.0
        for q in range(owned):
            j = p + q * LANES
            u = _preactivation(UT, dense, sh, ZT, e, j, n_latent, repeat)
            phi, slope, shifted = _unit(u, theta[e, j], lin[j], ramp[j], clip[j])
            omega = float64(0.0)
            for m in range(n_latent):
                omega += V[e, m, j] * sh[DELTA + m]
                acc_v[q * n_latent + m] += sh[DELTA + m] * phi
            if shifted:
                acc_theta[q] += ramp[j] * omega
            gamma = slope * omega
            if dense:
                for m in range(n_latent):
                    acc_u[q * n_latent + m] += sh[ZT + m] * gamma
                    part[m] += UT[e, m, j] * gamma
            else:
                part[j // repeat] += gamma
        for m in range(n_latent):
            sh[RED + p * n_latent + m] = part[m]
        cuda.syncthreads()
        _tree_sum(sh, RED, n_latent, p)
        for m in range(p, n_latent, LANES):  # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t
            sh[LAM + m] = A[e, m] * sh[DELTA + m] + sh[RED + m]
        cuda.syncthreads()
    for m in range(p, n_latent, LANES):
        gz0[i, m] = sh[LAM + m]
    for q in range(owned):
        j = p + q * LANES
        for m in range(n_latent):
            cuda.atomic.add(gV, (e, m, j), acc_v[q * n_latent + m])
            if dense:
                cuda.atomic.add(gUT, (e, m, j), acc_u[q * n_latent + m])
        cuda.atomic.add(gtheta, (e, j), acc_theta[q])
