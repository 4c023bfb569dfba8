"""The JSON report pieces: cycles, symbolic code, and the comparison of model and ground truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from dsr.run_analysis.model import RunModel

ZERO_TOLERANCE = 0.01
"""In a sign pattern, |λ| ≤ ZERO_TOLERANCE · Σ|λ_truth| counts as a zero exponent."""


def _bits(pattern: np.ndarray) -> str:
    return "".join(str(int(b)) for b in pattern)


def cycle_report(cycle: Any, model: RunModel) -> dict[str, Any]:
    observed = model.observe(cycle.points)
    return {
        "order": cycle.order, "real": cycle.real, "stable": cycle.stable, "type": cycle.type,
        "max_abs_eigenvalue": cycle.max_abs_eigenvalue,
        "eigenvalues_real": cycle.eigenvalues.real, "eigenvalues_imag": cycle.eigenvalues.imag,
        "regions": [_bits(r) for r in cycle.regions],
        "points_latent": cycle.points, "points": observed, "points_data": model.frame.to_data(observed),
    }


def symbolic_report(code: Any, region_points: list, model: RunModel) -> dict[str, Any]:
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
    sources, targets, counts, probabilities = code.edges()
    return {
        "used": code.used, "possible": code.possible, "regions": regions,
        "transitions": {"from": sources, "to": targets, "count": counts, "probability": probabilities},
        "entropy_rate": code.entropy_rate, "mediators": code.mediators(),
    }


def _sign_pattern(exponents: np.ndarray, tol: float) -> str:
    return "".join("0" if abs(x) <= tol else "+" if x > 0 else "-" for x in np.sort(exponents)[::-1])


def comparison(model: dict[str, Any], truth: dict[str, Any] | None) -> dict[str, Any]:
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
