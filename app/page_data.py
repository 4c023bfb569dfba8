"""The data page: a data store's attributes, variables with summary statistics, and its plots."""

from __future__ import annotations

from pathlib import Path

from dash import Dash, html

from dsr import runstore
from dsr.app import catalog, panel_attractor, panel_spectra, panel_timeseries
from dsr.app.components import card, guarded, kv, note
from dsr.app.runview import data_trial
from dsr.app.scene import Scene, Series
from dsr.app.style import DATA_COLOR
from dsr.info import describe

PREFIX = "data-attractor"


def data_path_named(root: Path, name: str) -> Path:
    """The data store ``name`` under ``root`` (refusing run stores and paths outside ``root``)."""
    path = catalog.resolve(root, name)
    if (path / "zarr.json").exists() and runstore.read_attrs(path).get("dsr_store") == runstore.STORE_KIND:
        raise catalog.Refused(f"'{name}' is a run store; open it as /run/{name}")
    return path


def scene(path: Path, var: str | None) -> Scene:
    """The first trial of variable ``var`` (None: the store's only variable)."""
    trial = data_trial(path, var)
    return Scene(trial.variables, trial.dt, [Series("data" if trial.trials == 1 else f"data (trial 1 of {trial.trials})", trial.values, DATA_COLOR)])


def _stats_table(variables: dict) -> html.Div:
    blocks = []
    for name, var in variables.items():
        rows = [
            html.Tr([html.Td(label), *(html.Td(f"{s[k]:.4g}", className="num") for k in ("mean", "std", "min", "max")), html.Td(s["nan"], className="num"), html.Td(s["inf"], className="num")])
            for label, s in var.get("stats", {}).items()
        ]
        head = html.Tr([html.Th(h) for h in ("column", "mean", "std", "min", "max", "NaN", "inf")])
        blocks += [html.H4(f"{name} {tuple(var['dims'])} {var['dtype']}"), html.Table([html.Thead(head), html.Tbody(rows)], className="runs")]
    return html.Div(blocks)


def _plottable(variables: dict) -> list[str]:
    """Variables with the dims of observations, which the plots can show."""
    return [n for n, v in variables.items() if tuple(v["dims"])[-2:] == ("time", "variable")]


def _plots(path: Path, name: str, var: str, others: list[str]) -> list:
    s = scene(path, var)
    return [
        *([note(f"plots show '{var}'; not shown: {', '.join(others)}")] if others else []),
        guarded("Attractor", lambda: panel_attractor.component(PREFIX, {"name": name, "var": var}, s, title=f"{var}: state space", filename=f"{path.stem}-attractor")),
        html.Div(
            [guarded("Time series", lambda: panel_timeseries.component(s, filename=f"{path.stem}-time-series")),
             guarded("Power spectra", lambda: panel_spectra.component(s, filename=f"{path.stem}-spectra"))],
            className="grid",
        ),
    ]


def layout(root: Path, name: str) -> html.Div:
    """The page of the data store ``name`` (relative to ``root``); plots of its first observation variable."""
    path = data_path_named(root, name)
    summary = describe(path)
    attrs = {k: v for k, v in summary["attrs"].items() if k != "Conventions"}
    facts = {"dims": ", ".join(f"{k}={v}" for k, v in summary["dims"].items()), "dt": summary["dt"], **attrs}
    plottable = _plottable(summary["variables"])
    plots = guarded("Plots", lambda: _plots(path, name, plottable[0], plottable[1:])) if plottable else note("no variable with dims (…, time, variable) to plot")
    return html.Div([card(f"Data {name}", kv(facts), _stats_table(summary["variables"])), *(plots if isinstance(plots, list) else [plots])])


def register(app: Dash, root: Path) -> None:
    panel_attractor.register(app, PREFIX, lambda source: scene(data_path_named(root, source["name"]), source["var"]))
