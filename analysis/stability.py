"""Linear stability type of a fixed point or cycle from the eigenvalues of its linearisation.

Maps (and cycles, through the eigenvalues of the Jacobian product along the orbit): an
eigenvalue contracts if |μ| < 1 and expands if |μ| > 1. Flows: contracts if Re μ < 0, expands
if Re μ > 0. All contracting: stable; all expanding: unstable; both: saddle. A node has only
real eigenvalues, a spiral (focus) a complex pair. An eigenvalue on the boundary (within
``tol``) makes the point non-hyperbolic, whose stability linearisation cannot decide
(Guckenheimer & Holmes, Nonlinear Oscillations, Dynamical Systems, and Bifurcations of Vector
Fields, Springer 1983, §1.7 and §1.4).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def classify(eigenvalues: ArrayLike, discrete: bool, tol: float = 1e-9) -> tuple[bool, str]:
    """(stable, type) with type one of "stable node", "stable spiral", "unstable node",
    "unstable spiral", "saddle", "non-hyperbolic", or "undetermined" for non-finite input."""
    mu = np.asarray(eigenvalues, dtype=np.complex128).ravel()
    rate = np.abs(mu) - 1.0 if discrete else mu.real
    spiral = bool(np.any(np.abs(mu.imag) > tol))
    stable = bool(np.all(rate < -tol))
    if not np.all(np.isfinite(rate)):
        return False, "undetermined"
    if np.any(np.abs(rate) <= tol):
        return stable, "non-hyperbolic"
    if stable:
        return True, "stable spiral" if spiral else "stable node"
    if np.all(rate > tol):
        return False, "unstable spiral" if spiral else "unstable node"
    return False, "saddle"
