"""The Dash app: routing between the overview, run, compare and data pages, and serving it.

URLs: ``/`` (runs, sweeps and data stores), ``/run/<name>``, ``/compare?run=<name>&run=<name>``,
``/data/<name>``, ``/sweep/<name>`` (a sweep's table, ``<sweep>/sweep.zarr``), ``/leaderboard/<name>`` (a bench's,
``<bench>/leaderboard.zarr``), where ``<name>`` is a store's path relative to ROOT. Every name goes
through :func:`dsr.app.catalog.resolve`; the app only reads.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html, set_props

from dsr.app import page_compare, page_data, page_leaderboard, page_overview, page_run, page_sweep
from dsr.app.components import card, error_card, guarded, note
from dsr.app.style import CSS
from dsr.errors import DsrError

INDEX = """<!DOCTYPE html>
<html>
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}<style>""" + CSS + """</style></head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def route(root: Path, pathname: str | None, search: str | None) -> html.Div:
    """The page for a URL; a refused or unknown one is an error card, never an exception."""
    path = pathname or "/"
    if path == "/":
        return guarded("Runs", lambda: page_overview.layout(root))
    if path.startswith("/run/"):
        return guarded("Run", lambda: page_run.layout(root, path.removeprefix("/run/")))
    if path.startswith("/data/"):
        return guarded("Data", lambda: page_data.layout(root, path.removeprefix("/data/")))
    if path.startswith("/sweep/"):
        return guarded("Sweep", lambda: page_sweep.layout(root, path.removeprefix("/sweep/")))
    if path.startswith("/leaderboard/"):
        return guarded("Leaderboard", lambda: page_leaderboard.layout(root, path.removeprefix("/leaderboard/")))
    if path == "/compare":
        return guarded("Compare", lambda: page_compare.layout(root, parse_qs((search or "").lstrip("?")).get("run", [])))
    return card("Not found", note(f"no page at {path}"), dcc.Link("back to the runs", href="/"))


CALLBACK_ERROR = "callback-error"
"""Where the card of a callback's unhandled error is shown (above the page)."""


def _callback_error(err: Exception) -> None:
    """Show ``err`` as an error card and leave the callback's outputs as they were."""
    set_props(CALLBACK_ERROR, {"children": error_card("Update failed", str(err) if isinstance(err, DsrError) else err)})


def create_app(root: str | Path) -> Dash:
    """The dashboard over the stores under ``root`` (resolved once; nothing outside it is served).

    A ``root`` that is not a folder raises a one-line DsrError.
    """
    shown_root = Path(root)
    if not shown_root.is_dir():
        raise DsrError(f"{shown_root} is not a folder; pass the folder that holds your run and data stores")
    root = shown_root.resolve()
    app = Dash(
        __name__,
        title="dsr",
        suppress_callback_exceptions=True,  # page components appear only after routing
        assets_folder=str(Path(__file__).with_name("no-assets")),  # serve no files from disk
        update_title=None,
        on_error=_callback_error,  # an unhandled callback error: an error card, not an HTTP 500
    )
    app.index_string = INDEX
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                [html.Span("dsr", className="brand"), dcc.Link("Runs", href="/"), html.Span(str(shown_root), style={"opacity": 0.7})],
                className="nav",
            ),
            html.Div(id=CALLBACK_ERROR),
            html.Div(id="page", className="page"),
            # An empty graph on every page makes the browser load plotly.js while the user is
            # still on the overview, so that opening a run does not wait for it (~1-2 s).
            dcc.Graph(id="plotly-preload", style={"display": "none"}),
        ]
    )

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def _route(pathname: str | None, search: str | None) -> html.Div:
        return route(root, pathname, search)

    page_overview.register(app, root)
    page_run.register(app, root)
    page_data.register(app, root)
    page_sweep.register(app)
    page_leaderboard.register(app)
    return app


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the dashboard on ``host:port`` (loopback only unless another host is passed explicitly).

    The address is tried first, so that a bad port or one in use is a one-line DsrError, not Flask's exit.
    """
    if not 0 < port < 65536:
        raise DsrError(f"--port {port} is not a TCP port; pass one between 1 and 65535")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise DsrError(f"cannot serve on {host}:{port} ({err.strerror or err}); choose another --port or --host") from None
    create_app(root).run(host=host, port=port, debug=False)
