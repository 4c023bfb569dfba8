"""The largest Lyapunov exponent of a measured series (Rosenstein, Collins & De Luca 1993).

For state vectors Y_j (observed states or delay vectors, `embedding`), each reference point j
gets its nearest neighbour ĵ farther than the Theiler window w in time (or in another trial);
the pair's distance after i steps, d_j(i) = ‖Y_{j+i} − Y_{ĵ+i}‖, grows like d_j(0)·e^{λ1 i Δt}
until it reaches the attractor's size. The average divergence curve

    y(i) = ⟨ ln d_j(i) ⟩_j,   i = 0..K   (pairs whose both points exist i steps later),

is linear in i over the growth region; λ1 is its least-squares slope there, divided by Δt
(Rosenstein et al., Physica D 65, 117 (1993); Kantz, Phys. Lett. A 185, 77 (1994) averages over
all neighbours within ε instead of the nearest one).

The growth region is fixed by the curve itself: from where it has made 10 % of its total rise
over the K steps (the pairs have aligned with the unstable direction; noise has been outgrown)
to where it has made 70 % (beyond it more and more pairs have reached the attractor's size and
the mean slope falls). Measured on Lorenz-63 and Hénon (`benchmarks/data_lyapunov.py`), this
window was more stable than choosing the most linear stretch of the curve, whose local slopes
are noisy. The curve, the range and the pairs used are returned with the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .embedding import _nearest_outside, as_trials

GROWTH_REGION = (0.1, 0.7)
"""The growth region: from and to where the curve has made these fractions of its total rise."""


@dataclass(frozen=True)
class SeriesLyapunov:
    """λ1 (per time unit with ``dt``, else per step) with the divergence curve it was read from."""

    exponent: float
    divergence: np.ndarray
    times: np.ndarray
    fit_range: tuple[float, float]
    theiler: int
    pairs: int
    unit: str

    @property
    def settings(self) -> dict:
        return {"method": "Rosenstein et al. 1993 (nearest neighbour divergence)", "theiler": self.theiler, "pairs": self.pairs,
                "fit_low": self.fit_range[0], "fit_high": self.fit_range[1], "unit": self.unit}


def mean_period(x: ArrayLike) -> int:
    """The mean period in steps, 1 / (power-weighted mean frequency) of the first channel (Rosenstein's Theiler window)."""
    values = as_trials(x)
    series = values[:, :, 0] - values[:, :, 0].mean(axis=1, keepdims=True)
    power = (np.abs(np.fft.rfft(series, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(series.shape[1])
    mean_frequency = float((freqs[1:] * power[1:]).sum() / power[1:].sum())
    return max(1, int(round(1.0 / mean_frequency)))


def largest_lyapunov(
    x: ArrayLike, dt: float | None = None, *, steps: int | None = None, theiler: int | None = None, max_points: int = 5_000
) -> SeriesLyapunov:
    """λ1 of the states ``x`` ((T, d) or (trials, T, d), consecutive in time; see the module docstring).

    ``steps``: length K of the divergence curve (default: 4 mean periods, at least 20 and at most
    a quarter of the series); ``theiler``: the window in steps (default: the mean period);
    ``max_points`` reference points, evenly strided, are followed (all points are neighbour
    candidates). Raises ValueError for bad input or a series too short for the curve.
    """
    values = as_trials(x)
    n_trials, n_time, width = values.shape
    if dt is not None and not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    period = mean_period(values)
    theiler = period if theiler is None else int(theiler)
    steps = min(max(20, 4 * period), n_time // 4) if steps is None else int(steps)
    if theiler < 0 or steps < 5 or max_points < 10:
        raise ValueError(f"need theiler >= 0, steps >= 5 and max_points >= 10, got {theiler}, {steps}, {max_points}")
    usable = n_time - steps
    if usable < 2 * theiler + 10:
        raise ValueError(f"a series of {n_time} steps is too short to follow pairs for {steps} steps outside a Theiler window of {theiler}")
    # Reference points and neighbours both have `steps` steps ahead within their trial.
    candidates = np.ascontiguousarray(values[:, :usable].reshape(-1, width))
    times, trials = np.tile(np.arange(usable), n_trials), np.repeat(np.arange(n_trials), usable)
    queries = np.arange(0, candidates.shape[0], max(1, -(-candidates.shape[0] // max_points)))
    neighbour, _ = _nearest_outside(candidates, queries, times, trials, theiler)
    queries, neighbour = queries[neighbour >= 0], neighbour[neighbour >= 0]
    if queries.size == 0:
        raise ValueError("no point has a neighbour outside the Theiler window; use a longer series or a smaller window")
    ahead = np.arange(steps + 1)
    row_q, row_n = trials[queries], trials[neighbour]
    a = values[row_q[:, None], times[queries][:, None] + ahead]
    b = values[row_n[:, None], times[neighbour][:, None] + ahead]
    distance = np.linalg.norm(a - b, axis=-1)
    # Identical neighbours (a periodic orbit's next turn) have no logarithm: they are left out.
    keep = np.all(distance > 0, axis=1)
    if not keep.any():
        raise ValueError("every neighbour pair coincides: the series repeats exactly (a periodic orbit has λ1 <= 0)")
    curve = np.log(distance[keep]).mean(axis=0)
    unit_time = 1.0 if dt is None else float(dt)
    t = ahead * unit_time
    slope, (lo, hi) = _growth_slope(t, curve)
    return SeriesLyapunov(slope, curve, t, (float(t[lo]), float(t[hi])), theiler, int(keep.sum()),
                          "per step" if dt is None else "per time unit")


def _growth_slope(t: np.ndarray, curve: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The least-squares slope over the growth region (module docstring) and its index range."""
    rise = curve - curve[0]
    total = rise.max()
    if not total > 0:
        return 0.0, (0, len(curve) - 1)
    lo = int(np.argmax(rise >= GROWTH_REGION[0] * total))
    hi = max(lo + 2, int(np.argmax(rise >= GROWTH_REGION[1] * total)))
    return float(np.polyfit(t[lo : hi + 1], curve[lo : hi + 1], 1)[0]), (lo, hi)
