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

Arrays (all float64, C-contiguous, member dim first, so each kernel compiles once):
``params`` = (A (E,M), V (E,M,H), Uᵀ (E,M,H) or (E,M,0), θ (E,H), h (E,M), C (E,M,K), B (E,N,M) or
(E,0,M), β (E,N) or (E,0)); ``unit`` = (lin, ramp, clip), each (H,); ``data`` = (s (E,S,T,K),
x (E,S,T,N) targets x_1..x_T, ẑ (E,S,T,D), α (T,E)). Both passes work on a range of windows (flat
index e·S + w) and release the GIL, so callers run ranges of windows and members on parallel threads;
each window writes only its own outputs, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Reassociation lets LLVM vectorise the sums over units; additions then happen in another order than
# in torch (differences of order 1e-16, relative). No 'nnan'/'ninf': a NaN must reach the loss so that
# the trainer sees the divergence.
_FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FAST)
def _preactivate(UT: np.ndarray, z: np.ndarray, u: np.ndarray) -> None:
    """u = U z, or the repeat map u_j = z_{⌊j/r⌋} when Uᵀ has no columns."""
    if UT.shape[1] == 0:
        repeat = u.shape[0] // z.shape[0]
        for i in range(z.shape[0]):
            for b in range(repeat):
                u[i * repeat + b] = z[i]
        return
    u[:] = 0.0
    for i in range(z.shape[0]):
        for j in range(u.shape[0]):
            u[j] += UT[i, j] * z[i]


@njit(cache=True, fastmath=_FAST)
def _activate(u: np.ndarray, theta: np.ndarray, unit: tuple, phi: np.ndarray) -> None:
    """φ(u) of the unit form."""
    lin, ramp, clip = unit
    for j in range(u.shape[0]):
        phi[j] = lin[j] * u[j] + ramp[j] * max(u[j] + theta[j], 0.0) - clip[j] * max(u[j], 0.0)


# The helpers below take a window's whole (steps, units) arrays and a row index rather than row views:
# a view per step costs reference-count updates that made the passes about twice as slow.


@njit(cache=True, fastmath=_FAST)
def _residual(window: np.ndarray, t: int, B: np.ndarray, beta: np.ndarray, x: np.ndarray, r: np.ndarray) -> None:
    """r = x̂_t − x_t: x̂_t = B z_t + β, or the first N units of z_t when B has no rows (identity observation).

    ``window`` holds z̃_0, z_1, ..., z_T; ``x`` the targets x_1..x_T.
    """
    for i in range(x.shape[1]):
        if B.shape[0] == 0:
            r[i] = window[t, i] - x[t - 1, i]
        else:
            acc = beta[i]
            for m in range(window.shape[1]):
                acc += B[i, m] * window[t, m]
            r[i] = acc - x[t - 1, i]


@njit(cache=True, fastmath=_FAST)
def _forced_state(window: np.ndarray, t: int, zhat: np.ndarray, alpha: float, out: np.ndarray) -> None:
    """out = z̃_t from the stored z_t (t = 0: the stored z̃_0), ``alpha`` = α_t, ``zhat`` = ẑ_1..ẑ_T."""
    for m in range(out.shape[0]):
        out[m] = window[t, m]
    if t > 0:
        for i in range(zhat.shape[1]):
            out[i] = (1.0 - alpha) * window[t, i] + alpha * zhat[t - 1, i]


@njit(cache=True, nogil=True, fastmath=_FAST)
def forward(
    lo: int, hi: int, z0: np.ndarray, params: tuple, unit: tuple, data: tuple, squares: np.ndarray, states: np.ndarray
) -> None:
    """Windows lo..hi−1 (flat index e·S + w): squares[e, w] = Σ_t ‖r_t‖², states[e, w] = z̃_0, z_1, ..., z_T.

    ``squares`` (E, S) and ``states`` (E, S, T+1, M) are filled in place; the z_t are before forcing.
    """
    A, V, UT, theta, h, C, B, beta = params
    s, x, zhat, alpha = data
    n_windows, n_latent = z0.shape[1], z0.shape[2]
    n_steps, hidden, n_inputs = x.shape[2], theta.shape[1], s.shape[3]
    u, phi, r, zt = np.empty(hidden), np.empty(hidden), np.empty(x.shape[3]), np.empty(n_latent)
    for item in range(lo, hi):
        e, w = item // n_windows, item % n_windows
        Ae, Ve, UTe, thetae, he, Ce, Be, betae = A[e], V[e], UT[e], theta[e], h[e], C[e], B[e], beta[e]
        window, inputs, targets, signals = states[e, w], s[e, w], x[e, w], zhat[e, w]
        for m in range(n_latent):
            window[0, m] = zt[m] = z0[e, w, m]
        total = 0.0
        for t in range(1, n_steps + 1):
            _preactivate(UTe, zt, u)
            _activate(u, thetae, unit, phi)
            for m in range(n_latent):
                acc = Ae[m] * zt[m] + he[m]
                for j in range(hidden):
                    acc += Ve[m, j] * phi[j]
                for k in range(n_inputs):
                    acc += Ce[m, k] * inputs[t - 1, k]
                window[t, m] = acc
            _residual(window, t, Be, betae, targets, r)
            for i in range(r.shape[0]):
                total += r[i] * r[i]
            _forced_state(window, t, signals, alpha[t - 1, e], zt)
        squares[e, w] = total


@njit(cache=True, nogil=True, fastmath=_FAST)
def backward(
    lo: int, hi: int, scale: np.ndarray, states: np.ndarray, params: tuple, unit: tuple, data: tuple, grads: tuple
) -> None:
    """Windows lo..hi−1: per-window gradients added into ``grads`` (zeros on entry).

    ``grads`` holds one (E, S, *shape) array per array in ``params`` (same order), then ∂z̃_0 (E, S, M);
    ``scale`` (E,) is k_e of the module doc; ``states`` is what ``forward`` stored.
    """
    A, V, UT, theta, h, C, B, beta = params
    gA_all, gV_all, gUT_all, gtheta_all, gh_all, gC_all, gB_all, gbeta_all, gz0_all = grads
    lin, ramp, clip = unit
    s, x, zhat, alpha = data
    n_windows, n_stored, n_latent = states.shape[1], states.shape[2], states.shape[3]
    hidden, n_obs, n_forced, n_inputs = theta.shape[1], x.shape[3], zhat.shape[3], s.shape[3]
    repeat = hidden // n_latent
    lam, delta, zt = np.empty(n_latent), np.empty(n_latent), np.empty(n_latent)
    u, phi, omega = np.empty(hidden), np.empty(hidden), np.empty(hidden)
    r = np.empty(n_obs)
    for item in range(lo, hi):
        e, w = item // n_windows, item % n_windows
        k = scale[e]
        Ae, Ve, UTe, thetae, Be, betae = A[e], V[e], UT[e], theta[e], B[e], beta[e]
        window, inputs, targets, signals = states[e, w], s[e, w], x[e, w], zhat[e, w]
        gA, gV, gUT, gtheta, gh = gA_all[e, w], gV_all[e, w], gUT_all[e, w], gtheta_all[e, w], gh_all[e, w]
        gC, gB, gbeta, gz0 = gC_all[e, w], gB_all[e, w], gbeta_all[e, w], gz0_all[e, w]
        lam[:] = 0.0
        for t in range(n_stored - 1, 0, -1):
            _residual(window, t, Be, betae, targets, r)
            # δ_t = P_tᵀ λ_t + k Bᵀ r_t
            delta[:] = lam
            for i in range(n_forced):
                delta[i] = (1.0 - alpha[t - 1, e]) * lam[i]
            for i in range(n_obs):
                kr = k * r[i]
                if Be.shape[0] == 0:
                    delta[i] += kr
                else:
                    gbeta[i] += kr
                    for m in range(n_latent):
                        delta[m] += Be[i, m] * kr
                        gB[i, m] += kr * window[t, m]
            # Recompute u_t and φ(u_t) from z̃_{t−1} (cheaper than storing H values per step).
            _forced_state(window, t - 1, signals, alpha[t - 2, e] if t > 1 else 0.0, zt)
            _preactivate(UTe, zt, u)
            _activate(u, thetae, unit, phi)
            omega[:] = 0.0
            for m in range(n_latent):
                gA[m] += delta[m] * zt[m]
                gh[m] += delta[m]
                for kk in range(n_inputs):
                    gC[m, kk] += delta[m] * inputs[t - 1, kk]
                # Separate loops for separate outputs: LLVM vectorises each (not the fused one).
                for j in range(hidden):
                    gV[m, j] += delta[m] * phi[j]
                for j in range(hidden):
                    omega[j] += Ve[m, j] * delta[m]
            # ω becomes γ = φ'(u) ⊙ ω in place, after θ has taken its share.
            for j in range(hidden):
                shifted = ramp[j] * omega[j] if u[j] + thetae[j] > 0.0 else 0.0
                gtheta[j] += shifted
                omega[j] = lin[j] * omega[j] + shifted - (clip[j] * omega[j] if u[j] > 0.0 else 0.0)
            # λ_{t−1} = A ⊙ δ_t + Uᵀ γ_t
            for i in range(n_latent):
                lam[i] = Ae[i] * delta[i]
            if UTe.shape[1] == 0:
                for i in range(n_latent):
                    for b in range(repeat):
                        lam[i] += omega[i * repeat + b]
            else:
                for i in range(n_latent):
                    acc = 0.0
                    for j in range(hidden):
                        acc += UTe[i, j] * omega[j]
                    lam[i] += acc
                    for j in range(hidden):
                        gUT[i, j] += zt[i] * omega[j]
        gz0[:] = lam


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
            _preactivate(UTe, zhat[e, w, t], u)
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
