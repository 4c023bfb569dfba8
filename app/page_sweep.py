"""The sweep page: each varied configuration field against D_stsp and D_H, one point per fit.

Clicking a point opens that fit's run page; the table below lists every fit with a link to its run.
The table is read through :mod:`dsr.sweep.store` (its layout is written down there).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html, no_update
from plotly.subplots import make_subplots

from dsr.app import catalog
from dsr.app.components import card, graph, note
from dsr.app.page_overview import number, run_href
from dsr.app.style import SEQUENCE
from dsr.sweep import store

SCORES = (("d_stsp", "D_stsp"), ("d_h", "D_H"))
GRAPH = "sweep-graph"
NAVIGATE = "sweep-navigate"


def sweep_href(name: str) -> str:
    return "/sweep/" + quote(name)


def run_name(table_name: str, fit: str) -> str:
    """The name (relative to ROOT) of the run store of ``fit`` in the sweep whose table is ``table_name``."""
    return str(PurePosixPath(table_name).parent / store.RUNS / f"{fit}.zarr")


def figure(ds, table_name: str) -> go.Figure:
    """One column per varied field, rows D_stsp and D_H (log scale); each point carries its run's URL."""
    fields = list(ds.attrs.get("varied", [])) or ["fit"]
    fig = make_subplots(rows=len(SCORES), cols=len(fields), shared_xaxes="columns", horizontal_spacing=0.06, vertical_spacing=0.08)
    finished = ds["status"].values == "finished"
    fits = [str(f) for f in ds["fit"].values[finished]]
    links = [run_href(run_name(table_name, f)) for f in fits]
    for col, field in enumerate(fields, start=1):
        x = ds[field].values[finished] if field in ds else fits
        for row, (var, label) in enumerate(SCORES, start=1):
            fig.add_trace(
                go.Scatter(
                    x=list(x), y=list(ds[var].values[finished]), mode="markers", customdata=links, text=fits, name=label,
                    hovertemplate="%{text}<br>" + field + " %{x}<br>" + label + " %{y:.4g}<extra></extra>", showlegend=False,
                    marker=dict(size=9, color=SEQUENCE[row - 1]),
                ),
                row=row, col=col,
            )
            fig.update_yaxes(title_text=label if col == 1 else None, type="log", row=row, col=col)
        fig.update_xaxes(title_text=field, row=len(SCORES), col=col)
    return fig


def fits_table(ds, table_name: str) -> html.Table:
    fields = list(ds.attrs.get("varied", []))
    head = html.Tr([html.Th(h) for h in ("fit", *fields, "status", "D_stsp", "D_H", "PE", "wall s")])
    rows = []
    for row in store.rows_of(ds):
        link = dcc.Link(row["fit"], href=run_href(run_name(table_name, row["fit"]))) if row["status"] != "pending" else row["fit"]
        status = row["status"] if row["status"] != "failed" else f"failed: {row['error']}"
        cells = [html.Td(link), *(html.Td(_value(row[f])) for f in fields), html.Td(status)]
        cells += [html.Td(number(row[m]), className="num") for m in (*store.METRICS, "wall_s")]
        rows.append(html.Tr(cells))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="runs", id="sweep-table")


def _value(value: object) -> str:
    return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def layout(root: Path, name: str) -> html.Div:
    """The page of the sweep table ``name`` (``<sweep>/sweep.zarr`` relative to ``root``)."""
    path = catalog.resolve(root, name)
    ds = store.read(path)
    done = int((ds["status"].values == "finished").sum())
    title = f"Sweep {PurePosixPath(name).parent}: {done} of {ds.sizes['fit']} fits finished ({ds.attrs['status']})"
    plot = graph(figure(ds, name), id=GRAPH, filename="sweep", height=520) if done else note("no fit has finished yet")
    return html.Div(
        [
            dcc.Location(id=NAVIGATE, refresh=True),
            card(title, note("each point is one fit's best member on its test data; click a point to open its run"), plot),
            card("Fits", fits_table(ds, name)),
        ]
    )


def register(app: Dash) -> None:
    @app.callback(Output(NAVIGATE, "href"), Input(GRAPH, "clickData"), prevent_initial_call=True)
    def _open(click: dict | None) -> str:
        points = (click or {}).get("points") or []
        return points[0]["customdata"] if points and points[0].get("customdata") else no_update
