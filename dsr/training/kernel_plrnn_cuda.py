"""CUDA forward and backward passes of the forced-rollout loss for the PLRNN family (Numba for CUDA).

The maths is that of the CPU kernel, :mod:`dsr.training.kernel_plrnn`, whose module doc gives the unit
form, the forward recursion and the adjoint recursion (δ_t, ω_t, γ_t, λ_t) with the parameter gradients.
Here one GPU thread runs one window (thread i = e·S + w for member e, window w), so an ensemble of
E members with S windows each runs on E·S threads, and every array is laid out with the thread index
last (consecutive threads touch consecutive addresses):

- ``forward``: squares[i] = Σ_t ‖r_t‖², states[t, :, i] = z̃_0, z_1, ..., z_T (before forcing).
- ``backward``: the adjoint sweep t = T..1 per window; stores δ_t (``delta``), λ_0 = ∂z̃_0, and the
  per-window gradients of A, h, C, B, β (summed over windows by the caller).
- ``unit_gradients``: ∂V, ∂Uᵀ, ∂θ, which are sums over every window and step of products with one
  hidden unit's φ_j, γ_j: one thread per (member, hidden unit j) loops over the member's windows and
  steps, recomputing u_j and φ_j from the stored states. Per-window accumulators for these M·H values
  would cost each thread M·H read-modify-writes per step.

Arrays: params (A (E,M), V (E,M,H), Uᵀ (E,M,H) or (E,M,0), θ (E,H), h (E,M), C (E,M,K), B (E,N,M) or
(E,0,M), β (E,N) or (E,0)); unit (lin, ramp, clip), each (H,); data (s (T,K,ES), x (T,N,ES) targets
x_1..x_T, ẑ (T,D,ES), α (T,E)). ``zt``, ``phi``, ``lam`` are per-thread scratch, (M,ES), (H,ES), (M,ES).
All float arrays share one dtype (float32 or float64); sums over a whole window run in float64.

Speed: on an H100 these kernels lose to the CUDA graph of the autograd path (one clipped shPLRNN,
M = 3, L = 50: 21.4 against 11.3 ms per iteration; E = 4 096: 76 against 60 ms; README, Performance).
Each thread walks its window's steps alone through per-thread scratch in global memory, so every step
waits on memory latency. The trainer uses them where the graph cannot record the step (the affine
observation's pseudo-inverse). A faster design gives each member a block of threads over hidden units
and windows, with z̃, φ and γ in shared memory.
Absent parts are flagged by sizes, not by empty arrays (a zero-size array has no device pointer to
pass): ``dense`` = 0 for the repeat map (Uᵀ unused), ``readout`` = 0 for the identity observation
(B, β unused), ``n_inputs`` = K = 0 without inputs (s, C unused); unused arrays may be placeholders.
"""

from __future__ import annotations

from numba import cuda, float64

MAX_LATENT = 128
"""Largest M for ``unit_gradients``' per-thread accumulators (local arrays need a fixed size)."""


@cuda.jit(device=True)
def _forced_state(states, zhat, alpha, e, t, i, m):  # noqa: ANN001, ANN202
    """z̃_t[m] of thread i from the stored z_t (t = 0: the stored z̃_0)."""
    value = states[t, m, i]
    if t > 0 and m < zhat.shape[1]:
        a = alpha[t - 1, e]
        value = (1.0 - a) * value + a * zhat[t - 1, m, i]
    return value


@cuda.jit(device=True)
def _preactivation(UT, dense, zt, e, j, i, repeat):  # noqa: ANN001, ANN202
    """u_j = (U z̃)_j from the scratch z̃ (M, ES), or z̃_{⌊j/r⌋} for the repeat map."""
    if not dense:
        return zt[j // repeat, i]
    u = 0.0
    for m in range(zt.shape[0]):
        u += UT[e, m, j] * zt[m, i]
    return u


@cuda.jit(device=True)
def _residual(states, readout, B, beta, x, e, t, n, i):  # noqa: ANN001, ANN202
    """r_t[n] = x̂_t[n] − x_t[n]: x̂ = B z_t + β, or z_t[n] for the identity read-out."""
    if not readout:
        return states[t, n, i] - x[t - 1, n, i]
    r = beta[e, n] - x[t - 1, n, i]
    for m in range(states.shape[1]):
        r += B[e, n, m] * states[t, m, i]
    return r


@cuda.jit
def forward(z0, A, V, UT, theta, h, C, B, beta, lin, ramp, clip, s, x, zhat, alpha, n_windows, dense, readout, n_inputs, zt, phi, states, squares):  # noqa: ANN001, ANN201
    i = cuda.grid(1)
    if i >= squares.shape[0]:
        return
    e = i // n_windows
    n_latent, hidden, n_steps = z0.shape[0], theta.shape[1], x.shape[0]
    repeat = hidden // n_latent
    for m in range(n_latent):
        states[0, m, i] = z0[m, i]
    total = float64(0.0)
    for t in range(1, n_steps + 1):
        for m in range(n_latent):
            zt[m, i] = _forced_state(states, zhat, alpha, e, t - 1, i, m)
        for j in range(hidden):
            u = _preactivation(UT, dense, zt, e, j, i, repeat)
            phi[j, i] = lin[j] * u + ramp[j] * max(u + theta[e, j], 0.0) - clip[j] * max(u, 0.0)
        for m in range(n_latent):
            acc = h[e, m] + A[e, m] * zt[m, i]
            for j in range(hidden):
                acc += V[e, m, j] * phi[j, i]
            for k in range(n_inputs):
                acc += C[e, m, k] * s[t - 1, k, i]
            states[t, m, i] = acc
        for n in range(x.shape[1]):
            r = _residual(states, readout, B, beta, x, e, t, n, i)
            total += r * r
    squares[i] = total


@cuda.jit
def backward(scale, states, A, V, UT, theta, B, beta, lin, ramp, clip, s, x, zhat, alpha, n_windows, dense, readout, n_inputs, zt, lam, delta, gA, gh, gC, gB, gbeta):  # noqa: ANN001, ANN201
    """The adjoint sweep; ``scale`` (E,) is k_e; ``lam`` ends as λ_0; per-window gradients zero on entry."""
    i = cuda.grid(1)
    if i >= lam.shape[1]:
        return
    e = i // n_windows
    k = scale[e]
    n_latent, hidden, n_steps, n_forced = lam.shape[0], theta.shape[1], x.shape[0], zhat.shape[1]
    repeat = hidden // n_latent
    for m in range(n_latent):
        lam[m, i] = 0.0
    for t in range(n_steps, 0, -1):
        # δ_t = P_tᵀ λ_t + k Bᵀ r_t
        keep = 1.0 - alpha[t - 1, e]
        for m in range(n_latent):
            delta[t - 1, m, i] = keep * lam[m, i] if m < n_forced else lam[m, i]
        for n in range(x.shape[1]):
            kr = k * _residual(states, readout, B, beta, x, e, t, n, i)
            if not readout:
                delta[t - 1, n, i] += kr
            else:
                gbeta[n, i] += kr
                for m in range(n_latent):
                    delta[t - 1, m, i] += B[e, n, m] * kr
                    gB[n, m, i] += kr * states[t, m, i]
        for m in range(n_latent):
            zt[m, i] = _forced_state(states, zhat, alpha, e, t - 1, i, m)
            d = delta[t - 1, m, i]
            gA[m, i] += d * zt[m, i]
            gh[m, i] += d
            for kk in range(n_inputs):
                gC[m, kk, i] += d * s[t - 1, kk, i]
            lam[m, i] = A[e, m] * d  # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t, the second term added below
        for j in range(hidden):
            u = _preactivation(UT, dense, zt, e, j, i, repeat)
            omega = 0.0
            for m in range(n_latent):
                omega += V[e, m, j] * delta[t - 1, m, i]
            slope = lin[j]
            if u + theta[e, j] > 0.0:
                slope += ramp[j]
            if u > 0.0:
                slope -= clip[j]
            gamma = slope * omega
            if not dense:
                lam[j // repeat, i] += gamma
            else:
                for m in range(n_latent):
                    lam[m, i] += UT[e, m, j] * gamma


@cuda.jit
def unit_gradients(states, delta, V, UT, theta, lin, ramp, clip, zhat, alpha, n_windows, dense, gV, gUT, gtheta):  # noqa: ANN001, ANN201
    """Thread (e, j): ∂V[:, j] = Σ δ_t φ_j, ∂Uᵀ[:, j] = Σ z̃_{t−1} γ_j, ∂θ_j = Σ ramp_j 1[u_j + θ_j > 0] ω_j over e's windows and steps."""
    item = cuda.grid(1)
    hidden = theta.shape[1]
    if item >= gtheta.shape[0] * hidden:
        return
    e, j = item // hidden, item % hidden
    n_latent, n_steps = states.shape[1], delta.shape[0]
    repeat = hidden // n_latent
    acc_v = cuda.local.array(MAX_LATENT, float64)
    acc_u = cuda.local.array(MAX_LATENT, float64)
    for m in range(n_latent):
        acc_v[m] = 0.0
        acc_u[m] = 0.0
    acc_theta = float64(0.0)
    for w in range(n_windows):
        i = e * n_windows + w
        for t in range(1, n_steps + 1):
            if dense:
                u = 0.0
                for m in range(n_latent):
                    u += UT[e, m, j] * _forced_state(states, zhat, alpha, e, t - 1, i, m)
            else:
                u = _forced_state(states, zhat, alpha, e, t - 1, i, j // repeat)
            shifted = u + theta[e, j] > 0.0
            phi = lin[j] * u + (ramp[j] * (u + theta[e, j]) if shifted else 0.0) - (clip[j] * u if u > 0.0 else 0.0)
            omega = 0.0
            for m in range(n_latent):
                d = delta[t - 1, m, i]
                omega += V[e, m, j] * d
                acc_v[m] += d * phi
            slope = lin[j] + (ramp[j] if shifted else 0.0) - (clip[j] if u > 0.0 else 0.0)
            if shifted:
                acc_theta += ramp[j] * omega
            if dense:
                gamma = slope * omega
                for m in range(n_latent):
                    acc_u[m] += _forced_state(states, zhat, alpha, e, t - 1, i, m) * gamma
    for m in range(n_latent):
        gV[e, m, j] = acc_v[m]
        if dense:
            gUT[e, m, j] = acc_u[m]
    gtheta[e, j] = acc_theta
