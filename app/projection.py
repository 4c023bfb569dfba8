"""Which three coordinates a state-space plot shows: chosen variables, or the leading principal components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsr.app.decimate import stride

PCA_SAMPLE = 20_000
"""Rows used to estimate the principal axes (a strided sample: enough for 3 axes)."""


@dataclass(frozen=True)
class Projection:
    """A linear map from the N observed variables to the plotted axes: ``(x - centre) @ basis``."""

    centre: np.ndarray  # (N,)
    basis: np.ndarray  # (N, k)
    labels: tuple[str, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.centre) @ self.basis).astype(np.float32)


def select(variables: list[str], axes: list[str]) -> Projection:
    """Plot the variables named in ``axes`` (unknown names fall back to the first variables)."""
    index = [variables.index(a) if a in variables else i for i, a in enumerate(axes)]
    basis = np.zeros((len(variables), len(index)))
    basis[index, np.arange(len(index))] = 1.0
    return Projection(np.zeros(len(variables)), basis, tuple(variables[i] for i in index))


def pca(reference: np.ndarray, k: int = 3) -> Projection:
    """The ``k`` leading principal axes of ``reference`` (time, N), each variable z-scored first."""
    sample = stride(reference, PCA_SAMPLE).astype(np.float64)
    centre, scale = sample.mean(axis=0), sample.std(axis=0)
    scale[scale == 0] = 1.0
    _, singular, vt = np.linalg.svd((sample - centre) / scale, full_matrices=False)
    explained = singular**2 / np.sum(singular**2)
    basis = vt[:k].T / scale[:, None]
    return Projection(centre, basis, tuple(f"PC{i + 1} ({100 * explained[i]:.0f} %)" for i in range(k)))


def default_axes(variables: list[str]) -> list[str]:
    return variables[: min(3, len(variables))]
