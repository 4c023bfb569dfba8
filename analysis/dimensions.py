"""Fractal dimensions: Kaplan–Yorke from a Lyapunov spectrum, correlation dimension from points.

Kaplan–Yorke (Lyapunov) dimension (Kaplan & Yorke, Lecture Notes in Math. 730, 204 (1979)):
with λ_1 ≥ ... ≥ λ_n and j the largest index with λ_1 + ... + λ_j ≥ 0,

    D_KY = j + (λ_1 + ... + λ_j) / |λ_{j+1}|,

0 if λ_1 < 0 and n if the whole sum is non-negative (the convention of FractalDimensions.jl).

Correlation dimension (Grassberger & Procaccia, Physica D 9, 189 (1983)): the correlation sum

    C(r) = #{pairs i < j, |t_i − t_j| > w : ‖x_i − x_j‖ < r} / #{pairs i < j, |t_i − t_j| > w}

with a Theiler window w (Theiler, Phys. Rev. A 34, 2427 (1986)) that drops pairs close in time,
scales as C(r) ∝ r^{D2} in a scaling region between the noise/sampling floor and the attractor
size; D2 is the slope of log C against log r there. The region is chosen automatically: the
range of radii, at least a decade wide, over which the local slopes d ln C / d ln r deviate least
from the range's secant slope (the flattest plateau), among radii with enough pairs and well
below the attractor's diameter; the range is returned with the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange, types
from numpy.typing import ArrayLike


def kaplan_yorke(exponents: ArrayLike) -> float:
    """D_KY of a Lyapunov spectrum (any order, any unit; see the module docstring)."""
    lam = np.sort(np.asarray(exponents, dtype=np.float64).ravel())[::-1]
    # −inf (a superstable direction, e.g. a singular Jacobian) is a valid exponent.
    if lam.size == 0 or np.any(np.isnan(lam)) or np.any(lam == np.inf):
        raise ValueError("need a non-empty spectrum without NaN or +inf")
    sums = np.cumsum(lam)
    if lam[0] < 0:
        return 0.0
    if sums[-1] >= 0:
        return float(lam.size)
    j = int(np.flatnonzero(sums >= 0)[-1]) + 1
    return float(j + sums[j - 1] / abs(lam[j]))


@njit(
    types.int64[:, ::1](types.float64[:, ::1], types.int64[::1], types.int64, types.float64, types.float64, types.int64),
    cache=True,
    parallel=True,
)
def _pair_histogram(x, times, theiler, log_r0, step, bins):
    """Counts of pairs |t_i − t_j| > theiler per bin of ln‖x_i − x_j‖ (bin 0: below r0; last: above).

    Rows of the result are chunks of i, summed by the caller (no shared writes between threads).
    """
    n, d = x.shape
    chunks = 64
    out = np.zeros((chunks, bins + 2), dtype=np.int64)
    for c in prange(chunks):
        for i in range(c, n, chunks):
            for j in range(i + 1, n):
                if times[j] - times[i] <= theiler:
                    continue
                s = 0.0
                for m in range(d):
                    diff = x[i, m] - x[j, m]
                    s += diff * diff
                if s == 0.0:
                    out[c, 0] += 1
                    continue
                b = int(np.floor((0.5 * np.log(s) - log_r0) / step)) + 1
                out[c, min(max(b, 0), bins + 1)] += 1
    return out


@dataclass(frozen=True)
class CorrelationDimension:
    """D2 with its evidence: the correlation sum C(r) at ``radii`` and the fitted range."""

    dimension: float
    fit_range: tuple[float, float]
    radii: np.ndarray
    correlation_sum: np.ndarray
    pairs: np.ndarray
    theiler: int
    points: int

    @property
    def local_slopes(self) -> np.ndarray:
        """d ln C / d ln r between successive radii (NaN where C = 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.diff(np.log(self.correlation_sum)) / np.diff(np.log(self.radii))


def correlation_dimension(
    x: ArrayLike,
    *,
    theiler: int = 10,
    max_points: int = 10_000,
    n_radii: int = 48,
    min_pairs: int = 10_000,
    max_radius_fraction: float = 0.25,
    min_decades: float = 1.25,
) -> CorrelationDimension:
    """Grassberger–Procaccia D2 of the points ``x`` (T, d), consecutive in time.

    At most ``max_points`` points are used, evenly strided over the series; ``theiler`` is in
    time steps of ``x``. The correlation sum is evaluated at ``n_radii`` log-spaced radii over six
    decades below the diameter. The scaling region is the range of at least ``min_decades``
    decades, among radii with at least ``min_pairs`` pairs inside and at most
    ``max_radius_fraction`` of the diameter, whose local slopes deviate least (in the maximum
    norm, relative) from its least-squares slope: the flattest plateau of d ln C / d ln r. D2 is
    that slope; NaN if no range qualifies, 0 if all points coincide. Raises ValueError for bad input.
    """
    pts = np.asarray(x, dtype=np.float64)
    if pts.ndim == 1:
        pts = pts[:, None]
    if pts.ndim != 2 or pts.shape[0] < 10:
        raise ValueError(f"x must have shape (T, d) with T >= 10, got {np.shape(x)}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("x contains NaN or inf")
    if theiler < 0 or max_points < 10 or n_radii < 4 or not min_decades > 0:
        raise ValueError(
            f"need theiler >= 0, max_points >= 10, n_radii >= 4, min_decades > 0; got {theiler}, {max_points}, "
            f"{n_radii}, {min_decades}"
        )
    stride = max(1, -(-pts.shape[0] // max_points))
    times = np.arange(0, pts.shape[0], stride, dtype=np.int64)
    sample = np.ascontiguousarray(pts[times])
    diameter = float(np.linalg.norm(sample.max(axis=0) - sample.min(axis=0)))
    if diameter == 0.0:  # a fixed point: dimension 0, no scaling region
        return CorrelationDimension(0.0, (np.nan, np.nan), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), int(theiler), int(sample.shape[0]))
    log_hi = np.log(diameter)
    log_lo = log_hi - np.log(1e6)
    step = (log_hi - log_lo) / (n_radii - 1)
    hist = _pair_histogram(sample, times, int(theiler), log_lo, step, n_radii - 1).sum(axis=0)
    total = int(hist.sum())
    if total == 0:
        raise ValueError(f"no pairs outside the Theiler window {theiler}; use more points or a smaller window")
    inside = np.cumsum(hist)[:-1]  # pairs closer than each radius
    radii = np.exp(log_lo + step * np.arange(n_radii))
    log_r = np.log(radii)
    fit = _scaling_region(log_r, inside, min_pairs, np.log(max_radius_fraction * diameter), min_decades * np.log(10))
    if fit is None:
        dimension, fit_range = np.nan, (np.nan, np.nan)
    else:
        (a, b), dimension = fit
        fit_range = (float(radii[a]), float(radii[b]))
    return CorrelationDimension(dimension, fit_range, radii, inside / total, inside, int(theiler), int(sample.shape[0]))


def _scaling_region(
    log_r: np.ndarray, inside: np.ndarray, min_pairs: int, log_r_max: float, min_width: float
) -> tuple[tuple[int, int], float] | None:
    """Indices (a, b) of the flattest admissible plateau of the local slopes and its slope, or None."""
    usable = np.flatnonzero((inside >= min_pairs) & (log_r <= log_r_max))
    if usable.size < 2:
        return None
    lo, hi = usable[0], usable[-1]
    log_c = np.log(np.maximum(inside, 1))
    slopes = np.diff(log_c) / np.diff(log_r)
    # Prefix sums give every window's least-squares slope in O(1).
    sx, sy = np.r_[0.0, np.cumsum(log_r)], np.r_[0.0, np.cumsum(log_c)]
    sxx, sxy = np.r_[0.0, np.cumsum(log_r * log_r)], np.r_[0.0, np.cumsum(log_r * log_c)]
    best, best_deviation = None, np.inf
    for a in range(lo, hi):
        for b in range(a + 1, hi + 1):
            if log_r[b] - log_r[a] < min_width - 1e-12:
                continue
            n, x, y = b + 1 - a, sx[b + 1] - sx[a], sy[b + 1] - sy[a]
            slope = (n * (sxy[b + 1] - sxy[a]) - x * y) / (n * (sxx[b + 1] - sxx[a]) - x * x)
            deviation = np.max(np.abs(slopes[a:b] - slope)) / max(abs(slope), 1e-12)
            if deviation < best_deviation:
                best, best_deviation = ((a, b), slope), deviation
    return best
