"""The xarray groups that `dsr analyze` writes into the run store (``analysis/<name>``)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from dsr.run_analysis.invariants import Invariants
from dsr.run_analysis.model import ModelAnalysis, RunModel
from dsr.jsonable import plain


def _padded(orbits: list[np.ndarray], width: int) -> np.ndarray:
    """Orbits (k_i, width) stacked into (n, max k, width), NaN-padded."""
    longest = max((len(o) for o in orbits), default=0)
    out = np.full((len(orbits), longest, width), np.nan)
    for i, orbit in enumerate(orbits):
        out[i, : len(orbit)] = orbit
    return out


def invariant_groups(inv: Invariants, truth: Invariants | None, base: dict[str, Any]) -> dict[str, xr.Dataset]:
    """The ``lyapunov`` and ``dimensions`` groups of a model's invariants (and the truth's), with attrs ``base``."""
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
    elif truth is not None and truth.series_lyapunov is not None:
        # Estimated from the data: λ1 alone, with the divergence curve it was read from.
        lyap["truth"] = (("truth_exponent",), np.array([truth.series_lyapunov.exponent]))
        lyap["truth_divergence"] = (("truth_divergence_time",), truth.series_lyapunov.divergence)
        lyap["truth_divergence_time"] = (("truth_divergence_time",), truth.series_lyapunov.times)
    truth_settings = {} if truth is None or truth.series_lyapunov is None else {f"truth_{k}": v for k, v in truth.series_lyapunov.settings.items()}
    groups["lyapunov"] = xr.Dataset(lyap, attrs={**base, **({} if sp is None else plain(sp.settings)), **plain(truth_settings)})

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
    return groups


def datasets(report: dict[str, Any], result: ModelAnalysis, truth: Invariants | None, model: RunModel) -> dict[str, xr.Dataset]:
    base = {**report["settings"], "checkpoint": model.checkpoint, "member": model.member, "model_kind": model.face.model_kind}
    groups = invariant_groups(result.invariants, truth, base)
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
        sources, targets, counts, probabilities = code.edges()
        latent = np.array([np.full(model.face.dim, np.nan) if fp is None else fp.points[0] for fp in fps])
        groups["symbolic"] = xr.Dataset(
            {
                "label": (("time",), code.labels.astype(np.int32)),
                "pattern": (("region", "bit"), code.patterns),
                "frequency": (("region",), code.frequencies), "dwell": (("region",), code.dwell),
                "episodes": (("region",), code.episodes),
                "transition_from": (("transition",), sources), "transition_to": (("transition",), targets),
                "transition_count": (("transition",), counts), "transition_probability": (("transition",), probabilities),
                "fixed_point_latent": (("region", "latent"), latent),
                "fixed_point_data": (("region", "variable"), model.frame.to_data(model.observe(latent))),
                "fixed_point_real": (("region",), np.array([fp is not None and fp.real for fp in fps], dtype=bool)),
                "fixed_point_type": (("region",), np.array(["none" if fp is None else fp.type for fp in fps], dtype=object)),
                "fixed_point_max_abs_eigenvalue": (("region",), np.array([np.nan if fp is None else fp.max_abs_eigenvalue for fp in fps])),
                "block_entropy": (("block",), code.block_entropies),
            },
            coords={"variable": np.array(model.variables, dtype=object)},
            # No entropy rate attr when it is not estimable (NaN is not JSON).
            attrs={**base, "used": code.used, "possible": code.possible, "mediators": report["model"]["symbolic"]["mediators"], "entropy_unit": "nats per step",
                   **({"entropy_rate": code.entropy_rate} if np.isfinite(code.entropy_rate) else {})},
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
