"""What a parallel-in-time solve returns: the trajectory and how it was obtained."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class NewtonResult:
    """A trajectory z_1..z_T of a (forced) recurrence and the record of the Newton solve behind it.

    ``states``: (…, T, M), step t at time index t − 1 (the initial state z_0 is not repeated).
    ``iterations``: Newton steps taken (linear solves by the scan). ``residuals``: the residual
    max_t ‖z_t − G_t(z_{t−1})‖_∞ of the initial guess and of every iterate. ``converged``: whether the
    Newton iterate met the stopping test; when it did not, ``states`` is the sequential loop's
    trajectory (the fallback), never the unconverged iterate, and ``fallback`` says why.
    ``pattern_changes`` (``pwl`` only): per iterate, how many activation bits differ from the pattern
    the iterate was computed with (0 ends the solve). ``sweeps``: Jacobi sweeps Z_t ← G_t(Z_{t−1}) that
    refined the initial guess before the Newton steps (not counted in ``iterations``).
    """

    states: Tensor
    solver: str
    iterations: int
    residuals: list[float]
    converged: bool
    fallback: str | None = None
    pattern_changes: list[int] = field(default_factory=list)
    sweeps: int = 0
