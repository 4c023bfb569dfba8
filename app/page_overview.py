"""The overview page: a sortable, filterable table of the runs under ROOT, refreshed while fits run,
with a selection for the compare page, and the list of data stores."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from dsr.app import catalog
from dsr.app.components import card, note
from dsr.app.summary import METRICS, RunRow, summarize

REFRESH_MS = 3_000
"""How often the page looks for changed stores (a redraw happens only when one changed)."""
COLUMNS = (
    ("name", "run"), ("data", "data"), ("model", "model"), ("size", "parameters"), ("status", "status"),
    ("epochs", "epochs"), ("d_stsp", "D_stsp"), ("d_h", "D_H"), ("pe", "PE"), ("lambda", "λ_max error"), ("created", "created"),
)


def number(value: float | None, percent: bool = False) -> str:
    """A metric as the tables show it ("–" when missing)."""
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if percent else f"{value:.4g}"


def run_href(name: str) -> str:
    return "/run/" + quote(name)


def compare_href(names: list[str]) -> str:
    return "/compare?" + urlencode([("run", n) for n in names])


def _row(row: RunRow, selected: set[str]) -> html.Tr:
    if row.error:  # an error card on the row; nothing to open or compare
        return html.Tr(
            [html.Td(""), html.Td(row.name), html.Td([html.Strong("cannot read this store: "), row.error], colSpan=len(COLUMNS) - 1)],
            className="error-row",
        )
    check = dcc.Checklist(id={"type": "run-select", "index": row.name}, options=[{"label": "", "value": row.name}], value=[row.name] if row.name in selected else [])
    cells = {
        "name": dcc.Link(row.name.removesuffix(".zarr"), href=run_href(row.name)),
        "data": row.data, "model": row.model, "size": "" if row.size is None else f"{row.size:,}",
        "status": html.Span(row.status, className=f"status-{row.status}"), "epochs": row.epochs,
        **{m: number(row.metrics.get(m)) for m in METRICS},
        "lambda": number(row.lambda_error, percent=True), "created": row.created,
    }
    numeric = {"size", "epochs", "lambda", *METRICS}
    return html.Tr([html.Td(check), *(html.Td(cells[c], className="num" if c in numeric else None) for c, _ in COLUMNS)])


def runs_table(rows: list[RunRow], sort: dict, query: str, selected: set[str]) -> html.Table | html.Div:
    """The table of ``rows`` matching ``query``, sorted by ``sort`` = {column, descending}."""
    query = (query or "").strip().lower()
    shown = [r for r in rows if query in r.text()] if query else rows
    column = sort["column"]
    missing = [r for r in shown if r.value(column) is None]  # last in either direction
    shown = sorted((r for r in shown if r.value(column) is not None), key=lambda r: r.value(column), reverse=sort["descending"]) + missing
    if not shown:
        return note("no runs match" if rows else "no run stores here yet: `dsr fit DATA -o ROOT` writes one")
    arrow = " ▼" if sort["descending"] else " ▲"
    header = html.Tr(
        [html.Th(""), *(html.Th(html.Button(label + (arrow if col == sort["column"] else ""), id={"type": "sort", "column": col})) for col, label in COLUMNS)]
    )
    return html.Table([html.Thead(header), html.Tbody([_row(r, selected) for r in shown])], className="runs", id="runs-table")


def data_table(entries: list[catalog.StoreEntry]) -> html.Table | html.Div:
    """Links to the data stores under ROOT."""
    if not entries:
        return note("no data stores here")
    return html.Table(
        [html.Thead(html.Tr([html.Th("data store")])), html.Tbody([html.Tr(html.Td(dcc.Link(e.name, href="/data/" + quote(e.name)))) for e in entries])],
        className="runs",
    )


def _store_links(entries: list[catalog.StoreEntry], store: str, page: str, header: str, table_id: str, empty: str) -> html.Table | html.Div:
    """A table of links to the pages of ``entries`` (stores named ``<folder>/<store>``), or the note ``empty``."""
    if not entries:
        return note(empty)
    rows = [html.Tr(html.Td(dcc.Link(e.name.removesuffix("/" + store), href=f"/{page}/" + quote(e.name)))) for e in entries]
    return html.Table([html.Thead(html.Tr([html.Th(header)])), html.Tbody(rows)], className="runs", id=table_id)


def leaderboard_table(entries: list[catalog.StoreEntry]) -> html.Table | html.Div:
    """Links to the benches' leaderboards under ROOT."""
    return _store_links(entries, "leaderboard.zarr", "leaderboard", "bench", "leaderboards-table",
                        "no leaderboards here: `dsr bench DATA.zarr -o ROOT/NAME` writes one")


def sweep_table(entries: list[catalog.StoreEntry]) -> html.Table | html.Div:
    """Links to the sweeps under ROOT (their tables)."""
    return _store_links(entries, "sweep.zarr", "sweep", "sweep", "sweeps-table", "no sweeps here: `dsr sweep SPEC.toml -o ROOT/NAME` writes one")


def layout(root: Path) -> html.Div:
    entries = catalog.scan(root)
    runs = [e for e in entries if e.kind not in ("data", "sweep", "leaderboard")]
    sort = {"column": "created", "descending": True}
    return html.Div(
        [
            card(
                "Runs",
                html.Div(
                    [
                        dcc.Input(id="runs-filter", type="text", placeholder="filter by name, data, model, status…", debounce=True),
                        dcc.Link("compare selected runs", id="compare-link", href=compare_href([])),
                    ],
                    className="controls",
                ),
                html.Div(runs_table([summarize(e) for e in runs], sort, "", set()), id="runs-container"),
            ),
            card("Sweeps", sweep_table([e for e in entries if e.kind == "sweep"])),
            card("Leaderboards", leaderboard_table([e for e in entries if e.kind == "leaderboard"])),
            card("Data stores", data_table([e for e in entries if e.kind == "data"])),
            dcc.Store(id="runs-sort", data=sort),
            dcc.Store(id="runs-selected", data=[]),
            dcc.Store(id="runs-signature", data=catalog.signature(runs)),
            dcc.Interval(id="runs-refresh", interval=REFRESH_MS),
        ]
    )


def refresh(root: Path, trigger: str | None, query: str, sort: dict, selected: list[str], signature: list) -> tuple:
    """(table, signature): redrawn on a filter or sort change, or when a store changed; else no_update."""
    runs = [e for e in catalog.scan(root) if e.kind not in ("data", "sweep", "leaderboard")]
    new = [list(s) for s in catalog.signature(runs)]
    if trigger == "runs-refresh" and new == signature:
        return no_update, no_update
    return runs_table([summarize(e) for e in runs], sort, query, set(selected)), new


def toggle_sort(sort: dict, column: str) -> dict:
    """Sort by ``column``; a second click on the same column reverses the order."""
    if column == sort["column"]:
        return {"column": column, "descending": not sort["descending"]}
    return {"column": column, "descending": False}


def selection(previous: list[str], visible: list[str], checked: list[list[str]]) -> list[str]:
    """The selected runs: the checked visible rows, plus earlier selections now filtered out of view."""
    kept = [n for n in previous if n not in visible]
    return kept + [n for values in checked for n in values if n not in kept]


def register(app: Dash, root: Path) -> None:
    @app.callback(
        Output("runs-container", "children"), Output("runs-signature", "data"),
        Input("runs-refresh", "n_intervals"), Input("runs-filter", "value"), Input("runs-sort", "data"),
        State("runs-selected", "data"), State("runs-signature", "data"),
        prevent_initial_call=True,
    )
    def _refresh(_n, query, sort, selected, signature):
        return refresh(root, ctx.triggered_id, query, sort, selected, signature)

    @app.callback(Output("runs-sort", "data"), Input({"type": "sort", "column": ALL}, "n_clicks"), State("runs-sort", "data"), prevent_initial_call=True)
    def _sort(clicks, sort):
        # A redrawn header fires with n_clicks None; only a real click changes the order.
        if not ctx.triggered_id or not any(clicks):
            return no_update
        return toggle_sort(sort, ctx.triggered_id["column"])

    @app.callback(
        Output("runs-selected", "data"), Output("compare-link", "href"), Output("compare-link", "children"),
        Input({"type": "run-select", "index": ALL}, "value"), State("runs-selected", "data"),
        prevent_initial_call=True,
    )
    def _select(checked, previous):
        visible = [item["id"]["index"] for item in ctx.inputs_list[0]]
        chosen = selection(previous, visible, checked)
        return chosen, compare_href(chosen), f"compare {len(chosen)} selected runs"
