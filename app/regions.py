"""Linear subregions visited by a piecewise-linear model's free run, ranked by occupancy.

A PLRNN-family model is affine within each subregion of latent space, named by the on/off
pattern of its ReLU units: the ``pattern`` (time, unit) of the stored free run. The ``TOP``
most visited regions keep their identity; the rest are pooled as "other".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsr.app.style import SEQUENCE

TOP = len(SEQUENCE) - 1
"""Regions with their own colour; the last colour is for all other regions together."""


@dataclass(frozen=True)
class Regions:
    """Region rank per time step (0..TOP-1 for the most visited, TOP for 'other') and their statistics."""

    index: np.ndarray  # (time,) int
    codes: list[str]  # bit pattern of each of the top regions
    occupancy: np.ndarray  # (TOP + 1,) fraction of time
    transitions: np.ndarray  # (TOP + 1, TOP + 1) counts of changes from row to column
    n_regions: int  # distinct regions visited
    n_units: int

    @property
    def names(self) -> list[str]:
        """Legend names of the ranked regions (and 'other' when regions were pooled)."""
        return [f"region {k + 1}" for k in range(len(self.codes))] + (["other regions"] if self.n_regions > TOP else [])


def rank(pattern: np.ndarray) -> Regions:
    """Rank the regions of ``pattern`` (time, unit) by occupancy and count the transitions between them."""
    pattern = np.asarray(pattern, dtype=np.uint8)
    # Packed rows viewed as single opaque values: np.unique on them is ~50x faster than axis=0.
    packed = np.ascontiguousarray(np.packbits(pattern, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    index = np.minimum(position[inverse.ravel()], TOP)
    occupancy = np.bincount(index, minlength=TOP + 1) / len(index)
    change = index[1:] != index[:-1]
    transitions = np.zeros((TOP + 1, TOP + 1), dtype=np.int64)
    np.add.at(transitions, (index[:-1][change], index[1:][change]), 1)
    codes = ["".join(map(str, pattern[first[k]])) for k in order[:TOP]]
    return Regions(index, codes, occupancy, transitions, len(counts), pattern.shape[1])
