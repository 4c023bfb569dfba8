"""Standardization: the affine map between a data store's units and a model's coordinates.

Each variable j is z-scored with the mean μ_j and standard deviation σ_j of the training part,
x̃_j = (x_j − μ_j) / σ_j, and mapped back by x_j = x̃_j σ_j + μ_j. A fit writes (μ, σ) into its
run store (root attr ``standardization``: ``{"mean": [...], "scale": [...]}``); every reader maps
model output back to the data's units through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dsr.data import TimeSeries


@dataclass(frozen=True)
class Standardization:
    """Per-variable mean and scale (float64, shape (N,)) of x̃ = (x − mean) / scale."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Standardization:
        """The mean and (population) standard deviation of ``values`` (…, N) over all other axes."""
        flat = values.reshape(-1, values.shape[-1])
        return cls(flat.mean(axis=0), flat.std(axis=0))

    @classmethod
    def identity(cls, n: int) -> Standardization:
        return cls(np.zeros(n), np.ones(n))

    @classmethod
    def from_attrs(cls, attrs: dict | None, n: int) -> Standardization:
        """Read ``{"mean": [...], "scale": [...]}`` of ``n`` variables (the identity when ``attrs`` is empty).

        Raises ValueError when the entry is malformed.
        """
        if not attrs:
            return cls.identity(n)
        try:
            return cls(np.asarray(attrs["mean"], dtype=np.float64).reshape(n), np.asarray(attrs["scale"], dtype=np.float64).reshape(n))
        except (TypeError, ValueError, KeyError, IndexError) as err:
            raise ValueError(f"it should hold {n} means and scales ({err})") from None

    def to_attrs(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Data units -> standardized coordinates."""
        return (x - self.mean) / self.scale

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Standardized coordinates -> data units."""
        return x * self.scale + self.mean

    def series(self, ts: TimeSeries) -> TimeSeries:
        """``ts`` with its values standardized (inputs unchanged)."""
        return replace(ts, values=self.apply(ts.values))
