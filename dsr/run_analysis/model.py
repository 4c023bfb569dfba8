"""The analysed model of a run: its Numba face, observation map and coordinates, and its invariants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from dsr.run import Run
from dsr.run_analysis.invariants import Frame, Invariants, dimensions
from dsr.run_analysis.settings import Settings
from dsr.numba_face import member_arrays, numba_face


@dataclass(frozen=True)
class RunModel:
    """The analysed member: Numba face, observation map, run coordinates."""

    face: Any
    member: int
    checkpoint: str
    observe: Callable[[np.ndarray], np.ndarray]
    frame: Frame
    variables: list[str]
    inputs: int


def _observation(ds: xr.Dataset, arrays: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """x̂ = g(z) of ``dsr.models.observation`` in numpy: identity (first N units) or B z + b."""
    n_obs = int(ds.attrs["n_obs"])
    if ds.attrs.get("observation") == "affine":
        matrix, bias = arrays["B"], arrays.get("b", np.zeros(n_obs))
        return lambda z: z @ matrix.T + bias
    return lambda z: z[..., :n_obs]


def load_model(run: Run, checkpoint: str, member: int | None) -> RunModel:
    """Member ``member`` (default: the run's best) of checkpoint ``checkpoint`` of ``run``, with its coordinates."""
    ds = run.params(checkpoint)
    chosen = run.best_member if member is None else int(member)
    face = numba_face(ds, chosen)
    arrays = member_arrays(ds, chosen)
    n_obs = int(ds.attrs["n_obs"])
    return RunModel(
        face=face, member=chosen, checkpoint=checkpoint, observe=_observation(ds, arrays),
        frame=Frame(run.dt, run.standardization(n_obs)),
        variables=run.variables or [f"x{i}" for i in range(n_obs)], inputs=int(ds.attrs.get("inputs", 0)),
    )


def _start_state(run: Run, dim: int) -> np.ndarray:
    """The last state of the run's stored free run (on the attractor), else the origin."""
    z = run.last_state()
    if z is not None and z.shape == (dim,) and np.all(np.isfinite(z)):
        return np.asarray(z, dtype=np.float64)
    return np.zeros(dim)


@dataclass
class ModelAnalysis:
    invariants: Invariants
    search: Any
    code: Any
    region_points: list
    notes: list[str]


def analyze_model(run: Run, model: RunModel, settings: Settings) -> ModelAnalysis:
    from dsr.analysis import cycles, lyapunov, symbolic

    face = model.face
    notes = []
    if model.inputs:
        notes.append(f"the model has {model.inputs} external inputs; its autonomous map (inputs held at 0) is analysed")
    orbit = face.trajectory(settings.trajectory_steps, _start_state(run, face.dim), settings.transient)
    inv = Invariants()
    code, region_points = None, []
    if np.all(np.isfinite(orbit)):
        starts = orbit[np.linspace(0, len(orbit) - 1, settings.initial_conditions).astype(int)]
        inv.spectrum = lyapunov.lyapunov_spectrum(face, starts, steps=settings.steps, transient=settings.transient, dt=model.frame.dt)
        dimensions(inv, model.observe(orbit), settings)
        code = symbolic.symbolic_code(face.pattern(orbit), possible=face.possible_regions())
        region_points = cycles.region_fixed_points(face, code.patterns)
        states = orbit[::10]
    else:
        notes.append("the model's free run diverges: no Lyapunov spectrum, dimensions or symbolic code")
        states = None
    search = cycles.find_cycles(face, settings.order, states=states, seed=settings.seed)
    return ModelAnalysis(inv, search, code, region_points, notes)
