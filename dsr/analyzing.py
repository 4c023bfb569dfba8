"""``dsr analyze``: the invariants of a trained model, of its ground truth, and their comparison.

For a run store, one member of a checkpoint (default: the best checkpoint's best member) is
analysed through its Numba face (`dsr.analysis.pwl`, built from the parameter Dataset, no torch):
Lyapunov spectrum (per time unit, with the data's dt), Kaplan–Yorke and correlation dimension,
fixed points and cycles up to ``order``, and the symbolic code of a long free run with each used
region's fixed point. The ground truth is the true system when the data came from
``dsr simulate`` (store attrs ``system``, ``params``, ``dt``): its spectrum, dimensions and fixed
points; otherwise the data itself (correlation dimension only). The comparison gives the relative
error of λ_max, the sign patterns of the spectra, the dimension differences, and the distance from
each true fixed point to the nearest real fixed point of the model.

Coordinates: the model lives in the standardized coordinates of its training data. Exponents and
dimensions do not change under that affine map; correlation dimensions of model and truth are
both computed on standardized observations. Points are reported latent, observed (standardized)
and in the data's units.

Run-store groups (``analysis/<name>``; the settings in each group's attrs):
- ``lyapunov``: ``exponents`` (exponent), ``spread``, ``drift``, ``per_initial_condition``
  (initial_condition, exponent), ``running`` (initial_condition, record, exponent), ``time``
  (record); the truth's spectrum as ``truth`` (truth_exponent).
- ``dimensions``: 0-d ``kaplan_yorke``, ``correlation_dimension``, ``fit_low``, ``fit_high``,
  ``correlation_sum`` (radius); the truth's as ``truth_kaplan_yorke``, ``truth_correlation_dimension``.
- ``cycles``: per cycle ``order``, ``real``, ``stable``, ``type``, ``max_abs_eigenvalue``,
  ``eigenvalue_real``/``eigenvalue_imag`` (cycle, eigen); per orbit point, padded with NaN to the
  longest orbit: ``points`` (cycle, step, variable; observed, standardized), ``points_data`` (data
  units), ``points_latent`` (cycle, step, latent), ``regions`` (cycle, step, bit).
- ``symbolic``: ``label`` (time); per region ``pattern``, ``frequency``, ``dwell``, ``episodes``, the
  fixed point of its affine map (``fixed_point_latent``, ``fixed_point_data``, ``fixed_point_real``,
  ``fixed_point_type``, ``fixed_point_max_abs_eigenvalue``); ``transitions``, ``probabilities``
  (region, region_to); ``block_entropy``; attrs used, possible, entropy_rate, mediators.
- ``truth`` (when the data came from a system): its ``fixed_points_data`` (fixed_point, variable),
  eigenvalues and types, with the system and parameters in attrs.
- ``comparison``: the comparison table as 0-d variables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dsr import runstore
from dsr.errors import DsrError
from dsr.jsonable import dumps, plain

ZERO_TOLERANCE = 0.01
"""In a sign pattern, |λ| ≤ ZERO_TOLERANCE · Σ|λ_truth| counts as a zero exponent."""


@dataclass(frozen=True)
class Settings:
    """Options of one analysis, stored with every group it writes.

    ``steps``/``transient``: Lyapunov steps of the model from ``initial_conditions`` starts (the
    truth is integrated over the same time span); ``trajectory_steps``: the free run for symbolic
    codes and correlation dimension (at most ``dimension_points`` of its points are paired, Theiler
    window ``theiler`` steps); ``order``: cycles up to this order; ``seed``: random draws.
    """

    order: int = 2
    steps: int = 20_000
    transient: int = 1_000
    initial_conditions: int = 4
    trajectory_steps: int = 100_000
    dimension_points: int = 10_000
    theiler: int = 10
    seed: int = 0

    def checked(self) -> Settings:
        if self.order < 1:
            raise DsrError(f"--order {self.order} must be at least 1 (1 = fixed points only)")
        if self.steps < 1 or self.initial_conditions < 1:
            raise DsrError(f"--steps {self.steps} and the number of initial conditions must be at least 1")
        if self.trajectory_steps < 100:
            raise DsrError(f"--trajectory-steps {self.trajectory_steps} is too short for dimensions; use >= 100")
        if self.transient < 0 or self.theiler < 0:
            raise DsrError(f"the transient ({self.transient}) and Theiler window ({self.theiler}) must be >= 0")
        return self


# ----- public API -----------------------------------------------------------------------------------


def analyze(
    target: str | Path,
    *,
    order: int | None = None,
    params: dict[str, float] | None = None,
    checkpoint: str = "best",
    member: int | None = None,
    settings: Settings | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Analyse a run store or a built-in system; return the report (a JSON-able dict).

    ``target``: a run store, or a system name of ``dsr.systems`` (``params`` override its
    parameters). Runs: ``checkpoint`` and ``member`` choose the model (default: best, the run's
    best member), cycles up to ``order`` (default 2) are searched, and with ``write`` the groups
    of the module docstring are written into the store. Systems: spectrum, dimensions and fixed
    points; ``order`` must be None or 1, since cycle search needs a piecewise-linear model.
    Bad input raises a one-line DsrError.
    """
    base = settings or Settings()
    if Path(target).exists():
        if params:
            raise DsrError("--param sets a built-in system's parameters; drop it for a run store")
        chosen = Settings(**{**asdict(base), "order": 2 if order is None else int(order)}).checked()
        return _analyze_run(Path(target), checkpoint, member, chosen, write)
    from dsr import systems

    if str(target) not in systems.names():
        raise DsrError(f"{target} is neither a run store nor a built-in system (systems: {', '.join(systems.names())})")
    if order is not None and order < 1:
        raise DsrError(f"--order {order} must be at least 1")
    if order is not None and order > 1:
        raise DsrError(
            f"{target} is a smooth system: cycles of order > 1 are searched for piecewise-linear models only "
            "(its fixed points are always computed); drop --order"
        )
    chosen = Settings(**{**asdict(base), "order": 1}).checked()
    try:
        system = systems.get(str(target), **(params or {}))
    except ValueError as err:
        raise DsrError(str(err)) from None
    truth = _system_invariants(system, chosen, None)
    return plain({"target": str(target), "kind": "system", "settings": asdict(chosen), "system": truth.report()})


def analyze_command(
    target: str,
    order: int | None = None,
    json_: bool = False,
    param: list[str] | None = None,
    checkpoint: str = "best",
    member: int | None = None,
    steps: int = Settings.steps,
    trajectory_steps: int = Settings.trajectory_steps,
    seed: int = Settings.seed,
    write: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole ``dsr analyze`` command: parse ``--param NAME=VALUE``, analyse, print.

    Prints one JSON object (``json_``) or tables; returns the report.
    """
    from dsr.simulate import parse_params

    settings = Settings(steps=steps, trajectory_steps=trajectory_steps, seed=seed)
    report = analyze(
        target, order=order, params=parse_params(param), checkpoint=checkpoint, member=member, settings=settings, write=write
    )
    if json_:
        echo(dumps(report))
    else:
        print_report(report)
    return report


# ----- invariants ----------------------------------------------------------------------------------


@dataclass
class _Invariants:
    """Spectrum, dimensions and fixed points of one dynamical system (model or truth)."""

    spectrum: Any = None
    kaplan_yorke: float | None = None
    correlation: Any = None
    fixed_points: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        spectrum, d2 = self.spectrum, self.correlation
        return {
            **self.extra,
            "lyapunov": None if spectrum is None else {
                "exponents": spectrum.exponents, "spread": spectrum.spread, "drift": spectrum.drift,
                "unit": spectrum.unit, "steps": spectrum.steps, "dt": spectrum.dt,
                "initial_conditions": int(spectrum.per_initial_condition.shape[0]),
            },
            "kaplan_yorke": self.kaplan_yorke,
            "correlation_dimension": None if d2 is None else {
                "value": d2.dimension, "fit_range": list(d2.fit_range), "points": d2.points, "theiler": d2.theiler,
            },
            "fixed_points": self.fixed_points,
        }


def _dimensions(inv: _Invariants, observed: np.ndarray, settings: Settings) -> None:
    from dsr.analysis import dimensions

    if inv.spectrum is not None:
        inv.kaplan_yorke = dimensions.kaplan_yorke(inv.spectrum.exponents)
    inv.correlation = dimensions.correlation_dimension(observed, theiler=settings.theiler, max_points=settings.dimension_points)


@dataclass(frozen=True)
class _Frame:
    """Coordinates of a run: system units -> data-store units -> standardized model coordinates."""

    dt: float
    mean: np.ndarray
    scale: np.ndarray
    to_store: Callable[[np.ndarray], np.ndarray] = lambda x: x

    def standardize(self, x: np.ndarray) -> np.ndarray:
        return (self.to_store(x) - self.mean) / self.scale

    def to_data(self, x_standardized: np.ndarray) -> np.ndarray:
        return x_standardized * self.scale + self.mean


def _system_invariants(system: Any, settings: Settings, frame: _Frame | None, sample_dt: float | None = None) -> _Invariants:
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
    inv = _Invariants(spectrum=spectrum)
    _dimensions(inv, orbit if frame is None else frame.standardize(orbit), settings)
    for p in fixed_points.find_fixed_points(system, seed=settings.seed):
        entry = {"point": p.point, "eigenvalues_real": p.eigenvalues.real, "eigenvalues_imag": p.eigenvalues.imag,
                 "stable": p.stable, "type": p.type}
        if frame is not None:
            entry |= {"point_data": frame.to_store(p.point), "point_standardized": frame.standardize(p.point)}
        inv.fixed_points.append(entry)
    inv.extra = {"source": "system", "name": system.name, "params": dict(system.params), "kind": system.kind,
                 "dt": sample, "integration_step": h if flow else None, "published": dict(system.invariants)}
    return inv


def _truth(attrs: dict, frame: _Frame, settings: Settings) -> _Invariants | None:
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
            view = _Frame(frame.dt, frame.mean, frame.scale, _store_units(data_attrs))
            return _system_invariants(system, settings, view, sample_dt=float(data_attrs.get("dt") or frame.dt))
    config = attrs.get("config") or {}
    series = load(data_path, var=config.get("var"), inputs=config.get("inputs"))
    inv = _Invariants(extra={"source": "data", "name": Path(data_path).name})
    _dimensions(inv, frame.standardize(series.values[0]), settings)
    return inv


def _store_units(data_attrs: dict) -> Callable[[np.ndarray], np.ndarray]:
    """System coordinates -> data-store units (``dsr simulate --standardize`` rescaled them)."""
    if data_attrs.get("standardized") and "standardization_mean" in data_attrs:
        mean = np.asarray(data_attrs["standardization_mean"], dtype=np.float64)
        scale = np.asarray(data_attrs["standardization_scale"], dtype=np.float64)
        return lambda x: (x - mean) / scale
    return lambda x: x


# ----- the model of a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunModel:
    """The analysed member: Numba face, observation map, run coordinates."""

    face: Any
    member: int
    checkpoint: str
    observe: Callable[[np.ndarray], np.ndarray]
    frame: _Frame
    variables: list[str]
    inputs: int


def _observation(ds: xr.Dataset, arrays: dict[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """x̂ = g(z) of ``dsr.models.observation`` in numpy: identity (first N units) or B z + b."""
    n_obs = int(ds.attrs["n_obs"])
    if ds.attrs.get("observation") == "affine":
        matrix, bias = arrays["B"], arrays.get("b", np.zeros(n_obs))
        return lambda z: z @ matrix.T + bias
    return lambda z: z[..., :n_obs]


def _member_arrays(ds: xr.Dataset, member: int) -> dict[str, np.ndarray]:
    return {name: np.asarray(ds[name].isel(member=member).values, dtype=np.float64) for name in ds.data_vars}


def numba_face(ds: xr.Dataset, member: int = 0) -> Any:
    """The Numba face (`dsr.analysis.pwl.PWLModel`) of one member of a parameter Dataset.

    ``ds`` is a checkpoint as written by ``dsr.models.to_dataset`` (a run's ``params/<name>``);
    the kind, P and the mean-centring flag come from its attrs. One-line DsrError for a kind
    that is not piecewise linear, a member out of range, or inconsistent parameters.
    """
    from dsr.analysis import pwl

    kind = str(ds.attrs.get("model_kind"))
    if kind not in pwl.KINDS:
        raise DsrError(
            f"model kind {kind!r} is not piecewise linear: fixed points, cycles and regions need one of {', '.join(pwl.KINDS)}"
        )
    members = int(ds.sizes.get("member", 1))
    if not 0 <= member < members:
        raise DsrError(f"--member {member} is out of range: the ensemble has members 0..{members - 1}")
    arrays = _member_arrays(ds, member)
    try:
        return pwl.from_params(kind, arrays, relus=int(ds.attrs.get("relus", 0)), mean_centering=bool(ds.attrs.get("mean_centering", False)))
    except ValueError as err:
        raise DsrError(f"model parameters: {err}") from None


def _load_model(path: Path, checkpoint: str, member: int | None) -> tuple[_RunModel, dict]:
    path = runstore.require_run(path)
    attrs = runstore.read_attrs(path)
    checkpoints = runstore.list_groups(path, runstore.PARAMS)
    if checkpoint not in checkpoints:
        raise DsrError(
            f"{path} has no parameters for checkpoint '{checkpoint}' (it has: {', '.join(checkpoints) or 'none'}); "
            "analyse a run that reached its first evaluation"
        )
    ds = runstore.read_group(path, f"{runstore.PARAMS}/{checkpoint}")
    chosen = int(attrs.get("best_member", 0)) if member is None else int(member)
    face = numba_face(ds, chosen)
    arrays = _member_arrays(ds, chosen)
    n_obs = int(ds.attrs["n_obs"])
    standardization = attrs.get("standardization") or {"mean": [0.0] * n_obs, "scale": [1.0] * n_obs}
    frame = _Frame(float(attrs.get("dt") or 1.0), np.asarray(standardization["mean"], dtype=np.float64),
                   np.asarray(standardization["scale"], dtype=np.float64))
    model = _RunModel(
        face=face, member=chosen, checkpoint=checkpoint, observe=_observation(ds, arrays), frame=frame,
        variables=list(attrs.get("variables") or [f"x{i}" for i in range(n_obs)]), inputs=int(ds.attrs.get("inputs", 0)),
    )
    return model, attrs


def _start_state(path: Path, dim: int) -> np.ndarray:
    """The last state of the run's stored free run (on the attractor), else the origin."""
    if (path / runstore.TRAJECTORY / "zarr.json").exists():
        z = runstore.read_group(path, runstore.TRAJECTORY)["z"].values
        if z.ndim == 2 and z.shape[1] == dim and np.all(np.isfinite(z[-1])):
            return np.asarray(z[-1], dtype=np.float64)
    return np.zeros(dim)


@dataclass
class _ModelAnalysis:
    invariants: _Invariants
    search: Any
    code: Any
    region_points: list
    notes: list[str]


def _analyze_model(path: Path, model: _RunModel, settings: Settings) -> _ModelAnalysis:
    from dsr.analysis import cycles, lyapunov, symbolic

    face = model.face
    notes = []
    if model.inputs:
        notes.append(f"the model has {model.inputs} external inputs; its autonomous map (inputs held at 0) is analysed")
    orbit = face.trajectory(settings.trajectory_steps, _start_state(path, face.dim), settings.transient)
    inv = _Invariants()
    code, region_points = None, []
    if np.all(np.isfinite(orbit)):
        starts = orbit[np.linspace(0, len(orbit) - 1, settings.initial_conditions).astype(int)]
        inv.spectrum = lyapunov.lyapunov_spectrum(face, starts, steps=settings.steps, transient=settings.transient, dt=model.frame.dt)
        _dimensions(inv, model.observe(orbit), settings)
        code = symbolic.symbolic_code(face.pattern(orbit), possible=face.possible_regions())
        region_points = cycles.region_fixed_points(face, code.patterns)
        states = orbit[::10]
    else:
        notes.append("the model's free run diverges: no Lyapunov spectrum, dimensions or symbolic code")
        states = None
    search = cycles.find_cycles(face, settings.order, states=states, seed=settings.seed)
    return _ModelAnalysis(inv, search, code, region_points, notes)


def _analyze_run(path: Path, checkpoint: str, member: int | None, settings: Settings, write: bool) -> dict[str, Any]:
    model, attrs = _load_model(path, checkpoint, member)
    result = _analyze_model(path, model, settings)
    truth = _truth(attrs, model.frame, settings)
    face = model.face
    model_report = {
        "kind": face.model_kind, "member": model.member, "checkpoint": checkpoint, "latent": face.dim,
        "dt": model.frame.dt, "variables": model.variables,
        **result.invariants.report(),
        "cycles": [_cycle_report(c, model) for c in result.search.cycles],
        "cycle_search": [asdict(o) for o in result.search.orders],
        "symbolic": None if result.code is None else _symbolic_report(result.code, result.region_points, model),
        "notes": result.notes,
    }
    model_report.pop("fixed_points")
    truth_report = None if truth is None else truth.report()
    report = {
        "target": str(path), "kind": "run", "settings": asdict(settings),
        "model": model_report, "truth": truth_report, "comparison": _comparison(model_report, truth_report),
    }
    report = plain(report)
    if write:
        groups = _datasets(report, result, truth, model)
        for name, ds in groups.items():
            runstore.write_group(path, f"{runstore.ANALYSIS}/{name}", ds)
        report["groups"] = [f"{runstore.ANALYSIS}/{name}" for name in groups]
    return report


# ----- report pieces -------------------------------------------------------------------------------


def _bits(pattern: np.ndarray) -> str:
    return "".join(str(int(b)) for b in pattern)


def _cycle_report(cycle: Any, model: _RunModel) -> dict[str, Any]:
    observed = model.observe(cycle.points)
    return {
        "order": cycle.order, "real": cycle.real, "stable": cycle.stable, "type": cycle.type,
        "max_abs_eigenvalue": cycle.max_abs_eigenvalue,
        "eigenvalues_real": cycle.eigenvalues.real, "eigenvalues_imag": cycle.eigenvalues.imag,
        "regions": [_bits(r) for r in cycle.regions],
        "points_latent": cycle.points, "points": observed, "points_data": model.frame.to_data(observed),
    }


def _symbolic_report(code: Any, region_points: list, model: _RunModel) -> dict[str, Any]:
    regions = []
    for label in range(code.used):
        fp = region_points[label]
        regions.append({
            "label": label, "pattern": _bits(code.patterns[label]), "frequency": code.frequencies[label],
            "dwell": code.dwell[label], "episodes": code.episodes[label],
            "fixed_point": None if fp is None else {
                "real": fp.real, "type": fp.type, "max_abs_eigenvalue": fp.max_abs_eigenvalue, "latent": fp.points[0],
                "data": model.frame.to_data(model.observe(fp.points[0])),
            },
        })
    return {
        "used": code.used, "possible": code.possible, "regions": regions, "transitions": code.transitions,
        "probabilities": code.probabilities, "entropy_rate": code.entropy_rate, "mediators": code.mediators(),
    }


def _sign_pattern(exponents: np.ndarray, tol: float) -> str:
    return "".join("0" if abs(x) <= tol else "+" if x > 0 else "-" for x in np.sort(exponents)[::-1])


def _comparison(model: dict[str, Any], truth: dict[str, Any] | None) -> dict[str, Any]:
    """λ_max relative error, sign patterns, dimension differences, fixed-point distances."""
    out: dict[str, Any] = {}
    if truth is None:
        return out
    if model["lyapunov"] is not None and truth["lyapunov"] is not None:
        mine, theirs = np.asarray(model["lyapunov"]["exponents"]), np.asarray(truth["lyapunov"]["exponents"])
        lam_m, lam_t = float(mine.max()), float(theirs.max())
        tol = ZERO_TOLERANCE * float(np.abs(theirs).sum())
        # The model's extra latent directions are compared as far as the truth has exponents.
        pattern_m, pattern_t = _sign_pattern(np.sort(mine)[::-1][: len(theirs)], tol), _sign_pattern(theirs, tol)
        out["lambda_max"] = {"model": lam_m, "truth": lam_t, "relative_error": abs(lam_m - lam_t) / abs(lam_t) if lam_t else None}
        out["sign_pattern"] = {"model": pattern_m, "truth": pattern_t, "match": pattern_m == pattern_t, "zero_tolerance": tol}
    for key in ("kaplan_yorke", "correlation_dimension"):
        m, t = _number(model.get(key)), _number(truth.get(key))
        if m is not None and t is not None:
            out[key] = {"model": m, "truth": t, "difference": m - t}
    true_points = [np.asarray(fp["point_standardized"]) for fp in truth["fixed_points"] if "point_standardized" in fp]
    if true_points:
        found = [np.asarray(c["points"][0]) for c in model["cycles"] if c["order"] == 1 and c["real"]]
        out["fixed_points"] = {
            "model_real": len(found), "truth": len(true_points),
            "nearest_distance": [float(min(np.linalg.norm(t - f) for f in found)) if found else None for t in true_points],
        }
    return out


def _number(entry: Any) -> float | None:
    value = entry.get("value") if isinstance(entry, dict) else entry
    return None if value is None or not np.isfinite(value) else float(value)


# ----- run-store groups ------------------------------------------------------------------------------


def _padded(orbits: list[np.ndarray], width: int) -> np.ndarray:
    """Orbits (k_i, width) stacked into (n, max k, width), NaN-padded."""
    longest = max((len(o) for o in orbits), default=0)
    out = np.full((len(orbits), longest, width), np.nan)
    for i, orbit in enumerate(orbits):
        out[i, : len(orbit)] = orbit
    return out


def _datasets(report: dict[str, Any], result: _ModelAnalysis, truth: _Invariants | None, model: _RunModel) -> dict[str, xr.Dataset]:
    base = {**report["settings"], "checkpoint": model.checkpoint, "member": model.member, "model_kind": model.face.model_kind}
    inv = result.invariants
    groups: dict[str, xr.Dataset] = {}
    sp = inv.spectrum
    lyap: dict[str, Any] = {}
    if sp is not None:
        lyap = {
            "exponents": (("exponent",), sp.exponents), "spread": (("exponent",), sp.spread), "drift": (("exponent",), sp.drift),
            "per_initial_condition": (("initial_condition", "exponent"), sp.per_initial_condition),
            "running": (("initial_condition", "record", "exponent"), sp.running), "time": (("record",), sp.times),
        }
    if truth is not None and truth.spectrum is not None:
        lyap["truth"] = (("truth_exponent",), truth.spectrum.exponents)
    groups["lyapunov"] = xr.Dataset(lyap, attrs={**base, **({} if sp is None else plain(sp.settings))})

    dims: dict[str, Any] = {}
    for prefix, source in (("", inv), ("truth_", truth)):
        if source is None or source.correlation is None:
            continue
        d2 = source.correlation
        dims |= {
            f"{prefix}kaplan_yorke": np.float64(np.nan if source.kaplan_yorke is None else source.kaplan_yorke),
            f"{prefix}correlation_dimension": np.float64(d2.dimension),
            f"{prefix}fit_low": np.float64(d2.fit_range[0]), f"{prefix}fit_high": np.float64(d2.fit_range[1]),
            f"{prefix}correlation_sum": ((f"{prefix}radius",), d2.correlation_sum),
            f"{prefix}radius": ((f"{prefix}radius",), d2.radii),
        }
    groups["dimensions"] = xr.Dataset(dims, attrs={**base, "method": "Grassberger-Procaccia, flattest plateau of local slopes"})

    cycles = result.search.cycles
    cycle_orbits = [c.points for c in cycles]
    observed = [model.observe(o) for o in cycle_orbits]
    groups["cycles"] = xr.Dataset(
        {
            "order": (("cycle",), np.array([c.order for c in cycles], dtype=np.int64)),
            "real": (("cycle",), np.array([c.real for c in cycles], dtype=bool)),
            "stable": (("cycle",), np.array([c.stable for c in cycles], dtype=bool)),
            "type": (("cycle",), np.array([c.type for c in cycles], dtype=object)),
            "max_abs_eigenvalue": (("cycle",), np.array([c.max_abs_eigenvalue for c in cycles], dtype=np.float64)),
            "eigenvalue_real": (("cycle", "eigen"), np.array([c.eigenvalues.real for c in cycles]).reshape(len(cycles), model.face.dim)),
            "eigenvalue_imag": (("cycle", "eigen"), np.array([c.eigenvalues.imag for c in cycles]).reshape(len(cycles), model.face.dim)),
            "points": (("cycle", "step", "variable"), _padded(observed, len(model.variables))),
            "points_data": (("cycle", "step", "variable"), _padded([model.frame.to_data(o) for o in observed], len(model.variables))),
            "points_latent": (("cycle", "step", "latent"), _padded(cycle_orbits, model.face.dim)),
            "regions": (("cycle", "step", "bit"), _padded([c.regions for c in cycles], model.face.pattern_size)),
        },
        coords={"variable": np.array(model.variables, dtype=object)},
        attrs={**base, "search": json.dumps(report["model"]["cycle_search"]), **plain(result.search.settings)},
    )

    code = result.code
    if code is not None:
        fps = result.region_points
        latent = np.array([np.full(model.face.dim, np.nan) if fp is None else fp.points[0] for fp in fps])
        groups["symbolic"] = xr.Dataset(
            {
                "label": (("time",), code.labels.astype(np.int32)),
                "pattern": (("region", "bit"), code.patterns),
                "frequency": (("region",), code.frequencies), "dwell": (("region",), code.dwell),
                "episodes": (("region",), code.episodes),
                "transitions": (("region", "region_to"), code.transitions),
                "probabilities": (("region", "region_to"), code.probabilities),
                "fixed_point_latent": (("region", "latent"), latent),
                "fixed_point_data": (("region", "variable"), model.frame.to_data(model.observe(latent))),
                "fixed_point_real": (("region",), np.array([fp is not None and fp.real for fp in fps], dtype=bool)),
                "fixed_point_type": (("region",), np.array(["none" if fp is None else fp.type for fp in fps], dtype=object)),
                "fixed_point_max_abs_eigenvalue": (("region",), np.array([np.nan if fp is None else fp.max_abs_eigenvalue for fp in fps])),
                "block_entropy": (("block",), code.block_entropies),
            },
            coords={"variable": np.array(model.variables, dtype=object)},
            attrs={**base, "used": code.used, "possible": code.possible, "entropy_rate": code.entropy_rate,
                   "mediators": code.mediators(), "entropy_unit": "nats per step"},
        )

    if truth is not None and truth.extra.get("source") == "system":
        fps = truth.fixed_points
        dim = len(model.variables)
        groups["truth"] = xr.Dataset(
            {
                "fixed_points_data": (("fixed_point", "variable"), np.array([fp["point_data"] for fp in fps]).reshape(len(fps), dim)),
                "eigenvalue_real": (("fixed_point", "eigen"), np.array([fp["eigenvalues_real"] for fp in fps]).reshape(len(fps), dim)),
                "eigenvalue_imag": (("fixed_point", "eigen"), np.array([fp["eigenvalues_imag"] for fp in fps]).reshape(len(fps), dim)),
                "stable": (("fixed_point",), np.array([fp["stable"] for fp in fps], dtype=bool)),
                "type": (("fixed_point",), np.array([fp["type"] for fp in fps], dtype=object)),
            },
            coords={"variable": np.array(model.variables, dtype=object)},
            attrs={**base, "system": truth.extra["name"], "params": plain(truth.extra["params"]),
                   "integration_step": truth.extra["integration_step"]},
        )

    numbers, labels = {}, {}
    for key, entry in report["comparison"].items():
        for name, value in entry.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers[f"{key}_{name}"] = np.float64(value)
            else:
                labels[f"{key}_{name}"] = value
    groups["comparison"] = xr.Dataset(numbers, attrs={**base, **labels, "truth": "none" if truth is None else truth.extra["source"]})
    return groups


# ----- printing ---------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.{digits}g}"
    if isinstance(value, list):
        return "(" + ", ".join(_fmt(v, 3) for v in value) + ")"
    return str(value)


def print_report(report: dict[str, Any]) -> None:
    """The report of `analyze` as rich tables on stdout."""
    from rich.console import Console

    console = Console()
    if report["kind"] == "system":
        system = report["system"]
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in system["params"].items())
        console.print(f"[bold]{report['target']}[/bold] ({system['kind']}; {params})")
        _print_invariants(console, system, None)
        published = {k: v for k, v in system["published"].items() if k != "source"}
        if published:
            values = "; ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in published.items())
            console.print(f"published: {values}  [{system['published'].get('source', '')}]", markup=False)
        _print_fixed_points(console, system["fixed_points"])
        return
    model, truth = report["model"], report["truth"]
    console.print(
        f"[bold]{report['target']}[/bold]  {model['kind']} M={model['latent']}, member {model['member']} "
        f"({model['checkpoint']}), dt {_fmt(model['dt'])}; truth: {'none' if truth is None else truth['source'] + ' ' + truth['name']}"
    )
    _print_invariants(console, model, truth)
    _print_comparison(console, report["comparison"])
    _print_cycles(console, model)
    if model["symbolic"] is not None:
        _print_symbolic(console, model["symbolic"])
    if truth is not None and truth["fixed_points"]:
        _print_fixed_points(console, truth["fixed_points"], "true fixed points (data units)")
    for note in model["notes"]:
        console.print(f"note: {note}")
    if report.get("groups"):
        console.print(f"written: {', '.join(report['groups'])}")


def _print_invariants(console: Any, main: dict[str, Any], truth: dict[str, Any] | None) -> None:
    from rich.table import Table

    sources = [("model" if truth is not None or "latent" in main else "value", main)] + ([("truth", truth)] if truth else [])
    spectrum = main["lyapunov"]
    title = f"Lyapunov spectrum ({spectrum['unit']})" if spectrum else "Lyapunov spectrum"
    table = Table("Lyapunov exponent", *(name for name, _ in sources), title=title, title_justify="left")
    rows = max((len(s["lyapunov"]["exponents"]) for _, s in sources if s and s["lyapunov"]), default=0)
    for i in range(min(rows, 10)):
        table.add_row(f"λ{i + 1}", *(_fmt(s["lyapunov"]["exponents"][i]) if s["lyapunov"] and i < len(s["lyapunov"]["exponents"]) else "" for _, s in sources))
    if rows > 10:
        table.add_row(f"({rows - 10} more)", *("" for _ in sources))
    for label, key in (("sum", None), ("Kaplan-Yorke dim.", "kaplan_yorke"), ("correlation dim.", "correlation_dimension")):
        cells = []
        for _, s in sources:
            if key is None:
                cells.append(_fmt(float(np.sum(s["lyapunov"]["exponents"]))) if s["lyapunov"] else "-")
            elif key == "correlation_dimension" and s[key] is not None:
                fit = s[key]["fit_range"]
                cells.append(f"{_fmt(s[key]['value'])} (r in {_fmt(fit[0], 3)}..{_fmt(fit[1], 3)})")
            else:
                cells.append(_fmt(s[key]))
        table.add_row(label, *cells)
    console.print(table)


def _print_comparison(console: Any, comparison: dict[str, Any]) -> None:
    from rich.table import Table

    if not comparison:
        return
    table = Table("measure", "model", "truth", "difference", title="Model against ground truth", title_justify="left")
    if "lambda_max" in comparison:
        lm = comparison["lambda_max"]
        table.add_row("λ_max", _fmt(lm["model"]), _fmt(lm["truth"]), f"{_fmt(100 * lm['relative_error'], 3)} % (relative)" if lm["relative_error"] is not None else "-")
        sp = comparison["sign_pattern"]
        table.add_row("sign pattern", sp["model"], sp["truth"], "match" if sp["match"] else "differs")
    for key, label in (("kaplan_yorke", "Kaplan-Yorke dim."), ("correlation_dimension", "correlation dim.")):
        if key in comparison:
            c = comparison[key]
            table.add_row(label, _fmt(c["model"]), _fmt(c["truth"]), _fmt(c["difference"], 3))
    if "fixed_points" in comparison:
        fp = comparison["fixed_points"]
        table.add_row("fixed points", f"{fp['model_real']} real", str(fp["truth"]), "nearest distances " + _fmt(fp["nearest_distance"]))
    console.print(table)


def _print_cycles(console: Any, model: dict[str, Any]) -> None:
    from rich.table import Table

    methods = ", ".join(f"{o['order']}: {o['method']}" for o in model["cycle_search"])
    table = Table("order", "type", "max |eig|", "regions", "point (data units)", title=f"Fixed points and cycles ({methods})", title_justify="left")
    for c in model["cycles"][:30]:
        regions = " ".join(c["regions"]) if len(c["regions"]) <= 6 else " ".join(c["regions"][:6]) + " ..."
        table.add_row(str(c["order"]), c["type"], _fmt(c["max_abs_eigenvalue"]), regions, _fmt(c["points_data"][0]))
    if len(model["cycles"]) > 30:
        table.add_row(f"({len(model['cycles']) - 30} more)", "", "", "", "")
    if not model["cycles"]:
        table.add_row("-", "none found", "", "", "")
    console.print(table)


def _print_symbolic(console: Any, sym: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        "region", "pattern", "time %", "dwell", "fixed point", "type", "max |eig|", "at (data units)",
        title=f"Symbolic code: {sym['used']} of {sym['possible']} regions used; entropy rate {_fmt(sym['entropy_rate'], 3)} nats/step",
        title_justify="left",
    )
    for r in sym["regions"][:20]:
        fp = r["fixed_point"]
        table.add_row(
            str(r["label"]), r["pattern"], _fmt(100 * r["frequency"], 3), _fmt(r["dwell"], 3),
            "-" if fp is None else ("real" if fp["real"] else "virtual"), "-" if fp is None else fp["type"],
            "-" if fp is None else _fmt(fp["max_abs_eigenvalue"]), "-" if fp is None else _fmt(fp["data"]),
        )
    console.print(table)
    edges = [
        f"{i}→{j} {_fmt(p, 2)}" for i, row in enumerate(sym["probabilities"][:20]) for j, p in enumerate(row[:20]) if p > 0
    ]
    console.print("transitions (P(next region | leaving)): " + (", ".join(edges[:40]) or "none"))
    if sym["mediators"]:
        console.print(f"mediating regions (every passage between the others runs through them): {sym['mediators']}")


def _print_fixed_points(console: Any, points: list[dict[str, Any]], title: str = "fixed points") -> None:
    from rich.table import Table

    table = Table("point", "type", "eigenvalues", title=title, title_justify="left")
    for fp in points[:30]:
        eig = [complex(r, i) for r, i in zip(fp["eigenvalues_real"], fp["eigenvalues_imag"])]
        shown = ", ".join(f"{e.real:.4g}" if abs(e.imag) < 1e-12 else f"{e.real:.4g}{e.imag:+.4g}i" for e in eig[:6])
        table.add_row(_fmt(fp.get("point_data", fp["point"])), fp["type"], shown + (" ..." if len(eig) > 6 else ""))
    console.print(table)
