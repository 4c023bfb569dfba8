"""Publication figures of a run with matplotlib: ``dsr plot RUN -o fig.pdf``.

One figure with the run page's key panels: (a) the attractor, data against the model's free
run, with the fixed points and cycles; (b) a time series; (c) the power spectra; (d) the
training curves; (e) the Lyapunov spectrum against the ground truth; (f) the coupling
matrix W (or the largest parameter matrix). The format follows the output's suffix (pdf, svg,
png, ...). The numbers come from the same readers as the dashboard's panels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dsr import runstore
from dsr.app import panel_fixed_points, panel_lyapunov, panel_params, panel_spectra, panel_training
from dsr.app.decimate import tail
from dsr.app.panel_timeseries import INITIAL_STEPS
from dsr.app.runview import RunView
from dsr.app.scene import Scene, run_scene
from dsr.app.style import MODEL_COLOR, STABLE_COLOR, TRUTH_COLOR, UNSTABLE_COLOR
from dsr.errors import DsrError
from dsr.zarrstore import atomic_directory, require_separate

POINTS = 20_000
"""States per curve in the 3-D panel (the last ones, see ``decimate.tail``): vector output stays a few MB."""


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7, color="#666")
    ax.axis("off")


def _attractor(ax: Axes, scene: Scene) -> None:
    for series in scene.series:
        x = series.values[tail(len(series.values), POINTS)]
        ax.plot(x[:, 0], x[:, 1], x[:, 2], lw=0.3, color=series.color, alpha=0.7, label=series.label)
    for orbit in scene.orbits:
        if not orbit.real:
            continue
        p = orbit.points
        color = TRUTH_COLOR if orbit.truth else STABLE_COLOR if orbit.stable else UNSTABLE_COLOR
        marker = "D" if orbit.truth else "o"
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], s=18, marker=marker, color=color if orbit.stable or orbit.truth else "none", edgecolors=color, depthshade=False)
    ax.set_xlabel(scene.variables[0])
    ax.set_ylabel(scene.variables[1])
    ax.set_zlabel(scene.variables[2])
    ax.set_box_aspect(None, zoom=0.8)  # room for the axis labels inside the panel
    ax.legend(loc="upper left", fontsize=6, frameon=False)


def _time_series(ax: Axes, scene: Scene) -> None:
    for series in scene.series:
        n = min(len(series.values), INITIAL_STEPS)
        ax.plot(np.arange(n) * scene.dt, series.values[:n, 0], lw=0.6, color=series.color, label=series.label)
    ax.set_xlabel("time")
    ax.set_ylabel(scene.variables[0])


def _spectra(ax: Axes, scene: Scene) -> None:
    freqs, powers, f_max = panel_spectra.spectra(scene.series, scene.dt)
    shown = freqs <= f_max
    for series, power in zip(scene.series, powers):
        ax.semilogy(freqs[shown], power[shown, 0], lw=0.8, color=series.color, label=series.label)
    ax.set_xlabel("frequency (1/time)")
    ax.set_ylabel(f"power of {scene.variables[0]}")


def _training(ax: Axes, run: RunView) -> None:
    history = run.group(runstore.HISTORY)
    if history is None:
        _note(ax, "no training history yet")
        return
    x, y = panel_training.curve(history, "loss", run.best_member)
    ax.semilogy(x, y, color=MODEL_COLOR, lw=1, label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color=MODEL_COLOR)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if "d_stsp" in history:
        twin = ax.twinx()
        x, y = panel_training.curve(history, "d_stsp", run.best_member)
        twin.plot(x, y, "o-", color=TRUTH_COLOR, ms=2, lw=0.8)
        twin.set_ylabel("D_stsp")
        twin.spines["right"].set_visible(True)


def _lyapunov(ax: Axes, run: RunView) -> None:
    spectrum = panel_lyapunov.read(run)
    if spectrum is None:
        _note(ax, f"Lyapunov spectrum not analysed yet:\nrun `dsr analyze {run.path.name}`")
        return
    i = np.arange(1, len(spectrum.model) + 1)
    ax.errorbar(i, spectrum.model, yerr=spectrum.spread, fmt="o-", color=MODEL_COLOR, ms=3, lw=1, label="model")
    if spectrum.truth is not None:
        ax.plot(np.arange(1, len(spectrum.truth) + 1), spectrum.truth, "x--", color=TRUTH_COLOR, lw=1, label="truth")
    ax.axhline(0, color="#bbb", lw=0.6)
    ax.set_xlabel("index i")
    ax.set_ylabel(f"λ_i ({spectrum.unit})" if spectrum.unit else "λ_i")
    ax.legend(fontsize=6, frameon=False)


def _parameters(ax: Axes, run: RunView) -> None:
    params = run.group(f"{runstore.PARAMS}/best")
    if params is None:
        _note(ax, "no checkpoint yet")
        return
    matrices = panel_params.matrices(params, run.best_member)
    name, values, dims = next((m for m in matrices if m[0] == "W"), max(matrices, key=lambda m: m[1].size))
    bound = float(np.nanmax(np.abs(values))) or 1.0
    image = ax.imshow(values, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(name, fontsize=8)
    ax.set_ylabel(dims[0])
    ax.set_xlabel(dims[-1])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def write_figures(run_path: str | os.PathLike, out_path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the key figures of the run store ``run_path`` to ``out_path`` (format from its suffix); return the path.

    The file is written to a temporary sibling and renamed into place; an existing file is
    replaced only with ``overwrite``. A path that is not a run store, an unknown suffix or an
    existing output without ``overwrite`` raises a one-line DsrError.
    """
    out = Path(out_path)
    formats = Figure().canvas.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in formats:
        raise DsrError(f"cannot write '{out.suffix or out.name}' figures; end the output name with one of: .{', .'.join(sorted(formats))}")
    require_separate(out, [run_path])
    run = RunView(run_path)
    scene = run_scene(run, panel_fixed_points.read(run) or [])
    with rc_context({"font.size": 7, "axes.titlesize": 8, "axes.spines.top": False, "axes.spines.right": False}):
        # A bare Figure (no pyplot): no backend or display is touched, also in notebooks.
        fig = Figure(figsize=(7.2, 4.8), layout="constrained")
        grid = fig.add_gridspec(2, 3)
        panels = [
            (fig.add_subplot(grid[0, 0], projection="3d"), _attractor, scene),
            (fig.add_subplot(grid[0, 1]), _time_series, scene),
            (fig.add_subplot(grid[0, 2]), _spectra, scene),
            (fig.add_subplot(grid[1, 0]), _training, run),
            (fig.add_subplot(grid[1, 1]), _lyapunov, run),
            (fig.add_subplot(grid[1, 2]), _parameters, run),
        ]
        for letter, (ax, draw, source) in zip("abcdef", panels):
            if draw in (_attractor, _time_series, _spectra) and not scene.series:
                _note(ax, "no free run and no data to show")
            elif draw is _attractor and len(scene.variables) < 3:
                _note(ax, "fewer than three variables")
            else:
                draw(ax, source)
            ax.set_title(f"({letter})", loc="left", fontsize=8, fontweight="bold")
        fig.suptitle(f"{run.name}: {run.config_dict.get('model', '?')}, status {run.attrs.get('status', '?')}", fontsize=8)
        with atomic_directory(out, overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=200, format=out.suffix.lstrip(".").lower())
    return out
