"""The power-spectra panel: smoothed power spectra of data and model, per variable.

The spectra are those of D_H (:func:`dsr.analysis.metrics.smoothed_power_spectrum`, σ = 20
bins), computed on equally long stretches of every series so that they share one frequency grid.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from dsr.analysis.metrics import smoothed_power_spectrum
from dsr.app.components import card, graph
from dsr.app.decimate import stride
from dsr.app.panel_timeseries import MAX_ROWS
from dsr.app.scene import Scene, Series

POINTS = 2_000
"""Frequencies drawn per trace; the smoothed spectrum has no detail finer than that."""
SHOWN_POWER = 0.999
"""The frequency axis ends where the first series has this fraction of its power."""


def spectra(series: list[Series], dt: float) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Frequencies, each series' smoothed spectrum (freq, N) and the highest frequency worth showing."""
    n = min(len(s.values) for s in series)
    freqs = np.fft.rfftfreq(n, dt)
    powers = [smoothed_power_spectrum(s.values[:n].astype(np.float64)) for s in series]
    cumulative = np.nancumsum(np.nanmean(powers[0], axis=1))
    f_max = freqs[min(int(np.searchsorted(cumulative, SHOWN_POWER * cumulative[-1])), len(freqs) - 1)]
    return freqs, powers, float(f_max)


def figure(scene: Scene) -> go.Figure:
    """One panel per variable (the first ``MAX_ROWS``), log power against frequency."""
    variables = scene.variables
    freqs, powers, f_max = spectra(scene.series, scene.dt)
    shown = freqs <= f_max
    cols = min(len(variables), MAX_ROWS)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=variables[:cols], shared_yaxes=True, horizontal_spacing=0.03)
    for k in range(cols):
        for series, power in zip(scene.series, powers):
            xy = stride(np.column_stack([freqs[shown], power[shown, k]]), POINTS)
            fig.add_trace(
                go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", name=series.label, legendgroup=series.label, showlegend=k == 0, line=dict(color=series.color)),
                row=1, col=k + 1,
            )
        fig.update_xaxes(title_text="frequency (1/time)", row=1, col=k + 1)
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text="normalised power", row=1, col=1)
    fig.update_layout(legend=dict(orientation="h", y=1.12, x=0))
    return fig


def component(scene: Scene, filename: str = "power-spectra") -> html.Div:
    return card("Power spectra (smoothed, σ = 20 bins)", graph(figure(scene), filename=filename, height=340))
