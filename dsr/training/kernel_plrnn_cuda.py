"""CUDA forward and adjoint passes of the forced-rollout loss for the PLRNN family (Numba for CUDA).

The maths is that of the CPU kernel, :mod:`dsr.training.kernel_plrnn`, whose module doc gives the unit
form z_t = A ⊙ z̃_{t−1} + V φ(U z̃_{t−1}) + h + C s_t, the forward recursion and the adjoint recursion
(δ_t, ω_t, γ_t, λ_t) with the parameter gradients. Here one GPU thread runs one window through all its
steps (thread i = e·S + w for member e, window w), its state in thread-local arrays; threads share
nothing and never wait for each other.

The kernels do only what is sequential in time. The parameter gradients are sums over windows and
steps of outer products, which the caller forms afterwards as batched matrix products over the
sequences the adjoint kernel writes (:class:`dsr.training.fused_cuda.CudaLoss`):

    ∂A = Σ δ ⊙ z̃,  ∂h = Σ δ,  ∂C = Σ δ sᵀ,  ∂V = Σ δ φᵀ,  ∂Uᵀ = Σ z̃ γᵀ,  ∂θ = ramp ⊙ Σ ψ,  ∂B = Σ k r zᵀ,  ∂β = Σ k r,

with ψ_j = ω_j 1[u_j + θ_j > 0], and the sums over t = 1..T̃ and the member's windows. (An earlier
design accumulated these sums per thread in global memory and took 21–26 ms per iteration for one
model on an H100; one warp per window with shared-memory reductions 5.3–5.6 ms, and 108–229 ms at
E = 4 096, where the card runs only about 4 200 such warps at once.)

Layout: every per-step sequence is (E, D, T, S), windows last, so that the threads of a warp (consecutive
windows) read and write consecutive addresses and the sums above are ``bmm`` over the last two axes
flattened. Arrays: params A (E,M), V (E,M,H), Uᵀ (E,M,H), θ (E,H), h (E,M), C (E,M,K), B (E,N,M),
β (E,N); unit (lin, ramp, clip), each (H,); data s (E,K,T,S), x (E,N,T,S) = targets x_1..x_T,
ẑ (E,D,T,S), α (T,E); z̃_0 (E,M,S); states (E,M,T+1,S) = z̃_0, z_1, ..., z_T (before forcing).
Absent parts are flagged by sizes, not by empty arrays (a zero-size array has no device pointer to
pass): ``dense`` = 0 for the repeat map (Uᵀ unused, γ not written), ``readout`` = 0 for the identity
observation (B, β unused), ``n_inputs`` = K = 0 without inputs (s, C unused), ``theta_grad`` = 0 where
θ is a constant (ψ not written); unused arrays are one-element stand-ins of the right rank. The arrays
share one dtype (float32 or float64); the threads compute in float64. Limits: M, N ≤ ``MAX_LATENT``,
H ≤ ``MAX_HIDDEN`` (:func:`unsupported`).

Checks without a GPU (``tests/test_kernels.py``): Numba's CUDA simulator runs the kernels as Python
against autograd, untyped; ``cuda.compile_ptx`` with NVVM from pip's ``nvidia-cuda-nvcc-cu12`` (in the
test extra) types and compiles them for the argument types ``CudaLoss`` passes.
"""

from __future__ import annotations

from numba import cuda, float64

THREADS = 128
"""Threads (windows) per block."""
MAX_LATENT = 128
MAX_HIDDEN = 512


def unsupported(n_latent: int, n_obs: int, hidden: int) -> str | None:
    """Why these kernels cannot take a model of M latent units, N observations and H hidden units (one line), or None."""
    if max(n_latent, n_obs) > MAX_LATENT or hidden > MAX_HIDDEN:
        return (
            f"the CUDA kernels hold at most {MAX_LATENT} latent units and observations and {MAX_HIDDEN} hidden units "
            f"(M = {n_latent}, N = {n_obs}, H = {hidden})"
        )
    return None


@cuda.jit(device=True)
def _preactivation(UT, dense, zt, e, j, n_latent, repeat):  # noqa: ANN001, ANN202
    """u_j = (U z̃)_j, or z̃_{⌊j/r⌋} for the repeat map."""
    if not dense:
        return zt[j // repeat]
    u = float64(0.0)
    for m in range(n_latent):
        u += UT[e, m, j] * zt[m]
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


@cuda.jit(device=True)
def _residual(B, beta, x, z, e, n, t, w, readout):  # noqa: ANN001, ANN202
    """r_n = (B z_t + β)_n − x_{t,n}, or z_{t,n} − x_{t,n} for the identity read-out; z = z_t (local)."""
    if readout:
        r = beta[e, n] - x[e, n, t - 1, w]
        for m in range(B.shape[2]):
            r += B[e, n, m] * z[m]
        return r
    return z[n] - x[e, n, t - 1, w]


@cuda.jit
def forward(z0, A, V, UT, theta, h, C, B, beta, lin, ramp, clip, s, x, zhat, alpha, dense, readout, n_inputs, states, squares):  # noqa: ANN001, ANN201
    """squares[e, w] = Σ_t ‖r_t‖² and states[e, :, :, w] of thread (window) i = e·S + w."""
    i = cuda.grid(1)
    n_members, n_latent, n_windows = z0.shape
    if i >= n_members * n_windows:
        return
    e, w = i // n_windows, i % n_windows
    hidden, n_steps, n_obs, n_forced = theta.shape[1], x.shape[2], x.shape[1], zhat.shape[1]
    repeat = hidden // n_latent
    zt = cuda.local.array(MAX_LATENT, float64)  # z̃_{t−1}
    z = cuda.local.array(MAX_LATENT, float64)  # z_t
    phi = cuda.local.array(MAX_HIDDEN, float64)  # φ(U z̃_{t−1})
    for m in range(n_latent):
        states[e, m, 0, w] = z0[e, m, w]
        zt[m] = z0[e, m, w]
    total = float64(0.0)
    for t in range(1, n_steps + 1):
        # Each sum is accumulated in a register and each thread-local array entry written once: a sum
        # accumulated in a thread-local array would wait for memory at every term.
        for j in range(hidden):
            u = _preactivation(UT, dense, zt, e, j, n_latent, repeat)
            phi[j] = _unit(u, theta[e, j], lin[j], ramp[j], clip[j])[0]
        for m in range(n_latent):
            acc = h[e, m] + A[e, m] * zt[m]
            for k in range(n_inputs):
                acc += C[e, m, k] * s[e, k, t - 1, w]
            for j in range(hidden):
                acc += V[e, m, j] * phi[j]
            states[e, m, t, w] = acc
            z[m] = states[e, m, t, w]  # rounded to the model's dtype, as the adjoint pass reads it
        for n in range(n_obs):
            r = _residual(B, beta, x, z, e, n, t, w, readout)
            total += r * r
        a = alpha[t - 1, e]
        for m in range(n_latent):  # z̃_t
            zt[m] = (1.0 - a) * z[m] + a * zhat[e, m, t - 1, w] if m < n_forced else z[m]
    squares[e, w] = total


@cuda.jit
def backward(scale, states, A, V, UT, theta, B, beta, lin, ramp, clip, x, zhat, alpha, dense, readout, theta_grad, kr_seq, delta_seq, zt_seq, phi_seq, gamma_seq, psi_seq, gz0):  # noqa: ANN001, ANN201
    """The adjoint sweep of thread (window) i = e·S + w with k_e = ``scale[e]``: writes k r_t, δ_t, z̃_{t−1},
    φ_t, γ_t (if ``dense``) and ψ_t (if ``theta_grad``) at [e, :, t−1, w], and λ_0 to gz0[e, :, w]."""
    i = cuda.grid(1)
    n_members, n_latent, n_windows = gz0.shape
    if i >= n_members * n_windows:
        return
    e, w = i // n_windows, i % n_windows
    k = scale[e]
    hidden, n_steps, n_obs, n_forced = theta.shape[1], x.shape[2], x.shape[1], zhat.shape[1]
    repeat = hidden // n_latent
    lam = cuda.local.array(MAX_LATENT, float64)  # λ_t, then λ_{t−1}
    delta = cuda.local.array(MAX_LATENT, float64)
    zt = cuda.local.array(MAX_LATENT, float64)  # z̃_{t−1}
    z = cuda.local.array(MAX_LATENT, float64)  # z_t
    kr = cuda.local.array(MAX_LATENT, float64)
    gamma = cuda.local.array(MAX_HIDDEN, float64)
    for m in range(n_latent):
        lam[m] = 0.0  # λ_T = 0
    for t in range(n_steps, 0, -1):
        for m in range(n_latent):
            z[m] = states[e, m, t, w]
        for n in range(n_obs):
            kr[n] = k * _residual(B, beta, x, z, e, n, t, w, readout)
            kr_seq[e, n, t - 1, w] = kr[n]
        keep = 1.0 - alpha[t - 1, e]
        for m in range(n_latent):
            # δ_t = P_tᵀ λ_t + k Bᵀ r_t (identity read-out: + k r_t on the first N units)
            d = keep * lam[m] if m < n_forced else lam[m]
            if readout:
                for n in range(n_obs):
                    d += B[e, n, m] * kr[n]
            elif m < n_obs:
                d += kr[m]
            delta[m] = d
            delta_seq[e, m, t - 1, w] = d
            value = states[e, m, t - 1, w]
            if t > 1 and m < n_forced:
                a = alpha[t - 2, e]
                value = (1.0 - a) * value + a * zhat[e, m, t - 2, w]
            zt[m] = value
            zt_seq[e, m, t - 1, w] = value
        for j in range(hidden):
            u = _preactivation(UT, dense, zt, e, j, n_latent, repeat)
            phi, slope, shifted = _unit(u, theta[e, j], lin[j], ramp[j], clip[j])
            omega = float64(0.0)  # ω_j = (Vᵀ δ_t)_j
            for m in range(n_latent):
                omega += V[e, m, j] * delta[m]
            gamma[j] = slope * omega
            phi_seq[e, j, t - 1, w] = phi
            if theta_grad:
                psi_seq[e, j, t - 1, w] = omega if shifted else 0.0
            if dense:
                gamma_seq[e, j, t - 1, w] = gamma[j]
        for m in range(n_latent):  # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t
            acc = A[e, m] * delta[m]
            if dense:
                for j in range(hidden):
                    acc += UT[e, m, j] * gamma[j]
            else:
                for j in range(m * repeat, (m + 1) * repeat):
                    acc += gamma[j]
            lam[m] = acc
    for m in range(n_latent):
        gz0[e, m, w] = lam[m]
