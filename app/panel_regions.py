"""The linear-regions panel: the region transition graph of the model's free run.

The free run coloured by region is drawn by the attractor panel ("colour: linear region");
this card shows how often each region is visited and which transitions occur, in the same
colours. If the symbolic analysis exists (``analysis/symbolic``: attrs ``used``, ``possible``,
``entropy_rate``, ``mediators``), its numbers are listed too.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from dash import html

from dsr.app.components import card, graph, kv, note
from dsr.app.regions import TOP, Regions
from dsr.app.runview import RunView
from dsr.app.style import SEQUENCE

GROUP = "symbolic"


def graph_figure(r: Regions) -> go.Figure:
    """Regions as nodes on a circle (area ∝ occupancy), transitions as arrows (width ∝ count)."""
    names = r.names
    n = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = np.column_stack([np.cos(angle), np.sin(angle)])
    fig = go.Figure()
    counts = r.transitions[:n, :n]
    top = counts.max() or 1
    for i, j in zip(*np.nonzero(counts)):
        # Stop short of the target so that the arrowhead stays visible next to its node.
        end = xy[i] + 0.85 * (xy[j] - xy[i])
        fig.add_annotation(
            x=end[0], y=end[1], ax=xy[i, 0], ay=xy[i, 1], xref="x", yref="y", axref="x", ayref="y", showarrow=True,
            arrowhead=2, arrowwidth=0.5 + 3.5 * counts[i, j] / top, arrowcolor="rgba(80,80,80,0.55)",
            hovertext=f"{names[i]} → {names[j]}: {counts[i, j]}",
        )
    fig.add_trace(
        go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers+text", text=[str(k + 1) if k < TOP else "…" for k in range(n)],
            textfont=dict(color="white"), marker=dict(size=18 + 50 * np.sqrt(r.occupancy[:n]), color=list(SEQUENCE[:n])),
            hovertext=[f"{name}: {100 * r.occupancy[k]:.1f} % of the time" + (f", bits {r.codes[k]}" if k < len(r.codes) else "")
                       for k, name in enumerate(names)],
            hoverinfo="text", showlegend=False,
        )
    )
    fig.update_xaxes(visible=False, range=[-1.4, 1.4])
    fig.update_yaxes(visible=False, range=[-1.4, 1.4], scaleanchor="x")
    return fig


def summary(run: RunView) -> dict[str, str]:
    """The symbolic analysis' numbers (of its own long free run), or nothing when not analysed."""
    ds = run.analysis(GROUP)
    if ds is None:
        return {}
    a = ds.attrs
    facts = {"regions used (analysis)": f"{a.get('used', '?')} of {a.get('possible', '?')} possible"}
    if "entropy_rate" in a:
        facts["entropy rate"] = f"{float(a['entropy_rate']):.3g} {a.get('entropy_unit', '')}"
    if a.get("mediators"):
        facts["mediating regions (analysis labels)"] = str(a["mediators"])
    return facts


def component(r: Regions | None, analysis: dict[str, str], run_name: str) -> html.Div:
    """The card: region statistics and the transition graph (or a note when there are no regions)."""
    title = "Linear regions"
    if r is None:
        return card(title, note("no region codes: the free run is not stored yet, or the model has no ReLU units"))
    facts = {
        "regions visited": r.n_regions, "ReLU pattern bits": r.n_units,
        f"time in the top {min(TOP, r.n_regions)}": f"{100 * r.occupancy[:TOP].sum():.1f} %",
    }
    return card(
        title,
        html.Div(
            [
                html.Div([kv({**facts, **analysis}), note("colour the attractor by linear region with its 'colour' control")]),
                graph(graph_figure(r), filename=f"{run_name}-region-graph", height=420),
            ],
            className="grid",
        ),
    )
