"""Delay embedding of scalar or few-channel series: the lag by mutual information, the dimension by false nearest neighbours.

Delay vectors (Takens, Lecture Notes in Math. 898, 366 (1981); Sauer, Yorke & Casdagli, J. Stat.
Phys. 65, 579 (1991)) of a series with k channels x_t ∈ R^k, with ``dim`` delays of ``lag`` steps,

    v_t = (x_t, x_{t−τ}, ..., x_{t−(m−1)τ}) ∈ R^{m·k},   t = (m−1)τ, ..., T−1,

grouped by channel (all delays of channel 1, then of channel 2, ...). The vector at time t uses
the past only, so a model fitted to it predicts from what was known at t.

Lag: the first minimum of the histogram mutual information between x_t and x_{t+τ} (Fraser &
Swinney, Phys. Rev. A 33, 1134 (1986)), with equal-width bins over each channel's range,

    I(τ) = Σ_ij p_ij(τ) ln( p_ij(τ) / (p_i p_j) )   (nats),

pooled over trials (pairs never straddle two trials). Without a minimum up to the largest lag
scanned, the first lag where I(τ) ≤ I(0)/e is taken (the decorrelation rule of the same
tradition; the rule used is returned).

Dimension: false nearest neighbours (Kennel, Brown & Abarbanel, Phys. Rev. A 45, 3403 (1992)).
For every point of the m-delay embedding its nearest neighbour (Euclidean, farther than the
Theiler window in time or in another trial; Theiler, Phys. Rev. A 34, 2427 (1986)) is false when
adding the next delay separates them:

    |x_{t+τ} − x_{s+τ}| / R_m > R_tol   (criterion 1)   or   R_{m+1} / R_A > A_tol   (criterion 2),

for the vectors (x_t, ..., x_{t−(m−1)τ}) extended by the next value forward in time (forward, since
going back separates true neighbours at the rate of the most negative exponent), R_m the
neighbours' distance in m delays, R_A the series' standard deviation (root of the summed
channel variances), R_tol = 15 and A_tol = 2 as in the paper. The dimension is the smallest m
whose fraction of false neighbours is at most ``threshold`` (default 2 %: on Lorenz-63 x, 2 %
observation noise leaves 1.4 % with 3 delays, 5 % noise 1.9 % with 4). With k channels the m-th delay of
every channel is added at once.

PECUZAL (Kraemer et al., New J. Phys. 23, 033017 (2021)) was considered: its package
``pecuzal-embedding`` requires scipy < 1.9 and fails with the scipy this project needs (measured,
see the notebooks' docs), and FNN finds the textbook answers (Lorenz-63: 3; a sine: 2), which
the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

KENNEL_RTOL = 15.0
KENNEL_ATOL = 2.0


def as_trials(x: ArrayLike) -> np.ndarray:
    """A series as (trial, time, channel) float64: (T,) is one channel, (T, k) one trial."""
    values = np.asarray(x, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[1] < 2 or values.shape[2] < 1:
        raise ValueError(f"x must have shape (T,), (T, k) or (trials, T, k) with T >= 2, got {np.shape(x)}")
    if not np.all(np.isfinite(values)):
        raise ValueError("x contains NaN or inf")
    return values


def delay_embed(x: ArrayLike, dim: int, lag: int) -> np.ndarray:
    """Delay vectors (trial, T − (dim−1)·lag, dim·k) of ``x`` (see the module docstring for the order)."""
    values = as_trials(x)
    if dim < 1 or lag < 1:
        raise ValueError(f"need dim >= 1 and lag >= 1, got dim={dim}, lag={lag}")
    span = (dim - 1) * lag
    n_time = values.shape[1]
    if n_time - span < 2:
        raise ValueError(f"a series of {n_time} steps is too short for {dim} delays of {lag} steps (needs more than {span + 1})")
    columns = [values[:, span - j * lag : n_time - j * lag, c] for c in range(values.shape[2]) for j in range(dim)]
    return np.stack(columns, axis=-1)


def mutual_information(x: ArrayLike, max_lag: int, bins: int = 16) -> np.ndarray:
    """I(τ) in nats for τ = 0..max_lag (max_lag + 1, k), one column per channel (module docstring)."""
    values = as_trials(x)
    n_trials, n_time, channels = values.shape
    if not 1 <= max_lag < n_time - 1:
        raise ValueError(f"max_lag must be in 1..{n_time - 2} for a series of {n_time} steps, got {max_lag}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    out = np.empty((max_lag + 1, channels))
    for c in range(channels):
        column = values[:, :, c]
        low, high = column.min(), column.max()
        if high == low:
            raise ValueError(f"channel {c} is constant; it carries no information to embed")
        index = np.minimum(((column - low) / (high - low) * bins).astype(np.int64), bins - 1)
        for lag in range(max_lag + 1):
            a, b = index[:, : n_time - lag].ravel(), index[:, lag:].ravel()
            joint = np.bincount(a * bins + b, minlength=bins * bins).reshape(bins, bins) / a.size
            pa, pb = joint.sum(axis=1), joint.sum(axis=0)
            nz = joint > 0
            out[lag, c] = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))
    return out


@dataclass(frozen=True)
class LagChoice:
    """The chosen lag (steps) with its evidence: I(τ) per channel and the rule that chose it."""

    lag: int
    per_channel: tuple[int, ...]
    rules: tuple[str, ...]
    information: np.ndarray


def first_minimum(information: np.ndarray, floor: float = 0.0) -> tuple[int, str]:
    """The first local minimum τ ≥ 1 of I(τ) above ``floor``, else the first τ with I(τ) ≤ I(0)/e, else the last lag.

    ``floor``: the estimator's bias for independent values; minima below it are wiggles of a
    signal that has decorrelated (a map's series), not the minimum the rule looks for.
    """
    for lag in range(1, len(information) - 1):
        if information[lag] <= floor:
            break
        if information[lag] < information[lag - 1] and information[lag] <= information[lag + 1]:
            return lag, "first minimum of the mutual information"
    below = np.flatnonzero(information <= information[0] / np.e)
    if below.size:
        return int(below[0]), "no minimum: first lag with I <= I(0)/e"
    return len(information) - 1, "no minimum and no decay to I(0)/e: the largest lag scanned"


def choose_lag(x: ArrayLike, max_lag: int | None = None, bins: int = 16) -> LagChoice:
    """The lag of the module docstring; with several channels the smallest of their lags.

    ``max_lag`` defaults to min(200, T/10) steps.
    """
    values = as_trials(x)
    if max_lag is None:
        max_lag = max(2, min(200, values.shape[1] // 10))
    information = mutual_information(values, max_lag, bins)
    # Bias of the histogram estimate for independent values, (bins − 1)² / (2N) (Roulston, Physica D 125, 285 (1999)); twice it as the floor.
    floor = (bins - 1) ** 2 / values[:, : values.shape[1] - max_lag].size
    picks = [first_minimum(information[:, c], floor) for c in range(values.shape[2])]
    lags = tuple(max(1, p[0]) for p in picks)
    return LagChoice(min(lags), lags, tuple(p[1] for p in picks), information)


def false_neighbours(x: ArrayLike, lag: int, max_dim: int = 10, theiler: int | None = None, max_points: int = 20_000) -> np.ndarray:
    """Fractions (max_dim,) of false nearest neighbours for 1..max_dim delays (module docstring).

    ``theiler``: neighbours closer in time within a trial are skipped (default: ``lag``);
    at most ``max_points`` query points, evenly strided, are tested (all points are candidates).
    """
    values = as_trials(x)
    if theiler is None:
        theiler = lag
    if max_dim < 1 or theiler < 0:
        raise ValueError(f"need max_dim >= 1 and theiler >= 0, got {max_dim}, {theiler}")
    scale = float(np.sqrt(values.reshape(-1, values.shape[2]).var(axis=0).sum()))
    fractions = np.empty(max_dim)
    for m in range(1, max_dim + 1):
        # Points that also have the (m+1)-th delay, so that every neighbour pair can be extended.
        extended = delay_embed(values, m + 1, lag)
        k = values.shape[2]
        # The m older delays against the newest value: a step forward in time separates true neighbours
        # at the rate of λ1, a step back at that of the most negative exponent (e^{14.6·0.5} for Lorenz-63).
        keep = np.array([c * (m + 1) + j for c in range(k) for j in range(1, m + 1)])
        added = np.array([c * (m + 1) for c in range(k)])
        points, extra = extended[..., keep], extended[..., added]
        n_trials, n_time = points.shape[:2]
        times = np.tile(np.arange(n_time), n_trials)
        trials = np.repeat(np.arange(n_trials), n_time)
        flat, flat_extra = points.reshape(-1, points.shape[-1]), extra.reshape(-1, k)
        queries = np.arange(0, flat.shape[0], max(1, -(-flat.shape[0] // max_points)))
        neighbour, distance = _nearest_outside(flat, queries, times, trials, theiler)
        found = neighbour >= 0
        q, nb, r = queries[found], neighbour[found], distance[found]
        growth = np.linalg.norm(flat_extra[q] - flat_extra[nb], axis=1)
        # Coinciding points (a periodic orbit's next turn) separate by rounding only: floor both at rounding.
        floor = 1e-9 * scale
        first = np.maximum(growth, floor) > KENNEL_RTOL * np.maximum(r, floor)
        second = np.sqrt(r**2 + growth**2) / scale > KENNEL_ATOL
        fractions[m - 1] = float(np.mean(first | second)) if q.size else np.nan
    return fractions


def _nearest_outside(points: np.ndarray, queries: np.ndarray, times: np.ndarray, trials: np.ndarray, theiler: int) -> tuple[np.ndarray, np.ndarray]:
    """For each query point its nearest point not within ``theiler`` steps in the same trial (index, distance; -1 if none)."""
    tree = cKDTree(points)
    # Self plus at most 2·theiler temporal neighbours can be excluded; one more is always admissible.
    k = min(points.shape[0], 2 * theiler + 2)
    distance, index = tree.query(points[queries], k=k)
    distance, index = distance.reshape(len(queries), k), index.reshape(len(queries), k)
    close = (trials[index] == trials[queries, None]) & (np.abs(times[index] - times[queries, None]) <= theiler)
    first = np.argmax(~close, axis=1)
    ok = ~close[np.arange(len(queries)), first]
    return np.where(ok, index[np.arange(len(queries)), first], -1), np.where(ok, distance[np.arange(len(queries)), first], np.nan)


@dataclass(frozen=True)
class DimensionChoice:
    """The chosen number of delays with the FNN fractions for 1..max_dim delays; ``found`` is False
    when no dimension up to max_dim brought the fraction to the threshold (then dim = max_dim)."""

    dim: int
    fractions: np.ndarray
    threshold: float
    theiler: int
    found: bool


def choose_dimension(x: ArrayLike, lag: int, max_dim: int = 10, threshold: float = 0.02, theiler: int | None = None) -> DimensionChoice:
    """The smallest number of delays whose false-neighbour fraction is at most ``threshold``.

    Clean Lorenz-63 x (dt 0.01, lag 18, 20 000 steps): 99 % with 1 delay, 6 % with 2, 0.08 % with 3.
    """
    theiler = lag if theiler is None else theiler
    fractions = false_neighbours(x, lag, max_dim, theiler)
    below = np.flatnonzero(fractions <= threshold)
    if below.size:
        return DimensionChoice(int(below[0]) + 1, fractions, threshold, theiler, True)
    return DimensionChoice(max_dim, fractions, threshold, theiler, False)
