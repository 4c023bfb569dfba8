"""The fixed-points panel: the model's fixed points and cycles with their stability, and the true ones.

Reads ``analysis/cycles`` (per cycle: ``order``, ``stable``, ``real``, ``type``,
``max_abs_eigenvalue`` and the orbit ``points_data`` (cycle, step, variable) in the data's
units, NaN-padded to the longest orbit) and ``analysis/truth`` (``fixed_points_data``,
``stable``, ``type``) as ``dsr analyze`` writes them. The real orbits are also drawn on the
attractor (:mod:`dsr.app.panel_attractor`); virtual ones (outside their own linear region)
are only listed.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from dash import html

from dsr.app.components import card, not_analysed, note
from dsr.app.runview import RunView
from dsr.app.scene import Orbit

CYCLES, TRUTH = "cycles", "truth"
MAX_ROWS = 50
"""Orbits listed in the table (all real ones are drawn)."""


def _column(ds: xr.Dataset, name: str, n: int, default: object) -> list:
    """Variable ``name`` (one value per orbit) as a list, or ``default`` n times when absent."""
    return np.asarray(ds[name].values).tolist() if name in ds else [default] * n


def _model_orbits(ds: xr.Dataset, run: RunView) -> list[Orbit]:
    if "points_data" in ds:
        points = np.asarray(ds["points_data"].values, dtype=float)
    elif "points" in ds:  # observed, standardized
        points = run.unstandardize(np.asarray(ds["points"].values, dtype=float)).astype(np.float32)
    else:
        return []
    n = points.shape[0]
    orders = _column(ds, "order", n, points.shape[1] if points.ndim == 3 else 1)
    stable, radius = _column(ds, "stable", n, None), _column(ds, "max_abs_eigenvalue", n, None)
    kinds, real = _column(ds, "type", n, ""), _column(ds, "real", n, True)
    orbits = []
    for k in range(n):
        orbit = points[k].reshape(-1, points.shape[-1])[: int(orders[k])]
        orbit = orbit[np.all(np.isfinite(orbit), axis=1)]
        if len(orbit):
            orbits.append(Orbit(orbit, None if stable[k] is None else bool(stable[k]), radius[k], str(kinds[k]), bool(real[k])))
    return orbits


def _true_fixed_points(ds: xr.Dataset) -> list[Orbit]:
    if "fixed_points_data" not in ds:
        return []
    points = np.asarray(ds["fixed_points_data"].values, dtype=float)
    stable, kinds = _column(ds, "stable", len(points), None), _column(ds, "type", len(points), "")
    return [Orbit(points[k][None, :], None if stable[k] is None else bool(stable[k]), None, str(kinds[k]), truth=True) for k in range(len(points))]


def read(run: RunView) -> list[Orbit] | None:
    """The analysed member's fixed points and cycles and the true fixed points, or None when not analysed."""
    cycles = run.analysis(CYCLES)
    if cycles is None:
        return None
    truth = run.analysis(TRUTH)
    return _model_orbits(cycles, run) + ([] if truth is None else _true_fixed_points(truth))


def table(orbits: list[Orbit], variables: list[str]) -> html.Table:
    """One row per orbit: what it is, its type (which tells the stability), max |eigenvalue| and its (first) point."""
    header = html.Tr([html.Th(h) for h in ("", "type", "max |eig|", *variables)])
    rows = [
        html.Tr(
            [html.Td(o.kind + ("" if o.real else " (virtual)")), html.Td(o.type or o.label),
             html.Td("" if o.spectral_radius is None else f"{o.spectral_radius:.3g}", className="num"),
             *(html.Td(f"{v:.3g}", className="num") for v in o.points[0])]
        )
        for o in orbits[:MAX_ROWS]
    ]
    return html.Table([html.Thead(header), html.Tbody(rows)], className="runs")


def component(run: RunView, display: str, orbits: list[Orbit] | None) -> html.Div:
    title = "Fixed points and cycles"
    if orbits is None:
        return card(title, not_analysed(display, "fixed points and cycles"))
    if not orbits:
        return card(title, note("the analysis found no fixed points or cycles"))
    more = [note(f"{len(orbits) - MAX_ROWS} more not listed")] if len(orbits) > MAX_ROWS else []
    legend = note("on the attractor: filled = stable, open = unstable, black diamonds = the true system's fixed points; virtual ones are not drawn")
    return card(title, legend, table(orbits, run.variables), *more)
