"""The dashboard without a browser: layouts and callbacks called directly on real stores.

The stores come from short real fits (and a real ``dsr analyze`` of one of them), built once
per session by :func:`build_stores`, which the browser tests share.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dash import no_update

from dsr import runstore
from dsr.errors import DsrError
from tests.conftest import DATA, LONG_STEPS, build_stores


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_stores(tmp_path_factory.getbasetemp() / "app-stores")


def text(component: object) -> str:
    """Everything a component tree renders, as one string (for 'contains' checks)."""
    plain = component.to_plotly_json() if hasattr(component, "to_plotly_json") else component
    return json.dumps(plain, ensure_ascii=False, default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o))


def graphs(component: object) -> list:
    """The dcc.Graph components of a tree."""
    from dash import dcc

    found = []

    def walk(node: object) -> None:
        if isinstance(node, dcc.Graph):
            found.append(node)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, (list, tuple)) else [children]:
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)

    for node in component if isinstance(component, list) else [component]:
        walk(node)
    return found


# ----- import weight and serving defaults ------------------------------------------------------


def test_import_is_light_and_the_app_never_imports_torch(root: Path) -> None:
    code = (
        "import sys\n"
        "import dsr.app\n"
        "print('LIGHT', 'dash' not in sys.modules and 'xarray' not in sys.modules)\n"
        "from dsr.app import server, page_run\n"
        f"app = dsr.app.create_app({str(root)!r})\n"
        f"server.route(app_root := __import__('pathlib').Path({str(root)!r}).resolve(), '/run/r2.zarr', '')\n"
        "page_run.details(app_root, 'r2.zarr')\n"
        "server.route(app_root, '/', '')\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LIGHT True" in out
    assert "TORCH False" in out


def test_serve_binds_loopback_unless_told(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    import dash

    import dsr.app

    calls = []
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kw: calls.append(kw))
    dsr.app.serve(root)
    dsr.app.serve(root, host="0.0.0.0", port=9000)
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8050 and calls[0]["debug"] is False
    assert calls[1]["host"] == "0.0.0.0" and calls[1]["port"] == 9000
    with pytest.raises(DsrError, match="not a folder"):
        dsr.app.create_app(root / "missing")


# ----- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["../outside.zarr", "..%2Foutside.zarr", "%2E%2E/outside.zarr", "link.zarr", "", "/etc", "//etc/passwd",
     "r1.zarr/../../outside.zarr", "nothing.zarr", "r1.zarr/params", "C:/Windows"],
)
def test_resolve_refuses_everything_but_stores_under_root(root: Path, name: str) -> None:
    from dsr.app.catalog import Refused, resolve

    with pytest.raises(Refused):
        resolve(root, name)


def test_resolve_refuses_absolute_paths_even_to_stores(root: Path) -> None:
    from dsr.app.catalog import Refused, resolve

    assert resolve(root, "r1.zarr") == (root / "r1.zarr").resolve()
    for absolute in (str(root / "r1.zarr"), str(DATA)):
        with pytest.raises(Refused):
            resolve(root, absolute)


@pytest.mark.parametrize(
    ("path", "search"),
    [("/run/../outside.zarr", ""), ("/run/..%2F..%2Fetc%2Fpasswd", ""), ("/data//etc", ""), ("/data/link.zarr", ""),
     ("/run/lorenz63.zarr", ""), ("/data/r1.zarr", ""), ("/compare", "?run=../outside.zarr"), ("/run/broken.zarr", "")],
)
def test_bad_urls_give_an_error_card_never_an_exception(root: Path, path: str, search: str) -> None:
    from dsr.app.server import route

    page = text(route(root.resolve(), path, search))
    assert "card error" in page
    assert any(words in page for words in ("served folder", "cannot", "open it as", "not a readable", "Error"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_the_app_never_writes_into_stores(root: Path) -> None:
    from dsr.app import page_overview, page_run, panel_attractor
    from dsr.app.page_data import data_path_named, scene as data_scene
    from dsr.app.server import route

    before = _snapshot(root)
    resolved = root.resolve()
    for path, search in (("/", ""), ("/run/r1.zarr", ""), ("/run/r2.zarr", ""), ("/run/pending.zarr", ""),
                         ("/compare", "?run=r1.zarr&run=r2.zarr"), ("/data/lorenz63.zarr", "")):
        route(resolved, path, search)
    page_run.details(resolved, "r2.zarr")
    panel_attractor.redraw(page_run.scene_named(resolved, "r2.zarr"), "variables", "regions", ["z", "x", "y"], 10_000)
    panel_attractor.redraw(data_scene(data_path_named(resolved, "lorenz63.zarr"), None), "variables", "source", ["x", "y", "z"], 10_000)
    page_overview.refresh(resolved, "runs-filter", "r", {"column": "name", "descending": False}, [], [])
    assert _snapshot(root) == before


# ----- overview ---------------------------------------------------------------------------------


def test_overview_lists_runs_data_and_an_error_row_for_a_corrupt_store(root: Path) -> None:
    from dsr.app.page_overview import layout

    page = text(layout(root.resolve()))
    for run in ("r1", "r2", "long", "pending"):
        assert f'"/run/{run}.zarr"' in page
    assert "error-row" in page and "zarr.json cannot be read" in page
    assert '"/data/lorenz63.zarr"' in page
    assert "link.zarr" not in page  # a symlink out of ROOT is not offered
    assert "alrnn M=6 P=2" in page and "running" in page


def test_overview_filters_sorts_and_keeps_the_selection(root: Path) -> None:
    from dsr.app.page_overview import compare_href, refresh, runs_table, selection, toggle_sort
    from dsr.app.catalog import scan
    from dsr.app.summary import summarize

    rows = [summarize(e) for e in scan(root) if e.kind != "data"]
    assert "/run/r2.zarr" in text(runs_table(rows, {"column": "name", "descending": False}, "alrnn", set()))
    assert "/run/r1.zarr" not in text(runs_table(rows, {"column": "name", "descending": False}, "alrnn", set()))
    ordered = text(runs_table(rows, {"column": "name", "descending": True}, "", {"r2.zarr"}))
    assert ordered.index("/run/r2.zarr") < ordered.index("/run/r1.zarr")
    for descending in (False, True):  # only r2 was analysed: the runs without a λ error come last either way
        by_lambda = text(runs_table(rows, {"column": "lambda", "descending": descending}, "", set()))
        assert by_lambda.index("/run/r2.zarr") < by_lambda.index("/run/r1.zarr")
    assert toggle_sort({"column": "name", "descending": False}, "name") == {"column": "name", "descending": True}
    assert toggle_sort({"column": "name", "descending": True}, "d_stsp") == {"column": "d_stsp", "descending": False}
    # r1 is filtered out of view: it stays selected; r2 is unticked; long is ticked.
    assert selection(["r1.zarr", "r2.zarr"], ["r2.zarr", "long.zarr"], [[], ["long.zarr"]]) == ["r1.zarr", "long.zarr"]
    assert compare_href(["r1.zarr", "r2.zarr"]) == "/compare?run=r1.zarr&run=r2.zarr"
    # The timer redraws only when a store changed.
    table, signature = refresh(root, "runs-filter", "", {"column": "name", "descending": False}, [], [])
    assert refresh(root, "runs-refresh", "", {"column": "name", "descending": False}, [], signature) == (no_update, no_update)
    os.utime(root / "pending.zarr" / "zarr.json")
    assert refresh(root, "runs-refresh", "", {"column": "name", "descending": False}, [], signature)[0] is not no_update


def test_summary_reports_metrics_epochs_and_lambda_error(root: Path) -> None:
    from dsr.app.catalog import scan
    from dsr.app.summary import summarize

    rows = {e.name: summarize(e) for e in scan(root) if e.kind != "data"}
    r2 = rows["r2.zarr"]
    assert r2.status == "finished" and r2.epochs == "2/2" and r2.size == runstore.read_attrs(root / "r2.zarr")["n_parameters"]
    assert set(r2.metrics) == {"d_stsp", "d_h", "pe"} and r2.lambda_error is not None
    assert rows["r1.zarr"].lambda_error is None
    assert rows["pending.zarr"].status == "running" and rows["pending.zarr"].epochs_done == 0
    assert rows["broken.zarr"].error


# ----- run page -----------------------------------------------------------------------------------


def test_run_page_of_an_analysed_run_shows_every_panel(root: Path) -> None:
    from dsr.app.page_run import details, layout

    top, rest = layout(root.resolve(), "r2.zarr"), details(root.resolve(), "r2.zarr")
    page = text(top) + text(rest)
    assert "card error" not in page and "not analysed yet" not in page
    for title in ("Attractor", "Fixed points and cycles", "Time series", "Power spectra", "Training", "Lyapunov spectrum", "Linear regions", "Parameters"):
        assert title in page
    assert "true fixed point" in page and "stable node" in page  # dsr analyze wrote cycles and truth
    assert "colour: linear region" in page
    assert len(graphs(top)) == 1 and len(graphs(rest)) >= 8  # attractor | series, spectra, training, Lyapunov, regions, A, W, ...


def test_run_page_without_analysis_says_how_to_analyse(root: Path) -> None:
    from dsr.app.page_run import details, layout

    page = text(layout(root.resolve(), "r1.zarr")) + text(details(root.resolve(), "r1.zarr"))
    assert "card error" not in page
    assert f"not analysed yet — run `dsr analyze {root.resolve() / 'r1.zarr'}`" in page


def test_a_run_that_wrote_nothing_yet_shows_notes(root: Path) -> None:
    from dsr.app.page_run import details, layout

    page = text(layout(root.resolve(), "pending.zarr")) + text(details(root.resolve(), "pending.zarr"))
    assert "card error" not in page
    assert "no history yet" in page and "no checkpoint yet" in page


def test_a_corrupt_group_is_an_error_card_and_the_rest_renders(root: Path, tmp_path: Path) -> None:
    from dsr.app.page_run import details, layout

    shutil.copytree(root / "r2.zarr", tmp_path / "r2.zarr")
    (tmp_path / "r2.zarr" / "history" / "zarr.json").write_text("garbage")
    (tmp_path / "r2.zarr" / "analysis" / "cycles" / "zarr.json").write_text("{half written")
    page = text(layout(tmp_path, "r2.zarr")) + text(details(tmp_path, "r2.zarr"))
    assert page.count("card error") == 2  # training (history) and fixed points (cycles)
    assert "Lyapunov spectrum" in page and "Parameters" in page and "run-attractor-graph" in page


def test_the_run_page_of_a_missing_data_store_draws_the_model_alone(root: Path, tmp_path: Path) -> None:
    from dsr.app.page_run import layout

    shutil.copytree(root / "r1.zarr", tmp_path / "r1.zarr")
    runstore.update_attrs(tmp_path / "r1.zarr", data_path=str(tmp_path / "gone.zarr"))
    page = text(layout(tmp_path, "r1.zarr"))
    assert "not found: model only" in page and "card error" not in page


# ----- callbacks and decimation -------------------------------------------------------------------


def _points(trace: object) -> np.ndarray:
    return np.asarray(trace.x)


def test_attractor_callback_switches_axes_projection_and_colour(root: Path) -> None:
    from dsr.app.page_run import scene_named
    from dsr.app.panel_attractor import redraw

    scene = scene_named(root.resolve(), "r2.zarr")
    fig = redraw(scene, "variables", "source", ["z", "x", "y"], 20_000)
    assert fig.layout.scene.xaxis.title.text == "z" and fig.layout.scene.zaxis.title.text == "y"
    assert [t.name for t in fig.data][:2] == ["data", "model (free run)"]
    # A 3-D curve is the series' last stretch at full resolution (a stride would cut windings into chords).
    data = scene.series[0].values
    assert len(data) > 1_000 and np.allclose(np.asarray(redraw(scene, "variables", "source", ["z", "x", "y"], 1_000).data[0].x), data[-1_000:, 2])
    assert np.allclose(np.asarray(fig.data[0].x), data[-20_000:, 2])
    regions = redraw(scene, "variables", "regions", ["x", "y", "z"], 20_000)
    assert any(t.name.startswith("region 1") for t in regions.data)
    model = scene.series[1]
    shown = [np.asarray(t.x) for t in regions.data if t.name.startswith("region")]
    # Every drawn state of the model lies in exactly one region's line, in the same stretch.
    assert np.allclose(np.nansum(np.where(np.isnan(shown), 0, shown), axis=0), model.values[-20_000:, 0])
    assert np.all(np.sum(~np.isnan(shown), axis=0) == 1)
    assert regions.data[0].visible == "legendonly"  # the data, hidden while regions are shown
    assert sum(t.name.startswith("stable fixed point") or t.name.startswith("true fixed point") for t in fig.data) == 2


def test_pca_projection_is_offered_only_above_three_variables() -> None:
    from dsr.app.panel_attractor import controls, figure
    from dsr.app.scene import Scene, Series

    assert "PCA" not in text(controls("p", ["x", "y", "z"], False))
    assert "PCA" in text(controls("p", ["a", "b", "c", "d", "e"], False))
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5_000, 5)) @ np.diag([5.0, 3.0, 1.0, 0.1, 0.1])
    fig = figure(Scene(list("abcde"), 0.1, [Series("data", values, "#000")]), "pca")
    assert fig.layout.scene.xaxis.title.text.startswith("PC1")
    assert np.std(fig.data[0].x) > np.std(fig.data[0].z)


def test_long_trajectories_are_decimated_float32_and_capped(root: Path) -> None:
    from dsr.app.decimate import MAX_POINTS
    from dsr.app.page_run import scene_named, details
    from dsr.app.panel_attractor import redraw

    scene = scene_named(root.resolve(), "long.zarr")
    assert len(scene.series[1].values) == LONG_STEPS
    full = redraw(scene, "variables", "source", ["x", "y", "z"], 10**9)
    for trace in full.data[:2]:
        assert len(trace.x) <= MAX_POINTS and np.asarray(trace.x).dtype == np.float32
    for g in graphs(details(root.resolve(), "long.zarr")):
        for trace in g.figure.data:
            if trace.x is not None:
                assert len(trace.x) <= MAX_POINTS


def test_envelope_keeps_the_extremes_in_time_order() -> None:
    from dsr.app.decimate import envelope, stride

    t = np.arange(100_000, dtype=float)
    y = np.sin(t / 50.0)
    y[12_345] = 7.0
    td, yd = envelope(t, y, 1_000)
    assert len(td) <= 1_000 and np.all(np.diff(td) > 0) and yd.max() == 7.0 and yd.dtype == np.float32
    assert len(stride(np.zeros((100_000, 3)), 30_000)) <= 30_000


def test_regions_are_ranked_by_occupancy_with_transitions() -> None:
    from dsr.app.regions import TOP, rank

    pattern = np.array([[0, 0]] * 5 + [[1, 0]] * 3 + [[1, 1]] * 2, dtype=np.uint8)
    r = rank(pattern)
    assert r.codes == ["00", "10", "11"] and r.n_regions == 3
    assert np.allclose(r.occupancy[:3], [0.5, 0.3, 0.2]) and r.transitions[0, 1] == 1 and r.transitions[1, 2] == 1
    many = rank(np.unpackbits(np.arange(40, dtype=np.uint8)[:, None], axis=1))
    assert many.index.max() == TOP and many.names[-1] == "other regions"


# ----- compare and data pages, paper figures --------------------------------------------------------


def test_compare_page_shows_both_runs_side_by_side(root: Path) -> None:
    from dsr.app.page_compare import layout

    page = layout(root.resolve(), ["r1.zarr", "r2.zarr", "../outside.zarr"])
    rendered = text(page)
    assert "/run/r1.zarr" in rendered and "/run/r2.zarr" in rendered
    assert rendered.count("card error") == 1  # the refused name
    curves = graphs(page)[0].figure
    assert {t.name for t in curves.data} == {"r1", "r2"}


def test_data_page_shows_statistics_and_plots(root: Path) -> None:
    from dsr.app.page_data import layout

    page = layout(root.resolve(), "lorenz63.zarr")
    rendered = text(page)
    assert "lorenz63" in rendered and "mean" in rendered and "card error" not in rendered
    assert len(graphs(page)) == 3


@pytest.mark.parametrize("suffix", ["pdf", "png"])
def test_paper_figures_are_written(root: Path, tmp_path: Path, suffix: str) -> None:
    from dsr.app.paper_figures import write_figures

    out = write_figures(root / "r2.zarr", tmp_path / f"figure.{suffix}")
    head = out.read_bytes()[:8]
    assert head.startswith(b"%PDF" if suffix == "pdf" else b"\x89PNG")
    assert out.stat().st_size > 20_000


def test_paper_figures_refuse_unknown_formats_and_non_runs(root: Path, tmp_path: Path) -> None:
    from dsr.app.paper_figures import write_figures

    with pytest.raises(DsrError, match="end the output name with one of"):
        write_figures(root / "r2.zarr", tmp_path / "figure.docx")
    with pytest.raises(DsrError, match="not a dsr run store"):
        write_figures(root / "lorenz63.zarr", tmp_path / "figure.pdf")
