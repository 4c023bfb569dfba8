"""The time-series panel: each observed variable of the data and the model's free run, overlaid.

The two start from different states and, for chaotic systems, diverge; the overlay compares
the signals' shape, amplitude and time scales, not their phase.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from dsr.app.components import card, graph, note
from dsr.app.decimate import envelope
from dsr.app.scene import Scene

MAX_ROWS = 4
"""Variables shown (the first ones); more rows would be unreadable."""
INITIAL_STEPS = 3_000
"""Steps visible at first, drawn exactly; the toolbar's autoscale shows the whole series."""
POINTS = 8_000
"""Points per trace: the first ``INITIAL_STEPS`` exactly, the rest as a min/max envelope (peaks survive).
Drawn as SVG: software-rendered WebGL (headless browsers, remote desktops) is slower at this size."""


def head_and_envelope(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first ``INITIAL_STEPS`` points as they are, then the envelope of the rest (≤ ``POINTS`` in all)."""
    tail_t, tail_y = envelope(t[INITIAL_STEPS:], y[INITIAL_STEPS:], POINTS - INITIAL_STEPS)
    head = slice(0, INITIAL_STEPS)
    return np.concatenate([t[head].astype(np.float32), tail_t]), np.concatenate([y[head].astype(np.float32), tail_y])


def figure(scene: Scene) -> go.Figure:
    """One row per variable (the first ``MAX_ROWS``), one envelope-decimated line per series."""
    variables, dt = scene.variables, scene.dt
    rows = min(len(variables), MAX_ROWS)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03)
    for k in range(rows):
        for series in scene.series:
            t, y = head_and_envelope(np.arange(len(series.values)) * dt, series.values[:, k])
            fig.add_trace(
                go.Scatter(x=t, y=y, mode="lines", name=series.label, legendgroup=series.label, showlegend=k == 0, line=dict(color=series.color, width=1)),
                row=k + 1, col=1,
            )
        fig.update_yaxes(title_text=variables[k], row=k + 1, col=1)
    longest = max(len(series.values) for series in scene.series)
    fig.update_xaxes(range=[0, (min(longest, INITIAL_STEPS) - 1) * dt])
    fig.update_xaxes(title_text="time", row=rows, col=1)
    fig.update_layout(legend=dict(orientation="h", y=1.04, x=0))
    return fig


def component(scene: Scene, filename: str = "time-series") -> html.Div:
    """The card (a note when more variables exist than are shown)."""
    n = len(scene.variables)
    children = [graph(figure(scene), filename=filename, height=140 + 130 * min(n, MAX_ROWS))]
    if n > MAX_ROWS:
        children.append(note(f"the first {MAX_ROWS} of {n} variables"))
    return card("Time series", *children)
