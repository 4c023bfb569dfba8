"""The parameters panel: heat maps of the best member's parameters (A and W first).

Generic over model kinds: every parameter of the ``params/best`` checkpoint is drawn, a
matrix as a heat map and a vector as a one-row heat map, on a colour scale centred at 0.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from dash import html

from dsr.app.components import card, graph, note

FIRST = ("A", "W")
"""Parameters shown first: the diagonal (linear) and the coupling part of the latent model."""


def matrices(params: xr.Dataset, member: int) -> list[tuple[str, np.ndarray, tuple[str, ...]]]:
    """(name, 2-D values, dims) of every parameter of one member, A and W first."""
    names = sorted(params.data_vars, key=lambda n: (n not in FIRST, FIRST.index(n) if n in FIRST else 0, str(n)))
    out = []
    for name in names:
        da = params[name]
        if "member" in da.dims:
            da = da.isel(member=min(member, da.sizes["member"] - 1))
        values = np.asarray(da.values, dtype=float)
        if values.ndim == 0:
            continue
        dims = tuple(str(d) for d in da.dims)
        if values.ndim == 1:
            values, dims = values[None, :], ("", *dims)
        out.append((str(name), values.reshape(values.shape[0], -1), dims))
    return out


def heatmap(name: str, values: np.ndarray, dims: tuple[str, ...]) -> go.Figure:
    """One parameter as a heat map with a colour scale symmetric about 0."""
    bound = float(np.nanmax(np.abs(values))) or 1.0
    fig = go.Figure(go.Heatmap(z=values, colorscale="RdBu_r", zmin=-bound, zmax=bound, colorbar=dict(thickness=10)))
    fig.update_yaxes(autorange="reversed", title_text=dims[0])
    fig.update_xaxes(title_text=dims[-1])
    fig.update_layout(title=dict(text=f"{name} {values.shape}", x=0.02, y=0.97))
    return fig


def component(params: xr.Dataset | None, member: int, run_name: str) -> html.Div:
    title = "Parameters (best member)"
    if params is None:
        return card(title, note("no checkpoint yet"))
    graphs = [
        html.Div(graph(heatmap(name, values, dims), filename=f"{run_name}-{name}", height=120 + min(22 * values.shape[0], 320)))
        for name, values, dims in matrices(params, member)
    ]
    kind = params.attrs.get("model_kind", "?")
    return card(title, note(f"model {kind}, member {member}"), html.Div(graphs, className="grid"))
