"""Server-side decimation: no trace sent to the browser has more than ``MAX_POINTS`` points.

Plotly serialises float32 numpy arrays as base64 typed arrays, so traces stay float32 here.
"""

from __future__ import annotations

import numpy as np

MAX_POINTS = 100_000
"""The most points of one trace the app ever sends to the browser."""


def stride_step(n: int, max_points: int) -> int:
    """The smallest k such that every k-th of ``n`` rows is at most ``max_points`` (≤ MAX_POINTS) rows."""
    max_points = max(2, min(int(max_points), MAX_POINTS))
    return max(1, -(-n // max_points))


def stride(x: np.ndarray, max_points: int) -> np.ndarray:
    """Every k-th row of ``x`` (first axis) as float32, at most ``max_points`` rows (a sample of the whole series)."""
    return np.asarray(x[:: stride_step(len(x), max_points)], dtype=np.float32)


def tail(n: int, max_points: int) -> slice:
    """The last ≤ ``max_points`` (≤ MAX_POINTS) of ``n`` rows: the stretch of a state-space curve that is drawn.

    A contiguous stretch at full resolution keeps a 3-D curve smooth, where a stride would
    replace each winding by a few chords (and min/max per bucket would join points of
    different windings); the end of a free run is the part furthest from its start.
    """
    max_points = max(2, min(int(max_points), MAX_POINTS))
    return slice(max(0, n - max_points), n)


def envelope(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` in equal buckets of time, in time order: the visible envelope of a 2-D line.

    Returns ``(t, y)`` of at most ``max_points`` points; shorter series come back unchanged.
    """
    max_points = max(2, min(int(max_points), MAX_POINTS))
    n = len(y)
    if n <= max_points:
        return np.asarray(t, dtype=np.float32), np.asarray(y, dtype=np.float32)
    buckets = max_points // 2
    size = n // buckets
    blocks = np.asarray(y[: buckets * size]).reshape(buckets, size)
    lo, hi = blocks.argmin(axis=1), blocks.argmax(axis=1)
    offsets = np.arange(buckets) * size
    # Each bucket contributes its min and max in the order they occur.
    first, second = np.minimum(lo, hi) + offsets, np.maximum(lo, hi) + offsets
    index = np.stack([first, second], axis=1).ravel()
    return np.asarray(t[index], dtype=np.float32), np.asarray(y[index], dtype=np.float32)
