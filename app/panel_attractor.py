"""The attractor panel: data against the model's free run in 3-D, with fixed points and cycles.

The user picks three variables, or (N > 3) the three leading principal components of the
data, and whether to colour by source (data / model) or by the model's linear region. The
panel is used by the run page (data, model, orbits) and the data page (data only), each with
its own id prefix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html

from dsr.app import projection
from dsr.app.components import card, graph, note, styled
from dsr.app.decimate import tail
from dsr.app.scene import Orbit, Scene, Series
from dsr.app.style import SEQUENCE, STABLE_COLOR, TRUTH_COLOR, UNSTABLE_COLOR

POINT_CHOICES = (5_000, 10_000, 20_000, 50_000, 100_000)
DEFAULT_POINTS = 10_000
"""Steps per trace drawn at first: the last 10 000 (100 time units at dt 0.01, some 130 windings of
Lorenz-63), which keeps a 100 000-step run page interactive in under 2 s in software WebGL; up to
100 000 on request."""
HEIGHT = 560


def ids(prefix: str) -> dict[str, str]:
    return {k: f"{prefix}-{k}" for k in ("mode", "colour", "x", "y", "z", "points", "graph", "source")}


def _projection(scene: Scene, mode: str, axes: list[str]) -> projection.Projection:
    if mode == "pca":
        return projection.pca(scene.series[0].values)
    return projection.select(scene.variables, axes)


def _orbit_traces(orbits: list[Orbit], project: projection.Projection) -> list[go.Scatter3d]:
    """One trace per kind of orbit (e.g. "unstable 2-cycle"): cycles closed, separated by NaN rows."""
    groups: dict[str, list[np.ndarray]] = {}
    style: dict[str, Orbit] = {}
    for orbit in orbits:
        if not orbit.real:
            continue
        p = project(orbit.points)
        if orbit.period > 1:
            p = np.vstack([p, p[:1]])  # close the cycle
        groups.setdefault(orbit.label, []).extend([p, np.full((1, 3), np.nan, dtype=np.float32)])
        style[orbit.label] = orbit
    traces = []
    for label, parts in groups.items():
        orbit, p = style[label], np.vstack(parts)
        color = TRUTH_COLOR if orbit.truth else STABLE_COLOR if orbit.stable else UNSTABLE_COLOR
        symbol = "diamond" if orbit.truth else "circle" if orbit.stable else "circle-open"
        traces.append(
            go.Scatter3d(
                x=p[:, 0], y=p[:, 1], z=p[:, 2], name=label, mode="markers" if orbit.period == 1 else "lines+markers",
                marker=dict(size=6, color=color, symbol=symbol, line=dict(width=2, color=color)),
                line=dict(color=color, width=3, dash="solid" if orbit.stable else "dash"), connectgaps=False,
            )
        )
    return traces


def _region_traces(series: Series, p: np.ndarray, shown: slice, three_d: bool) -> list:
    """One line per region: the series' points in that region, NaN elsewhere (so the line breaks)."""
    index = series.regions.index[shown]
    traces = []
    for k, name in enumerate(series.regions.names):
        q = np.where((index == k)[:, None], p, np.nan).astype(np.float32)
        label = f"{name} ({100 * series.regions.occupancy[k]:.0f} %)"
        line = dict(color=SEQUENCE[k], width=2.5 if three_d else 1.5)
        traces.append(_line(q, label, line, three_d))
    return traces


def _line(p: np.ndarray, label: str, line: dict, three_d: bool, **extra) -> go.Scatter3d | go.Scatter:
    if three_d:
        return go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="lines", name=label, line=line, hoverinfo="skip", **extra)
    return go.Scatter(x=p[:, 0], y=p[:, -1], mode="lines", name=label, line=line, hoverinfo="skip", **extra)


def figure(scene: Scene, mode: str = "variables", axes: list[str] | None = None, points: int = DEFAULT_POINTS, colour: str = "source") -> go.Figure:
    """The state-space figure: one line per series (its last ≤ ``points`` states), or per linear region, plus orbits.

    With ``colour="regions"`` a series that has regions is split into one line per region and
    the others are hidden (click their legend entry to show them).
    """
    axes = axes or projection.default_axes(scene.variables)
    project = _projection(scene, mode, axes)
    three_d = len(project.labels) == 3
    fig = go.Figure()
    for series in scene.series:
        shown = tail(len(series.values), points)
        p = project(series.values[shown])
        if colour == "regions" and series.regions is not None:
            fig.add_traces(_region_traces(series, p, shown, three_d))
        else:
            visible = "legendonly" if colour == "regions" else True
            fig.add_trace(_line(p, series.label, dict(color=series.color, width=1.5 if three_d else 1), three_d, opacity=0.8, visible=visible))
    if three_d:
        fig.add_traces(_orbit_traces(scene.orbits, project))
        x, y, z = project.labels
        # No hover picking: it costs a render pass per mouse move (slow in software WebGL), the
        # big traces skip hover anyway, and the orbits are listed in their own table.
        fig.update_layout(
            scene=dict(xaxis_title=x, yaxis_title=y, zaxis_title=z, hovermode=False, camera=dict(eye=dict(x=1.35, y=-1.35, z=0.75))),
            uirevision="keep-camera",
        )
    else:
        fig.update_layout(xaxis_title=project.labels[0], yaxis_title=project.labels[-1])
    fig.update_layout(legend=dict(orientation="h", y=1.02, x=0))
    return fig


def controls(prefix: str, variables: list[str], has_regions: bool) -> html.Div:
    """Mode (variables or PCA when N > 3), the three axes, the colouring and how many of the last steps each trace shows."""
    i = ids(prefix)
    colours = [{"label": "colour: data / model", "value": "source"}, {"label": "colour: linear region", "value": "regions"}]
    axes = projection.default_axes(variables)
    modes = [{"label": "variables", "value": "variables"}]
    if len(variables) > 3:
        modes.append({"label": "PCA of the data", "value": "pca"})
    # All three pickers always exist so that the callback's inputs do; with N = 2 the third is hidden.
    pickers = [
        html.Label(
            [f"{axis} ", dcc.Dropdown(id=i[axis], options=variables, value=axes[k] if k < len(axes) else None, clearable=False)],
            hidden=k >= len(axes),
        )
        for k, axis in enumerate(("x", "y", "z"))
    ]
    return html.Div(
        [
            dcc.RadioItems(id=i["mode"], options=modes, value="variables", inline=True),
            *pickers,
            # Present even without regions (hidden) so that the callback's inputs always exist.
            html.Div(dcc.RadioItems(id=i["colour"], options=colours, value="source", inline=True), hidden=not has_regions),
            html.Label(["last steps ", dcc.Dropdown(id=i["points"], options=[{"label": f"{n:,}", "value": n} for n in POINT_CHOICES], value=DEFAULT_POINTS, clearable=False)]),
        ],
        className="controls",
    )


def component(prefix: str, source: object, scene: Scene, title: str = "Attractor", filename: str = "attractor") -> html.Div:
    """The card: controls, the initial figure, and the store name its callback reads again."""
    if len(scene.variables) < 2:
        return card(title, note("one observed variable: see the time series"))
    i = ids(prefix)
    return card(
        title,
        controls(prefix, scene.variables, any(series.regions is not None for series in scene.series)),
        graph(figure(scene), id=i["graph"], filename=filename, height=HEIGHT),
        dcc.Store(id=i["source"], data=source),
    )


def register(app: Dash, prefix: str, load_scene: Callable[[object], Scene]) -> None:
    """Redraw the figure when the user changes mode, axes or points (the store is re-read by name)."""
    i = ids(prefix)

    @app.callback(
        Output(i["graph"], "figure"),
        Input(i["mode"], "value"), Input(i["colour"], "value"), Input(i["x"], "value"), Input(i["y"], "value"), Input(i["z"], "value"),
        Input(i["points"], "value"), State(i["source"], "data"),
        prevent_initial_call=True,
    )
    def _redraw(mode: str, colour: str, x: str, y: str, z: str, points: int, source: object) -> go.Figure:
        return redraw(load_scene(source), mode, colour, [x, y, z], points)


def redraw(scene: Scene, mode: str, colour: str, axes: list[str | None], points: int) -> go.Figure:
    """The figure for the controls' values (the hidden third axis is ignored when N = 2)."""
    return styled(figure(scene, mode, axes[: len(projection.default_axes(scene.variables))], points, colour), HEIGHT)
