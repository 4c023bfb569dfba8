"""The run page: one run's attractor, time series, spectra, training, analyses and parameters.

Each panel is built under :func:`~dsr.app.components.guarded`, so a missing or corrupt
group shows an error card in its place and the rest of the page still renders.
"""

from __future__ import annotations

from pathlib import Path

from dash import Dash, Input, Output, dcc, html

from dsr import runstore
from dsr.app import (
    catalog,
    panel_attractor,
    panel_fixed_points,
    panel_lyapunov,
    panel_params,
    panel_regions,
    panel_spectra,
    panel_timeseries,
    panel_training,
)
from dsr.app.components import card, error_card, guarded, kv, note
from dsr.app.runview import RunView, open_run
from dsr.app.scene import Orbit, Scene, run_scene

PREFIX = "run-attractor"


def open_run_named(root: Path, name: str) -> RunView:
    """The run store ``name`` under ``root`` (refusing other stores and paths outside ``root``)."""
    path = catalog.resolve(root, name)
    if runstore.read_attrs(path).get("dsr_store") != runstore.STORE_KIND:
        raise catalog.Refused(f"'{name}' is a data store, not a run; open it as /data/{name}")
    return open_run(path, root)


def orbits_and_card(run: RunView, display: str) -> tuple[list[Orbit], html.Div]:
    """The orbits to draw and the fixed-point card; an unreadable group gives an error card and no orbits."""
    title = "Fixed points and cycles"
    try:
        orbits = panel_fixed_points.read(run)
    except Exception as err:  # noqa: BLE001 -- shown on the card, the attractor is drawn without orbits
        return [], error_card(title, err)
    return orbits or [], guarded(title, lambda: panel_fixed_points.component(run, display, orbits))


def header(run: RunView, name: str) -> html.Div:
    """Status, model, data and final numbers of the run."""
    a, c = run.attrs, run.config_dict
    final = a.get("final_metrics") or {}
    facts = {
        "status": a.get("status", "?"), "model": c.get("model", "?"), "latent M": c.get("latent"),
        "parameters": a.get("n_parameters"), "data": a.get("data_path", "?"), "variables": ", ".join(run.variables),
        "dt": run.dt, "epochs": c.get("epochs"), "forcing": c.get("forcing"), "ensemble": c.get("ensemble"),
        "best member": run.best_member, "created": a.get("created"),
        **{k: f"{v:.4g}" for k, v in final.items() if v is not None},
        "analyses": ", ".join(run.analyses) or "none",
    }
    children = [kv({k: v for k, v in facts.items() if v is not None})]
    if a.get("error"):
        children.append(html.Pre(str(a["error"]), className="error"))
    return card(f"Run {name.removesuffix('.zarr')}", *children, id="run-header")


def layout(root: Path, name: str) -> html.Div:
    """The top of the run page for the run store ``name`` (relative to ``root``): header, attractor, orbits.

    The other panels arrive through a second request (:func:`details`), so the attractor is
    drawn and usable while they are built and rendered.
    """
    run = open_run_named(root, name)
    orbits, orbit_card = orbits_and_card(run, catalog.display_path(root, name))
    s = run_scene(run, orbits)
    if s.series:
        attractor = guarded("Attractor", lambda: panel_attractor.component(PREFIX, name, s, filename=f"{run.name}-attractor"))
    else:
        attractor = card("Attractor", note("no free run yet, and no data store to show"))
    side = [header(run, name), *([note(run.data_problem)] if run.data_problem else []), orbit_card]
    return html.Div(
        [
            html.Div([attractor, html.Div(side)], className="top"),
            html.Div(note("loading the other panels…"), id="run-details"),
            dcc.Store(id="run-details-source", data=name),
        ]
    )


def details(root: Path, name: str) -> list:
    """The rest of the run page: time series, spectra, training, Lyapunov spectrum, regions, parameters."""
    run = open_run_named(root, name)
    s = run_scene(run, [])
    series_panels = []
    if s.series:
        series_panels.append(
            html.Div(
                [
                    guarded("Time series", lambda: panel_timeseries.component(s, filename=f"{run.name}-time-series")),
                    guarded("Power spectra", lambda: panel_spectra.component(s, filename=f"{run.name}-spectra")),
                ],
                className="grid",
            )
        )
    return [
        *series_panels,
        guarded("Training", lambda: panel_training.component(run.group(runstore.HISTORY), run.best_member, filename=f"{run.name}-training")),
        guarded("Lyapunov spectrum", lambda: panel_lyapunov.component(run, catalog.display_path(root, name))),
        guarded("Linear regions", lambda: panel_regions.component(run.regions, panel_regions.summary(run), run.name)),
        guarded("Parameters", lambda: panel_params.component(run.group(f"{runstore.PARAMS}/best"), run.best_member, run.name)),
    ]


def scene_named(root: Path, name: str) -> Scene:
    """The scene of the run store ``name``, with its orbits: what the attractor callback redraws."""
    run = open_run_named(root, name)
    return run_scene(run, panel_fixed_points.read(run) or [])


def register(app: Dash, root: Path) -> None:
    panel_attractor.register(app, PREFIX, lambda name: scene_named(root, name))

    @app.callback(Output("run-details", "children"), Input("run-details-source", "data"))
    def _details(name: str) -> list | html.Div:
        return guarded("Run", lambda: details(root, name))
