"""The training panel: loss, forcing α, learning rate and the held-out metrics per epoch.

Reads the run's ``history`` group (dims epoch and member); the metrics exist only at the
evaluated epochs. Every member is drawn, the best one (lowest final D_stsp) opaque.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from dash import html
from plotly.subplots import make_subplots

from dsr.app.components import card, graph, note
from dsr.app.style import MODEL_COLOR

CURVES = (
    ("loss", "loss"), ("alpha", "forcing α"), ("lr", "learning rate"),
    ("d_stsp", "D_stsp"), ("d_h", "D_H"), ("pe", "PE"),
)
LOG_SCALE = {"loss", "lr", "d_stsp", "pe"}
MAX_MEMBERS = 10
"""Members drawn; larger ensembles are summarised by their first members and the best."""


def curve(history: xr.Dataset, name: str, member: int) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and values of one curve of one member, without the epochs it was not recorded at."""
    values = history[name]
    if "member" in values.dims:
        values = values.sel(member=member)
    y = np.asarray(values.values, dtype=float)
    keep = np.isfinite(y)
    return np.asarray(history["epoch"].values)[keep], y[keep]


def members(history: xr.Dataset, best: int) -> list[int]:
    """The members to draw: the first ``MAX_MEMBERS`` and always the best."""
    all_members = [int(m) for m in history["member"].values] if "member" in history.coords else [0]
    chosen = all_members[:MAX_MEMBERS]
    return chosen if best in chosen or best not in all_members else [*chosen, best]


def figure(history: xr.Dataset, best: int) -> go.Figure:
    """A 2 × 3 grid of curves against epoch."""
    present = [(name, title) for name, title in CURVES if name in history]
    cols = 3
    rows = -(-len(present) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for _, t in present], horizontal_spacing=0.08, vertical_spacing=0.16)
    for k, (name, _) in enumerate(present):
        row, col = k // cols + 1, k % cols + 1
        for member in members(history, best):
            x, y = curve(history, name, member)
            is_best = member == best
            fig.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines+markers" if len(x) < 30 else "lines", name=f"member {member}" + (" (best)" if is_best else ""),
                    legendgroup=str(member), showlegend=k == 0, line=dict(color=MODEL_COLOR if is_best else "#9aa5b1", width=2 if is_best else 1),
                    opacity=1.0 if is_best else 0.6,
                ),
                row=row, col=col,
            )
        if name in LOG_SCALE:
            fig.update_yaxes(type="log", row=row, col=col)
        if row == rows:
            fig.update_xaxes(title_text="epoch", row=row, col=col)
    if history.sizes.get("epoch", 0) <= 10:
        fig.update_xaxes(dtick=1)  # a few epochs: whole numbers only
    fig.update_layout(legend=dict(orientation="h", y=1.12, x=0))
    return fig


def component(history: xr.Dataset | None, best: int, filename: str = "training") -> html.Div:
    title = "Training"
    if history is None:
        return card(title, note("no history yet: the fit writes it at its first evaluation"))
    return card(title, graph(figure(history, best), filename=filename, height=520))
