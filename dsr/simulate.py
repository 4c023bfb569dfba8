"""Simulated data stores from the benchmark systems of :mod:`dsr.systems`."""

from __future__ import annotations

import numpy as np
import xarray as xr

from dsr import __version__
from dsr.data import to_dataset
from dsr.errors import DsrError
from dsr.standardization import Standardization


def parse_params(pairs: list[str] | None) -> dict[str, float]:
    """Parse ``["rho=28", "beta=2.5"]`` into ``{"rho": 28.0, "beta": 2.5}``."""
    params: dict[str, float] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            params[key.strip()] = float(value)
        except ValueError:
            raise DsrError(f"parameter '{pair}' is not of the form NAME=NUMBER (e.g. --param rho=28)") from None
    return params


def simulate(
    system: str,
    steps: int,
    dt: float | None = None,
    transient: int = 1000,
    noise: float = 0.0,
    seed: int = 0,
    params: dict[str, float] | None = None,
    trials: int = 1,
    standardize: bool = False,
) -> xr.Dataset:
    """Simulate ``system`` and return a data-store Dataset (see :mod:`dsr.data`).

    Flows are integrated with the fixed-step Numba RK4 of :mod:`dsr.systems` at step
    ``dt`` and sampled every step; maps are iterated (``dt`` is 1). Initial conditions
    (one per trial) are drawn from ``seed`` near the system's reference initial
    condition and spread by a short run; the first ``transient`` steps are discarded. Observation noise is Gaussian with
    standard deviation ``noise`` times each variable's standard deviation (over all
    trials and times); ``standardize`` then rescales each variable to zero mean and
    unit variance, recording the mean and scale in attrs.
    """
    from dsr import systems

    if steps < 2:
        raise DsrError(f"--steps {steps} must be at least 2")
    if transient < 0:
        raise DsrError(f"--transient {transient} must be zero or positive")
    if noise < 0:
        raise DsrError(f"--noise {noise} must be zero or positive (it is relative to each variable's std)")
    if trials < 1:
        raise DsrError(f"--trials {trials} must be at least 1")
    try:
        sys_ = systems.get(system, **(params or {}))
    except ValueError as err:
        raise DsrError(str(err)) from None
    if sys_.kind == "map":
        if dt not in (None, 1.0):
            raise DsrError(f"{system} is a map; --dt does not apply (leave it out)")
        dt_used = 1.0
    else:
        dt_used = sys_.default_dt if dt is None else dt
        if not dt_used > 0:
            raise DsrError(f"--dt {dt} must be positive")

    rng = np.random.default_rng(seed)
    # Every seed has its own initial condition(s), so e.g. a test trajectory simulated
    # with another seed starts elsewhere on the attractor.
    x0 = sys_.sample_initial_conditions(trials, rng)
    x0 = x0[0] if trials == 1 else x0
    clean = sys_.trajectory(steps, dt=None if sys_.kind == "map" else dt_used, x0=x0, transient=transient)
    if not np.all(np.isfinite(clean)):
        raise DsrError(f"{system} diverged with these settings; reduce --dt or change the parameters")
    flat = clean.reshape(-1, sys_.dim)
    values = clean + noise * flat.std(axis=0) * rng.standard_normal(clean.shape)
    attrs = {
        "title": f"{system} simulated by dsr",
        "source": f"dsr {__version__} simulate",
        "system": system,
        "params": dict(sys_.params),
        "dt": dt_used,
        "steps": steps,
        "transient": transient,
        "noise": noise,
        "seed": seed,
        "trials": trials,
        "integrator": "iterated map" if sys_.kind == "map" else "rk4 (fixed step, numba)",
        "standardized": standardize,
    }
    if standardize:
        standardization = Standardization.of(values)
        values = standardization.apply(values)
        attrs |= {"standardization_mean": standardization.mean.tolist(), "standardization_scale": standardization.scale.tolist()}
    return to_dataset(values, dt_used, variables=sys_.variables, attrs=attrs)
