"""The compare page: metrics and training curves of the selected runs side by side."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from dsr import runstore
from dsr.app import catalog, panel_lyapunov
from dsr.app.components import card, error_card, graph, guarded, note
from dsr.app.page_overview import number, run_href
from dsr.app.page_run import open_run_named
from dsr.app.panel_training import curve
from dsr.app.runview import RunView
from dsr.app.style import SEQUENCE
from dsr.app.summary import METRICS, summarize

CURVES = (("loss", "loss"), ("d_stsp", "D_stsp"), ("d_h", "D_H"), ("pe", "PE"))
MAX_RUNS = 12


def metrics_table(root: Path, names: list[str]) -> html.Table:
    """One row per run: model, size, status, epochs, final metrics, λ_max error."""
    head = html.Tr([html.Th(h) for h in ("run", "model", "parameters", "status", "epochs", "D_stsp", "D_H", "PE", "λ_max error")])
    rows = []
    for k, name in enumerate(names):
        r = summarize(catalog.StoreEntry(name, catalog.resolve(root, name), "run"))
        swatch = html.Span("■ ", style={"color": SEQUENCE[k % len(SEQUENCE)]})
        rows.append(
            html.Tr(
                [html.Td([swatch, dcc.Link(name.removesuffix(".zarr"), href=run_href(name))]), html.Td(r.model),
                 html.Td("" if r.size is None else f"{r.size:,}", className="num"),
                 html.Td(r.status or r.error), html.Td(r.epochs),
                 *(html.Td(number(r.metrics.get(m)), className="num") for m in METRICS),
                 html.Td(number(r.lambda_error, percent=True), className="num")]
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="runs", id="compare-table")


def curves_figure(runs: list[tuple[str, RunView]]) -> go.Figure:
    """Loss and held-out metrics per epoch, one colour per run (its best member)."""
    fig = make_subplots(rows=1, cols=len(CURVES), subplot_titles=[t for _, t in CURVES], horizontal_spacing=0.06)
    for k, (name, run) in enumerate(runs):
        history = run.group(runstore.HISTORY)
        if history is None:
            continue
        for col, (var, _) in enumerate(CURVES, start=1):
            if var not in history:
                continue
            x, y = curve(history, var, run.best_member)
            fig.add_trace(
                go.Scatter(x=x, y=y, mode="lines+markers" if len(x) < 30 else "lines", name=name.removesuffix(".zarr"), legendgroup=name,
                           showlegend=col == 1, line=dict(color=SEQUENCE[k % len(SEQUENCE)])),
                row=1, col=col,
            )
            fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(type="log")
    fig.update_layout(legend=dict(orientation="h", y=1.15, x=0))
    return fig


def lyapunov_card(runs: list[tuple[str, RunView]]) -> html.Div:
    """The analysed runs' Lyapunov spectra, and the first ground truth found."""
    fig, truth_drawn = go.Figure(), False
    for k, (name, run) in enumerate(runs):
        spectrum = panel_lyapunov.read(run)
        if spectrum is None:
            continue
        fig.add_trace(go.Scatter(x=list(range(1, len(spectrum.model) + 1)), y=spectrum.model, mode="lines+markers", name=name.removesuffix(".zarr"), line=dict(color=SEQUENCE[k % len(SEQUENCE)])))
        if spectrum.truth is not None and not truth_drawn:
            fig.add_trace(go.Scatter(x=list(range(1, len(spectrum.truth) + 1)), y=spectrum.truth, mode="lines+markers", name="ground truth", line=dict(color="black", dash="dash")))
            truth_drawn = True
    if not fig.data:
        return card("Lyapunov spectra", note("none of these runs is analysed yet"))
    fig.update_xaxes(title_text="index i", dtick=1)
    return card("Lyapunov spectra", graph(fig, filename="compare-lyapunov", height=340))


def layout(root: Path, names: list[str]) -> html.Div:
    """The compare page for the runs ``names`` (relative to ``root``); refused names become error cards."""
    if not names:
        return card("Compare runs", note("select runs on the overview page to compare them"))
    runs, errors = [], []
    for name in dict.fromkeys(names[:MAX_RUNS]):
        try:
            runs.append((name, open_run_named(root, name)))
        except Exception as err:  # noqa: BLE001 -- one bad name is an error card, the others are compared
            errors.append(error_card(f"Run {name}", err))
    if not runs:
        return html.Div(errors)
    return html.Div(
        [
            *errors,
            card("Compare runs", guarded("Metrics", lambda: metrics_table(root, [n for n, _ in runs]))),
            card("Training curves (best member)", guarded("Training curves", lambda: graph(curves_figure(runs), filename="compare-training", height=380))),
            guarded("Lyapunov spectra", lambda: lyapunov_card(runs)),
        ]
    )
