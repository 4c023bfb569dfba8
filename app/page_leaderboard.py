"""The leaderboard page of a ``dsr bench``: one box plot per metric over the model families, a point per fit.

Clicking a point opens that fit's run page; the table below gives each family's median [IQR] and its
failures. The store is read through :mod:`dsr.bench.leaderboard` (its layout is written down there).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html, no_update
from plotly.subplots import make_subplots

from dsr.app import catalog
from dsr.app.components import card, graph, note
from dsr.app.page_overview import run_href
from dsr.app.style import SEQUENCE
from dsr.bench import leaderboard

PANELS = (("d_stsp", "D_stsp", "log"), ("d_h", "D_H", "linear"), ("pe", "PE(20)", "log"), ("lambda1", "λ1", "linear"), ("d_ky", "D_KY", "linear"))
GRAPH = "leaderboard-graph"
NAVIGATE = "leaderboard-navigate"


def leaderboard_href(name: str) -> str:
    return "/leaderboard/" + quote(name)


def figure(ds, store_name: str) -> go.Figure:
    """One panel per metric: a box per family over its finished fits, and the fits as points carrying their run's URL."""
    folder = PurePosixPath(store_name).parent
    finished = ds["status"].values == "finished"
    fig = make_subplots(rows=len(PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=[p[1] for p in PANELS])
    truth = ds.attrs.get("truth") or {}
    for row, (var, label, scale) in enumerate(PANELS, start=1):
        for i, model in enumerate(ds.attrs["models"]):
            mine = finished & (ds["model"].values == model)
            values, fits = list(ds[var].values[mine]), [str(f) for f in ds["fit"].values[mine]]
            color = SEQUENCE[i % len(SEQUENCE)]
            fig.add_trace(go.Box(x=[model] * len(values), y=values, name=model, boxpoints=False, marker_color=color, showlegend=False, hoverinfo="skip"), row=row, col=1)
            fig.add_trace(
                go.Scatter(
                    x=[model] * len(values), y=values, mode="markers", text=fits, name=model, showlegend=False,
                    customdata=[run_href(str(folder / r)) for r in ds["run"].values[mine]],
                    hovertemplate="%{text}<br>" + label + " %{y:.4g}<extra>%{x}</extra>", marker=dict(size=8, color=color, line=dict(width=1, color="white")),
                ),
                row=row, col=1,
            )
        if var in truth:
            fig.add_hline(y=truth[var], line_dash="dash", annotation_text=f"true {truth[var]:.3g}", row=row, col=1)
        fig.update_yaxes(type=scale, row=row, col=1)
    return fig


def summary_table(ds) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("model", "fits", "D_stsp", "D_H", "PE(20)", "λ1", "D_KY", "parameters", "min per fit", "failures")])
    rows = []
    for row in leaderboard.summary(ds):
        params = "–" if row["n_parameters"] is None else f"{row['n_parameters']:.0f}"
        wall = "–" if row["wall_s"] is None else f"{row['wall_s'] / 60:.1f}"
        failures = leaderboard.failures(row) + ("" if not row["errors"] else f" ({'; '.join(row['errors'])})")
        cells = [html.Td(row["model"]), html.Td(f"{row['finished']}/{row['fits']}", className="num")]
        cells += [html.Td(leaderboard.cell(row[m]), className="num") for m in leaderboard.METRICS]
        cells += [html.Td(params, className="num"), html.Td(wall, className="num"), html.Td(failures)]
        rows.append(html.Tr(cells))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="runs", id="leaderboard-table")


def layout(root: Path, name: str) -> html.Div:
    """The page of the leaderboard store ``name`` (``<bench>/leaderboard.zarr`` relative to ``root``)."""
    ds = leaderboard.read(catalog.resolve(root, name))
    done = int((ds["status"].values == "finished").sum())
    budget = ds.attrs.get("budget_minutes")
    title = f"Leaderboard {PurePosixPath(name).parent}: {done} of {ds.sizes['fit']} fits finished, {budget:g} min per fit"
    plot = graph(figure(ds, name), id=GRAPH, filename="leaderboard", height=260 * len(PANELS)) if done else note("no fit has finished yet")
    explain = note("each point is one fit's best member on the test data (dashed: the data's system); click a point to open its run")
    return html.Div([dcc.Location(id=NAVIGATE, refresh=True), card(title, explain, plot), card("Families", summary_table(ds))])


def register(app: Dash) -> None:
    @app.callback(Output(NAVIGATE, "href"), Input(GRAPH, "clickData"), prevent_initial_call=True)
    def _open(click: dict | None) -> str:
        points = (click or {}).get("points") or []
        return points[0]["customdata"] if points and points[0].get("customdata") else no_update
