"""Invariants of one dynamical system (spectrum, dimensions, fixed points) and the ground truth of a run."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsr.run_analysis.settings import Settings
from dsr.standardization import Standardization


@dataclass
class Invariants:
    """Spectrum, dimensions and fixed points of one dynamical system (model or truth)."""

    spectrum: Any = None
    kaplan_yorke: float | None = None
    correlation: Any = None
    fixed_points: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    series_lyapunov: Any = None

    def report(self) -> dict[str, Any]:
        spectrum, d2, series = self.spectrum, self.correlation, self.series_lyapunov
        lyapunov = None
        if spectrum is not None:
            lyapunov = {
                "exponents": spectrum.exponents, "spread": spectrum.spread, "drift": spectrum.drift,
                "unit": spectrum.unit, "steps": spectrum.steps, "dt": spectrum.dt,
                "initial_conditions": int(spectrum.per_initial_condition.shape[0]),
            }
        elif series is not None:
            lyapunov = {"exponents": [series.exponent], "source": "series", **series.settings}
        return {
            **self.extra,
            "lyapunov": lyapunov,
            "kaplan_yorke": self.kaplan_yorke,
            "correlation_dimension": None if d2 is None else {
                "value": d2.dimension, "fit_range": list(d2.fit_range), "points": d2.points, "theiler": d2.theiler,
            },
            "fixed_points": self.fixed_points,
        }


def dimensions(inv: Invariants, observed: np.ndarray, settings: Settings) -> None:
    from dsr.analysis import dimensions as estimators  # aliased: this function is named dimensions

    if inv.spectrum is not None:
        inv.kaplan_yorke = estimators.kaplan_yorke(inv.spectrum.exponents)
    inv.correlation = estimators.correlation_dimension(observed, theiler=settings.theiler, max_points=settings.dimension_points)


@dataclass(frozen=True)
class Frame:
    """Coordinates of a run: system units -> data-store units (``to_store``) -> standardized model coordinates."""

    dt: float
    standardization: Standardization
    to_store: Callable[[np.ndarray], np.ndarray] = lambda x: x

    def standardize(self, x: np.ndarray) -> np.ndarray:
        return self.standardization.apply(self.to_store(x))

    def to_data(self, x_standardized: np.ndarray) -> np.ndarray:
        return self.standardization.invert(x_standardized)


def system_invariants(system: Any, settings: Settings, frame: Frame | None, sample_dt: float | None = None) -> Invariants:
    """Spectrum, dimensions and fixed points of a ``dsr.systems`` system.

    Flows are integrated by RK4 at the largest step not above the system's default that divides
    the sampling step ``sample_dt`` (default: the system's dt), and sampled at ``sample_dt``. With
    a run's ``frame`` the samples are standardized like the run's data and the spectrum covers the
    model's time span (``settings.steps`` model steps).
    """
    from dsr.analysis import fixed_points, lyapunov

    flow = system.kind == "flow"
    sample = sample_dt or (system.default_dt if flow else 1.0)
    substeps = max(1, math.ceil(sample / system.default_dt - 1e-9)) if flow else 1
    h = sample / substeps
    span = settings.steps * (frame.dt if frame else sample)
    # A map's iteration stands for the data's sampling step when it has one; alone, exponents are per step.
    spectrum = lyapunov.lyapunov_spectrum(
        system, steps=max(1, round(span / h)), transient=settings.transient * substeps,
        dt=h if flow or frame is not None else None, initial_conditions=settings.initial_conditions, seed=settings.seed,
    )
    orbit = system.trajectory(settings.trajectory_steps * substeps, dt=h if flow else None, transient=settings.transient * substeps)
    orbit = orbit[::substeps]
    inv = Invariants(spectrum=spectrum)
    dimensions(inv, orbit if frame is None else frame.standardize(orbit), settings)
    for p in fixed_points.find_fixed_points(system, seed=settings.seed):
        entry = {"point": p.point, "eigenvalues_real": p.eigenvalues.real, "eigenvalues_imag": p.eigenvalues.imag,
                 "stable": p.stable, "type": p.type}
        if frame is not None:
            entry |= {"point_data": frame.to_store(p.point), "point_standardized": frame.standardize(p.point)}
        inv.fixed_points.append(entry)
    inv.extra = {"source": "system", "name": system.name, "params": dict(system.params), "kind": system.kind,
                 "dt": sample, "integration_step": h if flow else None, "published": dict(system.invariants)}
    return inv


def ground_truth(attrs: dict, frame: Frame, settings: Settings) -> Invariants | None:
    """The ground truth of a run: the simulated system, else the data; None without readable data."""
    from dsr import systems
    from dsr.data import load
    from dsr.zarrstore import open_store

    data_path = attrs.get("data_path")
    if not data_path or not Path(data_path).exists():
        return None
    data_attrs = dict(open_store(data_path).attrs)
    if data_attrs.get("system") in systems.names():
        try:
            system = systems.get(data_attrs["system"], **(data_attrs.get("params") or {}))
        except ValueError:
            system = None
        if system is not None:
            view = Frame(frame.dt, frame.standardization, _store_units(data_attrs))
            return system_invariants(system, settings, view, sample_dt=float(data_attrs.get("dt") or frame.dt))
    config = attrs.get("config") or {}
    series = load(data_path, var=config.get("var"), inputs=config.get("inputs"))
    return data_invariants(frame.standardize(series.values), series.dt, Path(data_path).name, settings)


def data_invariants(states: np.ndarray, dt: float, name: str, settings: Settings) -> Invariants:
    """λ1 and the correlation dimension estimated from a measured series (trial, time, variable).

    λ1 by Rosenstein's method (`dsr.analysis.series_lyapunov`) on the observed states; a single
    variable is delay-embedded first with the lag and dimension `dsr embed --auto` chooses.
    The correlation dimension uses the first trial's states, as for models.
    """
    from dsr.analysis import embedding, series_lyapunov

    extra: dict[str, Any] = {"source": "data", "name": name, "dt": dt}
    try:
        if states.shape[2] == 1:
            lag = embedding.choose_lag(states).lag
            dim = embedding.choose_dimension(states, lag).dim
            states = embedding.delay_embed(states, dim, lag)
            extra["embedding"] = {"lag": lag, "dim": dim, "note": "one variable: delay-embedded for λ1 and the correlation dimension"}
        lyap = series_lyapunov.largest_lyapunov(states, dt)
    except ValueError as err:  # a series too short to embed or to follow pairs
        lyap = None
        extra["lyapunov_note"] = f"λ1 not estimated: {err}"
    inv = Invariants(extra=extra, series_lyapunov=lyap)
    dimensions(inv, states[0], settings)
    return inv


def _store_units(data_attrs: dict) -> Callable[[np.ndarray], np.ndarray]:
    """System coordinates -> data-store units (``dsr simulate --standardize`` rescaled them)."""
    if data_attrs.get("standardized") and "standardization_mean" in data_attrs:
        mean = np.asarray(data_attrs["standardization_mean"], dtype=np.float64)
        return Standardization(mean, np.asarray(data_attrs["standardization_scale"], dtype=np.float64)).apply
    return lambda x: x
