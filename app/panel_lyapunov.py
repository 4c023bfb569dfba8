"""The Lyapunov panel: the model's Lyapunov spectrum against the ground truth, with the dimensions.

Reads ``analysis/lyapunov`` (``exponents`` with their ``spread`` over initial conditions, the
truth's ``truth``, attr ``unit``), ``analysis/dimensions`` (0-d ``kaplan_yorke``,
``correlation_dimension`` and their ``truth_`` counterparts) and the sign patterns of
``analysis/comparison``, as ``dsr analyze`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import xarray as xr
from dash import html

from dsr.app.components import card, graph, kv, not_analysed
from dsr.app.runview import RunView
from dsr.app.style import MODEL_COLOR, TRUTH_COLOR

GROUP, DIMENSIONS, COMPARISON = "lyapunov", "dimensions", "comparison"


@dataclass(frozen=True)
class Spectrum:
    """The model's exponents (descending), their spread, the truth's exponents if known, and related numbers."""

    model: np.ndarray
    spread: np.ndarray | None
    truth: np.ndarray | None
    unit: str = ""
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def max_error(self) -> float | None:
        """Relative error of the largest exponent, |λ₁ − λ₁*| / |λ₁*| (None without a usable truth)."""
        if self.truth is None or len(self.truth) == 0 or len(self.model) == 0 or not self.truth[0]:
            return None
        return float(abs(self.model[0] - self.truth[0]) / abs(self.truth[0]))


def _number(ds: xr.Dataset, name: str) -> float | None:
    value = float(ds[name].values) if name in ds and ds[name].ndim == 0 else None
    return value if value is not None and np.isfinite(value) else None


def _facts(run: RunView) -> dict[str, str]:
    """Kaplan–Yorke and correlation dimensions (model, truth) and the sign patterns, where analysed."""
    facts = {}
    dims = run.analysis(DIMENSIONS)
    if dims is not None:
        for name, label in (("kaplan_yorke", "Kaplan–Yorke dim."), ("correlation_dimension", "correlation dim.")):
            model, truth = _number(dims, name), _number(dims, f"truth_{name}")
            if model is not None:
                facts[label] = f"{model:.3g}" + ("" if truth is None else f" (truth {truth:.3g})")
    comparison = run.analysis(COMPARISON)
    if comparison is not None and "sign_pattern_model" in comparison.attrs:
        a = comparison.attrs
        facts["sign pattern"] = f"{a['sign_pattern_model']} (truth {a.get('sign_pattern_truth', '?')})"
    return facts


def read(run: RunView) -> Spectrum | None:
    """The analysed member's Lyapunov spectrum, or None when the run was not analysed."""
    ds = run.analysis(GROUP)
    if ds is None or "exponents" not in ds:
        return None
    model = np.asarray(ds["exponents"].values, dtype=float)
    order = np.argsort(-model)
    spread = np.asarray(ds["spread"].values, dtype=float)[order] if "spread" in ds else None
    truth = -np.sort(-np.asarray(ds["truth"].values, dtype=float)) if "truth" in ds else None
    return Spectrum(model[order], spread, truth, str(ds.attrs.get("unit", "")), _facts(run))


def figure(spectrum: Spectrum) -> go.Figure:
    """Exponent against index, model (with its spread over initial conditions) and truth."""
    fig = go.Figure()
    error = None if spectrum.spread is None else dict(type="data", array=spectrum.spread, visible=True)
    fig.add_trace(go.Scatter(x=np.arange(1, len(spectrum.model) + 1), y=spectrum.model, error_y=error, mode="lines+markers", name="model", line=dict(color=MODEL_COLOR)))
    if spectrum.truth is not None:
        fig.add_trace(
            go.Scatter(x=np.arange(1, len(spectrum.truth) + 1), y=spectrum.truth, mode="lines+markers", name="ground truth",
                       line=dict(color=TRUTH_COLOR, dash="dash"), marker=dict(symbol="x", size=9))
        )
    fig.add_hline(y=0, line=dict(color="#bbb", width=1))
    fig.update_xaxes(title_text="index i", dtick=1)
    fig.update_yaxes(title_text=f"λ_i ({spectrum.unit})" if spectrum.unit else "λ_i")
    return fig


def component(run: RunView, display: str) -> html.Div:
    title = "Lyapunov spectrum"
    spectrum = read(run)
    if spectrum is None:
        return card(title, not_analysed(display, "Lyapunov spectrum"))
    facts = {"λ_max": f"{spectrum.model[0]:.4g}" + ("" if spectrum.truth is None else f" (truth {spectrum.truth[0]:.4g})")}
    if spectrum.max_error is not None:
        facts["λ_max relative error"] = f"{100 * spectrum.max_error:.1f} %"
    return card(
        title,
        html.Div([kv({**facts, **spectrum.facts}), graph(figure(spectrum), filename=f"{run.name}-lyapunov", height=340)], className="grid"),
    )
