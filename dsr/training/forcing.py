"""Forcing schedules: how strongly each step of a training window is pulled towards the data.

The rollout (:func:`dsr.training.loss.forced_rollout`) applies, after every model step t,
z̃_t = (1 − α_t) z_t + α_t ẑ_t (``LatentModel.force``). A schedule supplies the α_t:

- ``gtf``: generalized teacher forcing with constant α, or α annealed linearly from ``alpha``
  to ``alpha_end`` over the epochs (Hess et al., ICML 2023).
- ``agtf``: adaptive GTF. Every ``agtf_interval`` batches, estimate the Jacobian growth bound
  G = max over windows of exp(mean_t log ‖J(ẑ_t)‖₂) at the forcing signals ẑ_t = ẑ(x_t) (the GTF
  repository's ``product_upper_bound``), set α̂ = max(0, 1 − 1/G), and update α ← α̂ when
  α̂ > α (immediate increase), else α ← γ α + (1 − γ) α̂ (slow decay, γ = ``agtf_decay``).
  α starts at 1, one value per ensemble member.
- ``stf``: sparse (identity) teacher forcing: α_t = 1 every τ steps, 0 otherwise
  (Mikhaeil et al., NeurIPS 2022); τ defaults to the data's estimated predictability time.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from dsr.models import LatentModel
from dsr.training.config import FitConfig


class ForcingSchedule:
    """α_t for every step of a window, per ensemble member; updated as training goes."""

    def __init__(self, config: FitConfig, ensemble: int, tau: int | None = None) -> None:
        self.kind = config.forcing
        self.config = config
        self.tau = tau
        start = 1.0 if self.kind == "agtf" else config.alpha
        self.alpha = torch.full((ensemble,), float(start), dtype=torch.float64)
        self._batches = 0

    def start_epoch(self, epoch: int) -> None:
        """Set the annealed α of GTF for ``epoch`` (0-based)."""
        c = self.config
        if self.kind == "gtf" and c.alpha_end is not None:
            frac = epoch / max(c.epochs - 1, 1)
            self.alpha.fill_(c.alpha + frac * (c.alpha_end - c.alpha))

    def alphas(self, steps: int) -> list[Tensor | float]:
        """α_1..α_steps: a per-member tensor (E,) for GTF/aGTF, 0 or 1 for STF."""
        if self.kind == "stf":
            return [1.0 if t % self.tau == 0 else 0.0 for t in range(1, steps + 1)]
        return [self.alpha] * steps

    @torch.no_grad()
    def after_batch(self, model: LatentModel, x: Tensor, kernel: str = "autograd") -> None:
        """aGTF: every ``agtf_interval`` batches re-estimate α from the batch ``x`` (E, S, T+1, N)."""
        if self.kind != "agtf":
            return
        self._batches += 1
        if (self._batches - 1) % self.config.agtf_interval:
            return
        estimate = alpha_estimate(model, x[:, :, 1:], kernel)
        gamma = self.config.agtf_decay
        decayed = gamma * self.alpha + (1 - gamma) * estimate
        self.alpha = torch.where(estimate > self.alpha, estimate, decayed)

    @property
    def batches(self) -> int:
        """Batches counted so far (aGTF's interval counts from them)."""
        return self._batches

    def advance(self, alpha: np.ndarray, batches: int) -> None:
        """Take the α (E,) and batch count that ``batches`` batches trained elsewhere ended with (aGTF;
        the compiled epoch of ``dsr.training.fused_epoch``); the other schedules keep no such state."""
        if self.kind == "agtf":
            self.alpha = torch.as_tensor(alpha, dtype=torch.float64)
            self._batches += batches

    def state(self) -> dict:
        return {"alpha": self.alpha.tolist(), "batches": self._batches, "tau": self.tau}

    def load_state(self, state: dict) -> None:
        self.alpha = torch.tensor(state["alpha"], dtype=torch.float64)
        self._batches = int(state["batches"])
        self.tau = state["tau"]


def alpha_estimate(model: LatentModel, x: Tensor, kernel: str = "autograd") -> Tensor:
    """α̂ = max(0, 1 − 1/G) per member, G the product upper bound at the data-inferred states of x.

    G = max over windows of the geometric mean over time of ‖J(ẑ_t)‖₂ (for M > 8 over every 2nd state:
    ``kernel_plrnn.bound_stride``); with ``kernel="fused"`` the log-norms come from the Numba kernel
    (``dsr.training.fused.fused_log_norms``: exact for M ≤ 8, Lanczos estimates within a stated
    tolerance above, at O(M·L) per state), else exactly from torch.
    """
    from dsr.training.kernel_plrnn import bound_stride

    zhat = model.forcing_signal(x, partial=False)
    stride = bound_stride(zhat.shape[-1])
    if kernel == "fused":
        from dsr.training.fused import fused_log_norms

        log_means = fused_log_norms(model, zhat, stride=stride)  # (E, S)
    else:
        states = zhat[:, :, ::stride]
        log_means = torch.log(spectral_norms(model.jacobian(states).double()).clamp_min(1e-300)).mean(dim=-1)
    growth = torch.exp(log_means).amax(dim=-1)  # (E,)
    return (1.0 - 1.0 / growth).clamp_min(0.0).cpu()


def spectral_norms(matrices: Tensor) -> Tensor:
    """‖J‖₂ = √λ_max(JᵀJ) of every square matrix in (..., M, M).

    aGTF needs it at every state of a batch (tens of thousands of tiny matrices), where LAPACK's
    per-matrix cost dominated training. For M ≤ 3, λ_max of the symmetric JᵀJ in closed form,
    elementwise over the batch: M = 2 from the quadratic, M = 3 by the trigonometric solution of
    the characteristic cubic (O. K. Smith, Commun. ACM 4, 168 (1961); relative error ~1e-9 where
    the two largest singular values nearly coincide); above, a batched symmetric eigensolver.
    """
    m = matrices.shape[-1]
    if m == 1:
        return matrices[..., 0, 0].abs()
    gram = matrices.mT @ matrices
    if m > 3:
        return torch.linalg.eigvalsh(gram)[..., -1].clamp_min(0.0).sqrt()
    if m == 2:
        a, b, d = gram[..., 0, 0], gram[..., 1, 1], gram[..., 0, 1]
        return ((a + b) / 2.0 + torch.sqrt(((a - b) / 2.0) ** 2 + d * d)).sqrt()
    a, b, c = gram[..., 0, 0], gram[..., 1, 1], gram[..., 2, 2]
    d, e, f = gram[..., 0, 1], gram[..., 0, 2], gram[..., 1, 2]
    q = (a + b + c) / 3.0
    off = d * d + e * e + f * f
    p = torch.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2.0 * off) / 6.0)
    safe = torch.where(p > 0, p, torch.ones_like(p))
    # r = det((S − qI)/p) / 2 = cos(3φ), clamped against rounding.
    ap, bp, cp, dp, ep, fp = (a - q) / safe, (b - q) / safe, (c - q) / safe, d / safe, e / safe, f / safe
    r = (ap * (bp * cp - fp * fp) - dp * (dp * cp - fp * ep) + ep * (dp * fp - bp * ep)) / 2.0
    phi = torch.acos(r.clamp(-1.0, 1.0)) / 3.0
    largest = torch.where(p > 0, q + 2.0 * p * torch.cos(phi), q)
    return largest.clamp_min(0.0).sqrt()


def predictability_tau(values: np.ndarray, max_lag: int = 100, bins: int = 64) -> int:
    """Forcing interval τ for STF estimated from data ``values`` (trial, time, variable).

    Per variable, the smaller of (a) the lag where the autocorrelation first falls below 1/e
    (or its first local minimum, if earlier) and (b) the first local minimum of the
    time-delayed mutual information (64-bin histogram); the median over variables
    (BPTT_TF ``tau_estimation.py``, a proxy for the predictability time ln 2/λ_max).
    """
    series = values[0]
    lags = []
    for j in range(series.shape[1]):
        x = series[:, j]
        lags.append(min(_autocorrelation_lag(x, max_lag), _mutual_information_lag(x, max_lag, bins)))
    return max(1, int(np.median(lags)))


def _first_local_minimum(curve: np.ndarray) -> int | None:
    inner = np.flatnonzero((curve[1:-1] < curve[:-2]) & (curve[1:-1] <= curve[2:]))
    return int(inner[0]) + 1 if inner.size else None


def _autocorrelation_lag(x: np.ndarray, max_lag: int) -> int:
    x = (x - x.mean()) / x.std()
    acf = np.array([1.0] + [np.mean(x[:-k] * x[k:]) for k in range(1, max_lag + 1)])
    below = np.flatnonzero(acf < 1 / math.e)
    candidates = [max_lag] + ([int(below[0])] if below.size else [])
    minimum = _first_local_minimum(acf)
    return min(candidates + ([minimum] if minimum else []))


def _mutual_information_lag(x: np.ndarray, max_lag: int, bins: int) -> int:
    edges = np.histogram_bin_edges(x, bins=bins)
    codes = np.clip(np.digitize(x, edges[1:-1]), 0, bins - 1)
    mi = [_mutual_information(codes[:-k], codes[k:], bins) for k in range(1, max_lag + 1)]
    minimum = _first_local_minimum(np.asarray(mi))
    return max_lag if minimum is None else minimum + 1


def _mutual_information(a: np.ndarray, b: np.ndarray, bins: int) -> float:
    joint = np.bincount(a * bins + b, minlength=bins * bins).reshape(bins, bins) / a.size
    pa, pb = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))
