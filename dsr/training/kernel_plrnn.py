"""Numba forward and backward passes of the forced-rollout loss, one kernel for the PLRNN family (CPU).

Every kind is written in one *unit form* (``dsr.training.fused`` maps each kind onto it):

    u_t = U z̃_{t−1}                  U dense (passed as Uᵀ, M×H), or the repeat map u_j = z̃_{⌊j/r⌋}, r = H/M
    φ_j(u) = lin_j u_j + ramp_j [u_j + θ_j]_+ − clip_j [u_j]_+       (lin, ramp, clip fixed per kind)
    z_t = A ⊙ z̃_{t−1} + V φ(u_t) + h + C s_t
    r_t = x̂_t − x_t,  x̂_t = B z_t + β   (identity observation: x̂_t = z_t[:N])
    z̃_t = (1 − α_t) z_t + α_t ẑ_t on the forced units i < D, z̃_t = z_t on the others,

for t = 1..T of every window w and member e, starting from the given z̃_0. The forward pass gives
Σ_t ‖r_t‖² per window; the caller forms the loss ℓ_e = Σ_w Σ_t ‖r_t‖² / (S T N).

The backward pass is the adjoint recursion of that loop. With λ_T = 0 (z̃_T feeds nothing) and
k_e = 2 ḡ_e / (S T N), ḡ_e the incoming gradient of ℓ_e, for t = T..1:

    δ_t = ∂/∂z_t = P_tᵀ λ_t + k_e Bᵀ r_t        P_tᵀ λ: (1 − α_t) λ_i for i < D, λ_i otherwise
    ω_t = Vᵀ δ_t,   γ_t = φ'(u_t) ⊙ ω_t,     φ'_j = lin_j + ramp_j 1[u_j + θ_j > 0] − clip_j 1[u_j > 0]
    λ_{t−1} = ∂/∂z̃_{t−1} = A ⊙ δ_t + Uᵀ γ_t

and the parameter gradients are the sums over t (and the caller sums over windows)

    ∂A = Σ δ_t ⊙ z̃_{t−1}   ∂h = Σ δ_t   ∂V = Σ δ_t φ(u_t)ᵀ   ∂Uᵀ = Σ z̃_{t−1} γ_tᵀ
    ∂θ_j = Σ ramp_j 1[u_j + θ_j > 0] ω_j   ∂C = Σ δ_t s_tᵀ   ∂B = Σ k_e r_t z_tᵀ   ∂β = Σ k_e r_t   ∂z̃_0 = λ_0.

The forcing signals ẑ are data (no gradient), as in the autograd reference.

Arrays (all float64 or all float32, C-contiguous, so each kernel compiles once per dtype). The passes
work on *chunks* of L = ``lanes(dtype)`` windows of one member (8 float64 or 16 float32), the windows
in the last axis (``dsr.training.lanes``), so that every operation advances L windows with one SIMD
instruction; chunk c belongs to member
e = c // (chunks per member). ``params`` = (A (E,M), V (E,M,H), Uᵀ (E,M,H) or (E,M,0), θ (E,H),
h (E,M), C (E,M,K), B (E,N,M) or (E,0,M), β (E,N) or (E,0)), indexed by member; ``unit`` = (lin,
ramp, clip), each (H,); ``data`` = (s (C,T,K,L), x (C,T,N,L) targets x_1..x_T, ẑ (C,T,D,L), α (T,E)),
indexed by chunk. Windows that only pad the last chunk of a member get weight 0 in the
backward pass (``scale``); their squares are dropped by the caller. Both passes work on a range of
chunks and release the GIL, so callers run ranges on parallel threads; each chunk writes only its own
outputs, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dsr.training.lanes import add, fma, load, mul, relu, splat, step, store, sub

# Reassociation lets LLVM reorder sums; additions then happen in another order than in torch
# (relative differences of the order of the dtype's rounding). No 'nnan'/'ninf': a NaN must reach
# the loss so that the trainer sees the divergence.
_FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FAST, inline="always")
def _unit_outputs(UT: np.ndarray, theta: np.ndarray, unit: tuple, zt: np.ndarray, u: np.ndarray, phi: np.ndarray) -> None:
    """u = U z̃ (or the repeat map u_j = z̃_{⌊j/r⌋} when Uᵀ has no columns) and φ(u) of the unit form, per lane."""
    lin, ramp, clip = unit
    hidden, n_latent = theta.shape[0], zt.shape[0]
    repeat = hidden // n_latent
    for j in range(hidden):
        if UT.shape[1] == 0:
            uj = load(zt, j // repeat)
        else:
            uj = mul(UT[0, j], load(zt, 0))
            for i in range(1, n_latent):
                uj = fma(uj, UT[i, j], load(zt, i))
        store(u, j, uj)
        store(phi, j, sub(fma(mul(lin[j], uj), ramp[j], relu(add(uj, theta[j]))), mul(clip[j], relu(uj))))


@njit(cache=True, fastmath=_FAST, inline="always")
def _residuals(states: np.ndarray, c: int, t: int, B: np.ndarray, beta: np.ndarray, x: np.ndarray, r: np.ndarray) -> None:
    """r = x̂_t − x_t of chunk c, (N, L): x̂_t = B z_t + β, or the first N units of z_t when B has no rows.

    ``states[c]`` holds z̃_0, z_1, ..., z_T; ``x[c]`` the targets x_1..x_T. One call per step, not per
    unit: each call passes its arrays, which costs reference-count updates.
    """
    for i in range(r.shape[0]):
        if B.shape[0] == 0:
            r_i = sub(load(states, (c, t, i)), load(x, (c, t - 1, i)))
        else:
            r_i = sub(beta[i], load(x, (c, t - 1, i)))
            for m in range(states.shape[2]):
                r_i = fma(r_i, B[i, m], load(states, (c, t, m)))
        store(r, i, r_i)


@njit(cache=True, fastmath=_FAST, inline="always")
def _forced_state(
    states: np.ndarray, c: int, t: int, zhat: np.ndarray, alpha: np.ndarray, e: int, out: np.ndarray
) -> None:
    """out = z̃_t of chunk c (member e) from the stored z_t (t = 0: the stored z̃_0).

    ``zhat[c]`` holds ẑ_1..ẑ_T and ``alpha[t − 1, e]`` is α_t.
    """
    a_t = alpha[t - 1, e] if t > 0 else 0.0
    for m in range(out.shape[0]):
        out_m = load(states, (c, t, m))
        if t > 0 and m < zhat.shape[2]:
            out_m = fma(mul(1.0 - a_t, out_m), a_t, load(zhat, (c, t - 1, m)))
        store(out, m, out_m)


@njit(cache=True, nogil=True, fastmath=_FAST)
def forward(
    lo: int, hi: int, per_member: int, z0: np.ndarray, params: tuple, unit: tuple, data: tuple,
    squares: np.ndarray, states: np.ndarray,
) -> None:
    """Chunks lo..hi−1: squares[c, l] = Σ_t ‖r_t‖² of window l, states[c] = z̃_0, z_1, ..., z_T (before forcing).

    ``z0`` (C, M, L) holds the z̃_0; ``squares`` (C, L) and ``states`` (C, T+1, M, L) are filled in place.
    """
    A, V, UT, theta, h, C, B, beta = params
    s, x, zhat, alpha = data
    n_latent, n_steps, n_obs, n_inputs = z0.shape[1], x.shape[1], x.shape[2], s.shape[2]
    hidden = theta.shape[1]
    width, dtype = states.shape[-1], states.dtype
    zt, r = np.empty((n_latent, width), dtype), np.empty((n_obs, width), dtype)
    u, phi = np.empty((hidden, width), dtype), np.empty((hidden, width), dtype)
    for c in range(lo, hi):
        e = c // per_member
        # Per-member views once per chunk: a view per step costs reference-count updates.
        Ae, Ve, UTe, thetae, he, Ce, Be, betae = A[e], V[e], UT[e], theta[e], h[e], C[e], B[e], beta[e]
        for m in range(n_latent):
            store(states, (c, 0, m), load(z0, (c, m)))
        total = splat(states, 0.0)
        for t in range(1, n_steps + 1):
            _forced_state(states, c, t - 1, zhat, alpha, e, zt)
            _unit_outputs(UTe, thetae, unit, zt, u, phi)
            for m in range(n_latent):
                acc = fma(he[m], Ae[m], load(zt, m))
                for j in range(hidden):
                    acc = fma(acc, Ve[m, j], load(phi, j))
                for k in range(n_inputs):
                    acc = fma(acc, Ce[m, k], load(s, (c, t - 1, k)))
                store(states, (c, t, m), acc)
            _residuals(states, c, t, Be, betae, x, r)
            for i in range(n_obs):
                total = fma(total, load(r, i), load(r, i))
        store(squares, c, total)


@njit(cache=True, fastmath=_FAST)
def _add_lane_sums(lanes: np.ndarray, out: np.ndarray) -> None:
    """out += the sum over the last axis of ``lanes`` (both flattened to matching rows)."""
    if out.size == 0:
        return
    width = lanes.shape[-1]
    flat_lanes, flat_out = lanes.reshape(-1, width), out.reshape(-1)
    for q in range(flat_out.shape[0]):
        total = 0.0
        for lane in range(width):
            total += flat_lanes[q, lane]
        flat_out[q] += total


@njit(cache=True, nogil=True, fastmath=_FAST)
def backward(
    lo: int, hi: int, per_member: int, scale: np.ndarray, states: np.ndarray, params: tuple, unit: tuple, data: tuple,
    grads: tuple,
) -> None:
    """Chunks lo..hi−1: per-chunk gradients added into ``grads`` (zeros on entry).

    ``grads`` holds one (C, *shape) array per array in ``params`` (same order; the caller sums the
    chunks of each member), then ∂z̃_0 (C, M, L); ``scale`` (C, L) is k_e of the module doc per window
    (0 for padding); ``states`` is what ``forward`` stored.
    """
    A, V, UT, theta, h, C, B, beta = params
    lin, ramp, clip = unit
    s, x, zhat, alpha = data
    n_stored, n_latent = states.shape[1], states.shape[2]
    hidden, n_obs, n_forced, n_inputs = theta.shape[1], x.shape[2], zhat.shape[2], s.shape[2]
    dense = UT.shape[2] > 0
    repeat = hidden // n_latent
    width, dtype = states.shape[-1], states.dtype
    lam, delta, zt = np.empty((n_latent, width), dtype), np.empty((n_latent, width), dtype), np.empty((n_latent, width), dtype)
    u, phi, gamma = np.empty((hidden, width), dtype), np.empty((hidden, width), dtype), np.empty((hidden, width), dtype)
    r = np.empty((n_obs, width), dtype)
    # Gradients per lane, summed over the lanes once per chunk: every update is then one vector operation.
    gA, gh, gtheta = np.empty((n_latent, width), dtype), np.empty((n_latent, width), dtype), np.empty((hidden, width), dtype)
    gV, gUT = np.empty((n_latent, hidden, width), dtype), np.empty((n_latent, UT.shape[2], width), dtype)
    gC, gbeta = np.empty((n_latent, n_inputs, width), dtype), np.empty((beta.shape[1], width), dtype)
    gB = np.empty((B.shape[1], n_latent, width), dtype)
    for c in range(lo, hi):
        e = c // per_member
        k = load(scale, c)
        Ae, Ve, UTe, thetae, Be, betae = A[e], V[e], UT[e], theta[e], B[e], beta[e]
        gA[...], gV[...], gUT[...], gtheta[...] = 0.0, 0.0, 0.0, 0.0
        gh[...], gC[...], gB[...], gbeta[...] = 0.0, 0.0, 0.0, 0.0
        lam[...] = 0.0
        for t in range(n_stored - 1, 0, -1):
            # δ_t = P_tᵀ λ_t + k Bᵀ r_t
            keep = 1.0 - alpha[t - 1, e]
            for m in range(n_latent):
                store(delta, m, mul(keep, load(lam, m)) if m < n_forced else load(lam, m))
            _residuals(states, c, t, Be, betae, x, r)
            for i in range(n_obs):
                kr = mul(k, load(r, i))
                if Be.shape[0] == 0:
                    store(delta, i, add(load(delta, i), kr))
                else:
                    store(gbeta, i, add(load(gbeta, i), kr))
                    for m in range(n_latent):
                        store(delta, m, fma(load(delta, m), Be[i, m], kr))
                        store(gB, (i, m), fma(load(gB, (i, m)), kr, load(states, (c, t, m))))
            # Recompute u_t and φ(u_t) from z̃_{t−1} (cheaper than storing H values per step).
            _forced_state(states, c, t - 1, zhat, alpha, e, zt)
            _unit_outputs(UTe, thetae, unit, zt, u, phi)
            for m in range(n_latent):
                delta_m = load(delta, m)
                store(gA, m, fma(load(gA, m), delta_m, load(zt, m)))
                store(gh, m, add(load(gh, m), delta_m))
                for kk in range(n_inputs):
                    store(gC, (m, kk), fma(load(gC, (m, kk)), delta_m, load(s, (c, t - 1, kk))))
                for j in range(hidden):
                    store(gV, (m, j), fma(load(gV, (m, j)), delta_m, load(phi, j)))
            # γ = φ'(u) ⊙ ω with ω = Vᵀ δ; θ takes the share of the shifted ramps.
            for j in range(hidden):
                omega = mul(Ve[0, j], load(delta, 0))
                for m in range(1, n_latent):
                    omega = fma(omega, Ve[m, j], load(delta, m))
                uj = load(u, j)
                shifted = mul(mul(ramp[j], step(add(uj, thetae[j]))), omega)
                store(gtheta, j, add(load(gtheta, j), shifted))
                store(gamma, j, sub(fma(shifted, lin[j], omega), mul(mul(clip[j], step(uj)), omega)))
            # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t
            for i in range(n_latent):
                lam_i = mul(Ae[i], load(delta, i))
                if dense:
                    zt_i = load(zt, i)
                    for j in range(hidden):
                        gamma_j = load(gamma, j)
                        lam_i = fma(lam_i, UTe[i, j], gamma_j)
                        store(gUT, (i, j), fma(load(gUT, (i, j)), zt_i, gamma_j))
                else:
                    for b in range(repeat):
                        lam_i = add(lam_i, load(gamma, i * repeat + b))
                store(lam, i, lam_i)
        _add_lane_sums(gA, grads[0][c])
        _add_lane_sums(gV, grads[1][c])
        _add_lane_sums(gUT, grads[2][c])
        _add_lane_sums(gtheta, grads[3][c])
        _add_lane_sums(gh, grads[4][c])
        _add_lane_sums(gC, grads[5][c])
        _add_lane_sums(gB, grads[6][c])
        _add_lane_sums(gbeta, grads[7][c])
        grads[8][c] = lam


@njit(cache=True, fastmath=_FAST)
def _largest_eigenvalue_3(g: np.ndarray) -> float:
    """λ_max of a symmetric positive semidefinite matrix of size ≤ 3, in closed form.

    Size 1 and 2 directly; size 3 by the trigonometric solution of the characteristic cubic
    (O. K. Smith, Commun. ACM 4, 168 (1961)), as ``dsr.training.forcing.spectral_norms``.
    """
    m = g.shape[0]
    if m == 1:
        return g[0, 0]
    if m == 2:
        half = 0.5 * (g[0, 0] - g[1, 1])
        return 0.5 * (g[0, 0] + g[1, 1]) + np.sqrt(half * half + g[0, 1] * g[0, 1])
    a, b, c, d, e, f = g[0, 0], g[1, 1], g[2, 2], g[0, 1], g[0, 2], g[1, 2]
    q = (a + b + c) / 3.0
    p = np.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2.0 * (d * d + e * e + f * f)) / 6.0)
    if p == 0.0:
        return q
    a, b, c, d, e, f = (a - q) / p, (b - q) / p, (c - q) / p, d / p, e / p, f / p
    r = 0.5 * (a * (b * c - f * f) - d * (d * c - f * e) + e * (d * f - b * e))
    return q + 2.0 * p * np.cos(np.arccos(min(1.0, max(-1.0, r))) / 3.0)


@njit(cache=True, nogil=True, fastmath=_FAST)
def jacobian_log_norms(lo: int, hi: int, zhat: np.ndarray, params: tuple, unit: tuple, out: np.ndarray) -> None:
    """out[e, w] = (1/T) Σ_t log ‖J_e(ẑ_t)‖₂ over the states ẑ (E, S, T, M) of windows lo..hi−1 (flat e·S + w).

    J = diag(A) + V diag(φ'(U ẑ)) U, the Jacobian of the unit form (module doc) at ẑ; ‖J‖₂ =
    √λ_max(JᵀJ), in closed form for M ≤ 3, else by LAPACK's symmetric eigensolver. The log-mean is
    the per-window factor of aGTF's product bound (``dsr.training.forcing.alpha_estimate``).
    """
    A, V, UT, theta = params[0], params[1], params[2], params[3]
    lin, ramp, clip = unit
    n_windows, n_steps, n_latent = zhat.shape[1], zhat.shape[2], zhat.shape[3]
    hidden = theta.shape[1]
    repeat = hidden // n_latent
    u, slope = np.empty(hidden), np.empty(hidden)
    jac, gram = np.empty((n_latent, n_latent)), np.empty((n_latent, n_latent))
    for item in range(lo, hi):
        e, w = item // n_windows, item % n_windows
        Ae, Ve, UTe, thetae = A[e], V[e], UT[e], theta[e]
        total = 0.0
        for t in range(n_steps):
            for j in range(hidden):  # u = U ẑ_t, or the repeat map
                if UTe.shape[1] == 0:
                    u[j] = zhat[e, w, t, j // repeat]
                else:
                    u[j] = 0.0
                    for i in range(n_latent):
                        u[j] += UTe[i, j] * zhat[e, w, t, i]
            for j in range(hidden):
                slope[j] = lin[j] + (ramp[j] if u[j] + thetae[j] > 0.0 else 0.0) - (clip[j] if u[j] > 0.0 else 0.0)
            # J[i, k] = A_i δ_ik + Σ_j V_ij slope_j U_jk, with U = (Uᵀ)ᵀ or the repeat map.
            for i in range(n_latent):
                for k in range(n_latent):
                    acc = Ae[i] if i == k else 0.0
                    if UTe.shape[1] == 0:
                        for b in range(repeat):
                            acc += Ve[i, k * repeat + b] * slope[k * repeat + b]
                    else:
                        for j in range(hidden):
                            acc += Ve[i, j] * slope[j] * UTe[k, j]
                    jac[i, k] = acc
            for i in range(n_latent):
                for k in range(n_latent):
                    acc = 0.0
                    for m in range(n_latent):
                        acc += jac[m, i] * jac[m, k]
                    gram[i, k] = acc
            largest = _largest_eigenvalue_3(gram) if n_latent <= 3 else np.linalg.eigvalsh(gram)[-1]
            total += np.log(max(np.sqrt(max(largest, 0.0)), 1e-300))  # norms clamped as in the torch path
        out[e, w] = total / n_steps
