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

from dsr.training.lanes import add, columns, div, dot, fma, load, mul, relu, splat, step, store, sub

# Reassociation lets LLVM reorder sums; additions then happen in another order than in torch
# (relative differences of the order of the dtype's rounding). No 'nnan'/'ninf': a NaN must reach
# the loss so that the trainer sees the divergence.
_FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FAST, inline="always")
def _preactivations(UT: np.ndarray, zt: np.ndarray, u: np.ndarray) -> None:
    """u = U z (H, L) per lane, from Uᵀ (M, H), or the repeat map u_j = z_{⌊j/r⌋} when Uᵀ has no columns."""
    hidden, n_latent = u.shape[0], zt.shape[0]
    if UT.shape[1] == 0:
        repeat = hidden // n_latent
        for j in range(hidden):
            store(u, j, load(zt, j // repeat))
    else:
        columns(UT, zt, u)


@njit(cache=True, fastmath=_FAST, inline="always")
def phi(lin: float, ramp: float, clip: float, theta: float, u):
    """φ_j(u) = lin_j u + ramp_j [u + θ_j]_+ − clip_j [u]_+ of the unit form, per lane."""
    return sub(fma(mul(lin, u), ramp, relu(add(u, theta))), mul(clip, relu(u)))


@njit(cache=True, fastmath=_FAST, inline="always")
def phi_slope(lin: float, ramp: float, clip: float, theta: float, u):
    """φ'_j(u) = lin_j + ramp_j 1[u + θ_j > 0] − clip_j 1[u > 0] of the unit form, per lane."""
    return sub(fma(lin, ramp, step(add(u, theta))), mul(clip, step(u)))


@njit(cache=True, fastmath=_FAST, inline="always")
def _transfer(theta: np.ndarray, unit: tuple, u: np.ndarray, out: np.ndarray, transfer) -> None:
    """out_j = transfer(u_j) per lane, ``transfer`` = phi or phi_slope (a function argument, so that each
    caller compiles its own loop without a branch per unit)."""
    lin, ramp, clip = unit
    for j in range(theta.shape[0]):
        store(out, j, transfer(lin[j], ramp[j], clip[j], theta[j], load(u, j)))


@njit(cache=True, fastmath=_FAST, inline="always")
def _unit_outputs(UT: np.ndarray, theta: np.ndarray, unit: tuple, zt: np.ndarray, u: np.ndarray, out: np.ndarray, transfer) -> None:
    """u = U z̃ (``_preactivations``) and out = transfer(u) (``_transfer``), per lane."""
    _preactivations(UT, zt, u)
    _transfer(theta, unit, u, out, transfer)


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
    squares: np.ndarray, states: np.ndarray, pre: np.ndarray,
) -> None:
    """Chunks lo..hi−1: squares[c, l] = Σ_t ‖r_t‖² of window l, states[c] = z̃_0, z_1, ..., z_T (before forcing),
    pre[c] = u_1, ..., u_T (the units' inputs, which the backward pass needs).

    ``z0`` (C, M, L) holds the z̃_0; ``squares`` (C, L), ``states`` (C, T+1, M, L) and ``pre`` (C, T, H, L)
    are filled in place.
    """
    A, V, UT, theta, h, C, B, beta = params
    s, x, zhat, alpha = data
    n_latent, n_steps, n_obs, n_inputs = z0.shape[1], x.shape[1], x.shape[2], s.shape[2]
    hidden = theta.shape[1]
    width, dtype = states.shape[-1], states.dtype
    zt, r = np.empty((n_latent, width), dtype), np.empty((n_obs, width), dtype)
    phi_values = np.empty((hidden, width), dtype)
    for c in range(lo, hi):
        e = c // per_member
        # Per-member views once per chunk: a view per step costs reference-count updates.
        Ae, Ve, UTe, thetae, he, Ce, Be, betae = A[e], V[e], UT[e], theta[e], h[e], C[e], B[e], beta[e]
        for m in range(n_latent):
            store(states, (c, 0, m), load(z0, (c, m)))
        total = splat(states, 0.0)
        for t in range(1, n_steps + 1):
            _forced_state(states, c, t - 1, zhat, alpha, e, zt)
            _unit_outputs(UTe, thetae, unit, zt, pre[c, t - 1], phi_values, phi)
            for m in range(n_latent):
                acc = dot(fma(he[m], Ae[m], load(zt, m)), Ve[m], phi_values)
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


@njit(cache=True, fastmath=_FAST)
def _outer_sums(X: np.ndarray, Y: np.ndarray, out: np.ndarray) -> None:
    """out[p, q] += Σ_t Σ_l X[t, p, l] Y[t, q, l], i.e. Σ_t x_t y_tᵀ over sequences of lane vectors, summed over lanes.

    In 4 × 4 tiles whose 16 sums stay in registers over all t: 16 fused multiply-adds per 8 loads,
    where accumulating into an array at every step costs a load and a store per term. A tile at the
    edge repeats the last row or column (the repeats' sums are dropped): a few wasted multiply-adds
    cost less than narrower tiles, whose loads would limit them (M = 3 has only edge tiles).
    """
    steps, rows, cols = X.shape[0], X.shape[1], Y.shape[1]
    sums = np.empty((16, X.shape[2]), X.dtype)
    for p in range(0, rows, 4):
        p1, p2, p3 = min(p + 1, rows - 1), min(p + 2, rows - 1), min(p + 3, rows - 1)
        for q in range(0, cols, 4):
            q1, q2, q3 = min(q + 1, cols - 1), min(q + 2, cols - 1), min(q + 3, cols - 1)
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = splat(X, 0.0)
            a8 = a9 = a10 = a11 = a12 = a13 = a14 = a15 = splat(X, 0.0)
            for t in range(steps):
                x0, x1, x2, x3 = load(X, (t, p)), load(X, (t, p1)), load(X, (t, p2)), load(X, (t, p3))
                y0, y1, y2, y3 = load(Y, (t, q)), load(Y, (t, q1)), load(Y, (t, q2)), load(Y, (t, q3))
                a0, a1, a2, a3 = fma(a0, x0, y0), fma(a1, x0, y1), fma(a2, x0, y2), fma(a3, x0, y3)
                a4, a5, a6, a7 = fma(a4, x1, y0), fma(a5, x1, y1), fma(a6, x1, y2), fma(a7, x1, y3)
                a8, a9, a10, a11 = fma(a8, x2, y0), fma(a9, x2, y1), fma(a10, x2, y2), fma(a11, x2, y3)
                a12, a13, a14, a15 = fma(a12, x3, y0), fma(a13, x3, y1), fma(a14, x3, y2), fma(a15, x3, y3)
            store(sums, 0, a0), store(sums, 1, a1), store(sums, 2, a2), store(sums, 3, a3)
            store(sums, 4, a4), store(sums, 5, a5), store(sums, 6, a6), store(sums, 7, a7)
            store(sums, 8, a8), store(sums, 9, a9), store(sums, 10, a10), store(sums, 11, a11)
            store(sums, 12, a12), store(sums, 13, a13), store(sums, 14, a14), store(sums, 15, a15)
            for k in range(16):
                row, col = p + k // 4, q + k % 4
                if row < rows and col < cols:
                    total = 0.0
                    for lane in range(sums.shape[1]):
                        total += sums[k, lane]
                    out[row, col] += total


@njit(cache=True, nogil=True, fastmath=_FAST)
def backward(
    lo: int, hi: int, per_member: int, scale: np.ndarray, states: np.ndarray, pre: np.ndarray, params: tuple, unit: tuple,
    data: tuple, grads: tuple,
) -> None:
    """Chunks lo..hi−1: per-chunk gradients added into ``grads`` (zeros on entry).

    ``grads`` holds one (C, *shape) array per array in ``params`` (same order; the caller sums the
    chunks of each member), then ∂z̃_0 (C, M, L); ``scale`` (C, L) is k_e of the module doc per window
    (0 for padding); ``states`` and ``pre`` are what ``forward`` stored.
    """
    A, V, UT, theta, h, C, B, beta = params
    lin, ramp, clip = unit
    s, x, zhat, alpha = data
    n_stored, n_latent = states.shape[1], states.shape[2]
    hidden, n_obs, n_forced, n_inputs = theta.shape[1], x.shape[2], zhat.shape[2], s.shape[2]
    dense = UT.shape[2] > 0
    repeat = hidden // n_latent
    width, dtype = states.shape[-1], states.dtype
    lam = np.empty((n_latent, width), dtype)
    # Per step of a chunk: δ_t, z̃_{t−1}, φ(u_t), γ_t, so that ∂V and ∂Uᵀ are summed afterwards as
    # products of these sequences (``_outer_sums``) rather than by a load and a store per term and step.
    # With M < 4 a tile would be mostly waste: there they are accumulated at every step (gV, gUT).
    tiles = n_latent >= 4
    kept = n_stored - 1 if tiles else 1  # without tiles one step's worth, reused
    deltas, forced = np.empty((kept, n_latent, width), dtype), np.empty((kept, n_latent, width), dtype)
    phis, gammas = np.empty((kept, hidden, width), dtype), np.empty((kept, hidden, width), dtype)
    r = np.empty((n_obs, width), dtype)
    # Gradients per lane, summed over the lanes once per chunk: every update is then one vector operation.
    gV = np.empty((0 if tiles else n_latent, hidden, width), dtype)
    gUT = np.empty((0 if tiles else n_latent, UT.shape[2], width), dtype)
    gA, gh, gtheta = np.empty((n_latent, width), dtype), np.empty((n_latent, width), dtype), np.empty((hidden, width), dtype)
    gC, gbeta = np.empty((n_latent, n_inputs, width), dtype), np.empty((beta.shape[1], width), dtype)
    gB = np.empty((B.shape[1], n_latent, width), dtype)
    for c in range(lo, hi):
        e = c // per_member
        k = load(scale, c)
        Ae, Ve, UTe, thetae, Be, betae = A[e], V[e], UT[e], theta[e], B[e], beta[e]
        gA[...], gtheta[...], gh[...], gC[...], gB[...], gbeta[...], gV[...], gUT[...] = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        lam[...] = 0.0
        for t in range(n_stored - 1, 0, -1):
            slot = t - 1 if tiles else 0
            delta, zt, phi_values, gamma = deltas[slot], forced[slot], phis[slot], gammas[slot]
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
            # z̃_{t−1} from the stored z_{t−1} (M values), φ(u_t) from the stored u_t.
            u = pre[c, t - 1]
            _forced_state(states, c, t - 1, zhat, alpha, e, zt)
            _transfer(thetae, unit, u, phi_values, phi)
            for m in range(n_latent):
                delta_m = load(delta, m)
                store(gA, m, fma(load(gA, m), delta_m, load(zt, m)))
                store(gh, m, add(load(gh, m), delta_m))
                for kk in range(n_inputs):
                    store(gC, (m, kk), fma(load(gC, (m, kk)), delta_m, load(s, (c, t - 1, kk))))
                if not tiles:
                    for j in range(hidden):
                        store(gV, (m, j), fma(load(gV, (m, j)), delta_m, load(phi_values, j)))
            # γ = φ'(u) ⊙ ω with ω = Vᵀ δ (into γ's rows first); θ takes the share of the shifted ramps.
            columns(Ve, delta, gamma)
            for j in range(hidden):
                omega = load(gamma, j)
                uj = load(u, j)
                shifted = mul(mul(ramp[j], step(add(uj, thetae[j]))), omega)
                store(gtheta, j, add(load(gtheta, j), shifted))
                store(gamma, j, sub(fma(shifted, lin[j], omega), mul(mul(clip[j], step(uj)), omega)))
            # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t
            for i in range(n_latent):
                lam_i = mul(Ae[i], load(delta, i))
                if dense and tiles:
                    lam_i = dot(lam_i, UTe[i], gamma)
                elif dense:  # one pass for λ and the accumulated ∂Uᵀ
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
        if tiles:
            _outer_sums(deltas, phis, grads[1][c])  # ∂V = Σ_t δ_t φ(u_t)ᵀ
            if dense:
                _outer_sums(forced, gammas, grads[2][c])  # ∂Uᵀ = Σ_t z̃_{t−1} γ_tᵀ
        else:
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


LANCZOS_STEPS = 8
"""Lanczos steps per state of the aGTF bound (``jacobian_log_norms``) for M > 3.

The largest Ritz value after k steps rises monotonically to σ₁² (Golub & Van Loan, Matrix
Computations, §10.1). Stated tolerance with 8 steps: α̂ within 10⁻² of the exact value for every kind
up to M = 64 (``tests/test_kernels.py``; measured worst case 7·10⁻³, on random models whose singular
values crowd without a gap; 1.5·10⁻⁴ on a shPLRNN trained on 20-channel Lorenz-96 data, a tenth of
α̂'s spread from batch to batch). Cost: 8 products with J and Jᵀ per state, about four training
steps' worth (forward and backward) per state, or 0.4 of a step per batch at ``agtf_interval`` 5 on every 2nd state (``BOUND_STRIDE``).
With k ≥ M the Krylov space is the whole space and the norm exact."""
BOUND_STRIDE = 2
"""For M > ``LANCZOS_STEPS`` aGTF's bound averages the log-norms of every 2nd state of a window (``bound_stride``).

The bound's Lanczos steps cost about 3.4 training steps per state, at M = 20 two fifths of a
default epoch. A window's mean log-norm over every 2nd state estimates the mean over all of them
(states a step apart are strongly correlated): on a clipped shPLRNN trained 150 epochs on 20-channel
Lorenz-96 data (100 batches) α̂ moved by 1.9·10⁻³ on average and 9·10⁻³ at most, where α̂ itself
varies by 2–4·10⁻³ (standard deviation) from batch to batch; ``tests/test_kernels.py`` checks the
stated tolerance 10⁻² on random models."""
BISECTIONS = 50
"""Bisection steps for the largest eigenvalue of the Lanczos tridiagonal matrix: 2⁻⁵⁰ of its Gershgorin bound."""


@njit(cache=True, fastmath=_FAST, inline="always")
def _jacobian_times(A: np.ndarray, V: np.ndarray, UT: np.ndarray, slope: np.ndarray, v: np.ndarray, q: np.ndarray, w: np.ndarray) -> None:
    """w = J v = A ⊙ v + V (φ' ⊙ U v) per lane, J never formed (``q``: scratch of H rows)."""
    _preactivations(UT, v, q)
    for j in range(q.shape[0]):
        store(q, j, mul(load(q, j), load(slope, j)))
    for i in range(w.shape[0]):
        store(w, i, dot(mul(A[i], load(v, i)), V[i], q))


@njit(cache=True, fastmath=_FAST, inline="always")
def _jacobian_transpose_times(A: np.ndarray, V: np.ndarray, UT: np.ndarray, slope: np.ndarray, w: np.ndarray, p: np.ndarray, y: np.ndarray) -> None:
    """y = Jᵀ w = A ⊙ w + Uᵀ (φ' ⊙ Vᵀ w) per lane (``p``: scratch of H rows)."""
    n_latent, hidden = w.shape[0], p.shape[0]
    repeat = hidden // n_latent
    columns(V, w, p)
    for j in range(hidden):
        store(p, j, mul(load(p, j), load(slope, j)))
    for i in range(n_latent):
        acc = mul(A[i], load(w, i))
        if UT.shape[1] == 0:
            for b in range(repeat):
                acc = add(acc, load(p, i * repeat + b))
        else:
            acc = dot(acc, UT[i], p)
        store(y, i, acc)


@njit(cache=True, fastmath=_FAST, inline="always")
def _small_log_norms(
    A: np.ndarray, V: np.ndarray, UT: np.ndarray, slope: np.ndarray, jac: np.ndarray, gram: np.ndarray, out: np.ndarray
) -> None:
    """out[l] = log ‖J‖₂ of lane l for M ≤ 3: J[i, k] = A_i δ_ik + Σ_j V_ij φ'_j U_jk formed per lane
    (``jac``, (M, M, L)), then λ_max(JᵀJ) (``gram``, (M, M)) in closed form (``_largest_eigenvalue_3``)."""
    n_latent, hidden = jac.shape[0], slope.shape[0]
    repeat = hidden // n_latent
    for i in range(n_latent):
        for k in range(n_latent):
            acc = splat(jac, A[i] if i == k else 0.0)
            if UT.shape[1] == 0:
                for b in range(repeat):
                    acc = fma(acc, V[i, k * repeat + b], load(slope, k * repeat + b))
            else:
                for j in range(hidden):
                    acc = fma(acc, V[i, j] * UT[k, j], load(slope, j))
            store(jac, (i, k), acc)
    for lane in range(out.shape[0]):
        for i in range(n_latent):
            for k in range(n_latent):
                acc = 0.0
                for m in range(n_latent):
                    acc += jac[m, i, lane] * jac[m, k, lane]
                gram[i, k] = acc
        out[lane] = np.log(max(np.sqrt(max(_largest_eigenvalue_3(gram), 0.0)), 1e-300))


@njit(cache=True, fastmath=_FAST, inline="always")
def _dot(a: np.ndarray, b: np.ndarray):
    """Σ_i a_i b_i per lane, a and b (M, L)."""
    acc = mul(load(a, 0), load(b, 0))
    for i in range(1, a.shape[0]):
        acc = fma(acc, load(a, i), load(b, i))
    return acc


@njit(cache=True, fastmath=_FAST, inline="always")
def _largest_tridiagonal_eigenvalue(diagonal: np.ndarray, off: np.ndarray, bounds: np.ndarray) -> None:
    """bounds[1] ← λ_max per lane of the symmetric tridiagonal T (k, L) with diagonal and squared
    off-diagonal ``off`` (k − 1, L), by bisection on its Sturm sequence.

    d_1 = a_1 − λ, d_i = a_i − λ − b²_{i−1}/d_{i−1}; all d_i < 0 exactly when λ exceeds every
    eigenvalue (Sylvester's law of inertia for the LDLᵀ factorisation of T − λI; Golub & Van Loan,
    §8.4.1). On entry bounds[0] ≤ λ_max ≤ bounds[1] (the largest diagonal entry and a Gershgorin bound).
    """
    k = diagonal.shape[0]
    for _ in range(BISECTIONS):
        lower, upper = load(bounds, 0), load(bounds, 1)
        middle = mul(add(lower, upper), 0.5)
        d = sub(load(diagonal, 0), middle)
        above = step(sub(middle, load(diagonal, 0)))  # 1 while every d_i < 0
        for i in range(1, k):
            d = sub(sub(load(diagonal, i), middle), div(load(off, i - 1), d))
            above = mul(above, step(mul(d, -1.0)))
        store(bounds, 1, fma(upper, above, sub(middle, upper)))
        store(bounds, 0, fma(middle, above, sub(lower, middle)))


@njit(cache=True, fastmath=_FAST, inline="always")
def _lanczos_log_norms(
    A: np.ndarray, V: np.ndarray, UT: np.ndarray, slope: np.ndarray, start: np.ndarray, basis: np.ndarray,
    w: np.ndarray, scratch: np.ndarray, diagonal: np.ndarray, off: np.ndarray, bounds: np.ndarray, norms: np.ndarray, out: np.ndarray,
) -> None:
    """out[l] = log ‖J‖₂ of lane l by k = basis.shape[0] Lanczos steps on JᵀJ from ``start``.

    q_1 = start; r = JᵀJ q_j (J applied implicitly), a_j = q_jᵀ r, r orthogonalised against every
    q_i (full reorthogonalisation, so that the Ritz values stay those of the exact recursion), b_j =
    ‖r‖, q_{j+1} = r / b_j (0 where the Krylov space is exhausted, b_j ≈ 0); then λ_max of the
    tridiagonal matrix (a, b) by bisection.
    """
    k, n_latent = basis.shape[0], basis.shape[1]
    for i in range(n_latent):
        store(basis[0], i, start[i])
    for j in range(k):
        q = basis[j]
        _jacobian_times(A, V, UT, slope, q, scratch, w)
        _jacobian_transpose_times(A, V, UT, slope, w, scratch, w)
        store(diagonal, j, _dot(q, w))
        for i in range(j + 1):  # modified Gram–Schmidt against q_1..q_j
            projection = _dot(basis[i], w)
            for m in range(n_latent):
                store(w, m, sub(load(w, m), mul(projection, load(basis[i], m))))
        if j + 1 == k:
            break
        store(off, j, _dot(w, w))
        for lane in range(norms.shape[0]):
            # Exhausted (b_j at rounding level of ‖JᵀJ‖ ≥ a_j): q_{j+1} = 0 closes the lane's recursion.
            exhausted = off[j, lane] <= 1e-28 * diagonal[j, lane] * diagonal[j, lane]
            norms[lane] = 0.0 if exhausted else 1.0 / np.sqrt(off[j, lane])
            if exhausted:
                off[j, lane] = 0.0
        for m in range(n_latent):
            store(basis[j + 1], m, mul(load(w, m), load(norms.reshape(1, -1), 0)))
    # Bounds of λ_max(T): its largest diagonal entry, and Gershgorin's max_i a_i + |b_{i−1}| + |b_i|.
    for lane in range(norms.shape[0]):
        lower, upper = 0.0, 0.0
        for j in range(k):
            radius = (np.sqrt(off[j - 1, lane]) if j > 0 else 0.0) + (np.sqrt(off[j, lane]) if j + 1 < k else 0.0)
            lower, upper = max(lower, diagonal[j, lane]), max(upper, diagonal[j, lane] + radius)
        bounds[0, lane], bounds[1, lane] = lower, upper
    _largest_tridiagonal_eigenvalue(diagonal, off, bounds)
    for lane in range(norms.shape[0]):
        out[lane] = np.log(max(np.sqrt(bounds[1, lane]), 1e-300))


def bound_stride(n_latent: int) -> int:
    """Every how many states of a window aGTF's bound is evaluated: 1 where it is exact or closed-form
    (M ≤ ``LANCZOS_STEPS``), ``BOUND_STRIDE`` above."""
    return 1 if n_latent <= LANCZOS_STEPS else BOUND_STRIDE


@njit(cache=True, nogil=True, fastmath=_FAST)
def jacobian_log_norms(
    lo: int, hi: int, per_member: int, zhat: np.ndarray, params: tuple, unit: tuple, steps: int, stride: int, out: np.ndarray
) -> None:
    """Chunks lo..hi−1: out[c, l] = mean over t = 0, s, 2s, ... < T of log ‖J(ẑ_t)‖₂ of window l, s = ``stride``
    (``bound_stride``), ẑ in lanes (C, T, M, L), float64.

    J = diag(A) + V diag(φ'(U ẑ)) U, the Jacobian of the unit form (module doc) at ẑ. The log-mean is
    the per-window factor of aGTF's product bound (``dsr.training.forcing.alpha_estimate``). For
    M ≤ 3, ‖J‖₂ = √λ_max(JᵀJ) in closed form; above, by ``steps`` Lanczos steps on JᵀJ with J
    applied implicitly (``_lanczos_log_norms``: O(M·H) per step, the cost of a model step, never
    the M²·H of forming J nor the M³ of an eigensolver). Norms are clamped at 1e-300 as in the torch path.
    """
    A, V, UT, theta = params[0], params[1], params[2], params[3]
    n_steps, n_latent, width = zhat.shape[1], zhat.shape[2], zhat.shape[3]
    hidden, k = theta.shape[1], min(steps, n_latent)
    dtype = zhat.dtype
    u, slope, scratch = np.empty((hidden, width), dtype), np.empty((hidden, width), dtype), np.empty((hidden, width), dtype)
    basis, w = np.empty((k, n_latent, width), dtype), np.empty((n_latent, width), dtype)
    diagonal, off, bounds = np.empty((k, width), dtype), np.zeros((k, width), dtype), np.empty((2, width), dtype)
    jac, gram = np.empty((n_latent, n_latent, width), dtype), np.empty((n_latent, n_latent))
    logs, norms = np.empty(width), np.empty(width, dtype)
    # A fixed start with no structure (the repeat map and mean-centring have structured null spaces).
    start = np.cos(1.0 + 2.3999632297 * np.arange(n_latent))
    start = (start / np.sqrt(np.sum(start * start))).astype(dtype)
    for c in range(lo, hi):
        e = c // per_member
        Ae, Ve, UTe, thetae = A[e], V[e], UT[e], theta[e]
        total = np.zeros(width)
        for t in range(0, n_steps, stride):
            _unit_outputs(UTe, thetae, unit, zhat[c, t], u, slope, phi_slope)
            if n_latent <= 3:
                _small_log_norms(Ae, Ve, UTe, slope, jac, gram, logs)
            else:
                _lanczos_log_norms(Ae, Ve, UTe, slope, start, basis, w, scratch, diagonal, off, bounds, norms, logs)
            total += logs
        out[c] = total / len(range(0, n_steps, stride))
