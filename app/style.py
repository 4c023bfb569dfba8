"""Colours and the page's stylesheet, shared by the Dash pages and the matplotlib figures."""

from __future__ import annotations

DATA_COLOR = "#4c6a92"
MODEL_COLOR = "#d1495b"
TRUTH_COLOR = "#2a2a2a"
STABLE_COLOR = "#2e8540"
UNSTABLE_COLOR = "#d1495b"
SEQUENCE = ("#4c6a92", "#d1495b", "#edae49", "#00798c", "#6a4c93", "#66a182", "#8d6a9f", "#c97c5d", "#30638e", "#a2a2a2")
"""Colours of runs on the compare page and of linear regions (the last is 'other regions')."""

# Inline, because a Dash assets folder would need packaging as data files.
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f4f5f7; color: #222; }
.nav { display: flex; gap: 1.5em; align-items: baseline; padding: 0.7em 1.5em; background: #24324a; color: white; }
.nav a { color: #dfe7f5; text-decoration: none; } .nav .brand { font-weight: 600; color: white; }
.page { padding: 1em 1.5em; }
.top { display: grid; grid-template-columns: minmax(0, 2fr) minmax(320px, 1fr); gap: 1em; align-items: start; }
@media (max-width: 1100px) { .top { grid-template-columns: 1fr; } }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1em; align-items: start; }
.card { background: white; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 0.8em 1em; margin-bottom: 1em; }
.card h3 { margin: 0 0 0.5em 0; font-size: 1.05em; }
.error { border-left: 4px solid #d1495b; background: #fff5f5; }
.error pre { white-space: pre-wrap; margin: 0.3em 0 0 0; font-size: 0.85em; color: #8a1c2b; }
.note { color: #666; font-style: italic; }
.controls { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin-bottom: 0.5em; }
.controls .dash-dropdown { min-width: 9em; }
table.runs { border-collapse: collapse; width: 100%; font-size: 0.9em; background: white; }
table.runs th, table.runs td { padding: 0.35em 0.6em; border-bottom: 1px solid #e3e6ea; text-align: left; }
table.runs th button { background: none; border: none; font-weight: 600; cursor: pointer; padding: 0; }
table.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs tr.error-row td { background: #fff5f5; color: #8a1c2b; }
.status-running { color: #b7791f; font-weight: 600; } .status-finished { color: #2e8540; }
.status-failed, .status-unreadable { color: #d1495b; font-weight: 600; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; font-size: 0.9em; }
.kv dt { color: #666; } .kv dd { margin: 0; }
"""

_AXIS = dict(gridcolor="#e5eaf0", linecolor="#c8d0da", zerolinecolor="#d5dce5", ticks="", automargin=True)
_SCENE_AXIS = dict(backgroundcolor="white", gridcolor="#dfe5ec", zerolinecolor="#c8d0da", showbackground=True)
TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white", "plot_bgcolor": "white", "colorway": list(SEQUENCE), "font": {"color": "#2a3f5f"},
        "xaxis": _AXIS, "yaxis": _AXIS, "scene": {"xaxis": _SCENE_AXIS, "yaxis": _SCENE_AXIS, "zaxis": _SCENE_AXIS},
        "hovermode": "closest",
    }
}
"""A small plotly template in the spirit of plotly_white (the full one costs ~25 ms per figure to apply)."""
