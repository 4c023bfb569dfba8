"""Lyapunov spectra of benchmark systems and PLRNN-family models.

λ_i = lim_{n→∞} (1/n) ln σ_i(Dfⁿ(x)): the growth rates of the singular values of the orbit's
tangent map, computed by tangent propagation with QR re-orthonormalisation (Benettin et al.,
Meccanica 15, 9 (1980); Shimada & Nagashima, Prog. Theor. Phys. 61, 1605 (1979); the kernels are
in `tangent`). Anything with the face of a ``dsr.systems`` system works: a `dsr.systems.Flow`
(RK4 variational equations), a `dsr.systems.Map`, or a `pwl.PWLModel` (analytic Jacobians).

Units: flows give exponents per time unit; maps per iteration, or per time unit when ``dt`` (the
time one iteration stands for, e.g. the sampling step a model was trained at) is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from dsr.systems import integrate

from . import tangent


class Dynamics(Protocol):
    """What the kernels need: a ``dsr.systems`` system or a `pwl.PWLModel`."""

    kind: str
    dim: int
    param_array: np.ndarray
    numba_rhs: Any
    numba_jacobian: Any


@dataclass(frozen=True)
class LyapunovResult:
    """A (partial) Lyapunov spectrum from K initial conditions, with its running estimates.

    ``per_initial_condition`` (K, k) are the estimates from each start; ``running`` (K, R, k) the
    estimates after the ``times`` (R,) elapsed since the transient (steps, or time units), the
    convergence record. ``unit`` is "per time unit" or "per step".
    """

    per_initial_condition: np.ndarray
    running: np.ndarray
    times: np.ndarray
    unit: str
    steps: int
    transient: int
    interval: int
    dt: float | None
    final_states: np.ndarray

    @property
    def exponents(self) -> np.ndarray:
        """The spectrum (k,): mean over initial conditions."""
        return self.per_initial_condition.mean(axis=0)

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation (k,) over initial conditions (0 for one start)."""
        return self.per_initial_condition.std(axis=0)

    @property
    def drift(self) -> np.ndarray:
        """Largest change (k,) of the running estimate over the second half of the run.

        The running mean converges like 1/time: a drift well below the accuracy wanted says the
        run was long enough.
        """
        half = self.running[:, self.running.shape[1] // 2]
        return np.abs(self.running[:, -1] - half).max(axis=0)

    @property
    def settings(self) -> dict[str, Any]:
        """The options that produced this result (for run-store attrs)."""
        return {
            "steps": self.steps,
            "transient": self.transient,
            "interval": self.interval,
            "dt": self.dt,
            "unit": self.unit,
            "initial_conditions": int(self.per_initial_condition.shape[0]),
            "method": "tangent propagation with Gram-Schmidt QR (CGS with DGKS re-orthogonalisation)",
        }


def lyapunov_spectrum(
    system: Dynamics,
    x0: ArrayLike | None = None,
    *,
    n_exponents: int | None = None,
    steps: int = 10_000,
    transient: int = 1_000,
    interval: int = 1,
    dt: float | None = None,
    initial_conditions: int = 1,
    records: int = 100,
    seed: int = 0,
) -> LyapunovResult:
    """The first ``n_exponents`` (default all) Lyapunov exponents of ``system``, descending.

    ``x0`` (dim,) or (K, dim): the initial conditions; None draws ``initial_conditions`` of them
    (systems: near the reference start, then spread by a run; models: small Gaussian states).
    ``steps`` measured steps (rounded up to a multiple of ``interval``, the steps between
    re-orthonormalisations) follow ``transient`` discarded ones. ``dt``: for flows the RK4 step
    (default the system's); for maps the time one iteration stands for (None: per step).
    ``records`` running estimates are kept. Raises ValueError for invalid options.
    """
    flow = system.kind == "flow"
    k = system.dim if n_exponents is None else int(n_exponents)
    if not 1 <= k <= system.dim:
        raise ValueError(f"n_exponents must be in 1..{system.dim}, got {n_exponents}")
    if steps < 1 or transient < 0 or interval < 1 or records < 1:
        raise ValueError(
            f"need steps >= 1, transient >= 0, interval >= 1 and records >= 1, got "
            f"steps={steps}, transient={transient}, interval={interval}, records={records}"
        )
    if dt is not None and not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    h = (dt if dt is not None else system.default_dt) if flow else 0.0
    starts = _initial_conditions(system, x0, initial_conditions, seed)
    blocks = -(-int(steps) // int(interval))
    n_records = min(int(records), blocks)
    record_at = np.unique(np.ceil(np.arange(1, n_records + 1) * blocks / n_records).astype(np.int64) - 1)
    # Maps that have a combined step and Jacobian (piecewise-linear models) use it: one call per step.
    step_jac = getattr(system, "numba_step_jacobian", None)
    sums, running, finals = tangent.spectrum(
        system.numba_rhs, system.numba_jacobian, step_jac or integrate.no_step_jacobian, step_jac is not None and not flow,
        starts, system.param_array, float(h), flow,
        k, int(transient), blocks, int(interval), record_at,
    )
    time_step = h if flow else (dt or 1.0)
    measured = blocks * int(interval)
    return LyapunovResult(
        per_initial_condition=sums / (measured * time_step),
        running=running / time_step,
        times=(record_at + 1) * int(interval) * time_step,
        unit="per time unit" if flow or dt is not None else "per step",
        steps=measured,
        transient=int(transient),
        interval=int(interval),
        dt=h if flow else dt,
        final_states=finals,
    )


def max_lyapunov(system: Dynamics, x0: ArrayLike | None = None, **options: Any) -> LyapunovResult:
    """The largest exponent alone: one tangent vector instead of dim (same options as `lyapunov_spectrum`)."""
    return lyapunov_spectrum(system, x0, n_exponents=1, **options)


def _initial_conditions(system: Dynamics, x0: ArrayLike | None, count: int, seed: int) -> np.ndarray:
    if x0 is None:
        if count < 1:
            raise ValueError(f"initial_conditions must be >= 1, got {count}")
        rng = np.random.default_rng(seed)
        if hasattr(system, "sample_initial_conditions"):
            return system.sample_initial_conditions(count, rng)
        return 0.1 * rng.standard_normal((count, system.dim))
    starts = np.array(x0, dtype=np.float64, order="C")
    if starts.ndim == 1:
        starts = starts[None]
    if starts.ndim != 2 or starts.shape[1] != system.dim or starts.shape[0] == 0:
        raise ValueError(f"x0 must have shape ({system.dim},) or (K, {system.dim}), got {np.shape(x0)}")
    if not np.all(np.isfinite(starts)):
        raise ValueError("x0 contains NaN or inf")
    return starts
