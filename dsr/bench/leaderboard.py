"""The leaderboard store of a ``dsr bench``: one row per fit, and its summary per model family.

Layout (``<bench folder>/leaderboard.zarr``; the app and ``dsr bench`` read it through here)::

    root attrs: schema_version, dsr_store="leaderboard", data, test, budget_minutes, fits (per model),
                models (in the order asked), truth ({lambda1, d_ky} of the data's system, or {}), updated
    dimension ``fit`` (the fit names of the bench's sweep table); variables:
        model, seed, status (finished, failed, pending), health (ok, diverged, collapsed, failed, pending),
        d_stsp, d_h, pe (final metrics of the fit's best member), lambda1, d_ky, n_parameters, wall_s,
        error (why a fit failed, or why its invariants are missing), run (the run store, relative to the folder)

A finished fit's free run is ``diverged`` when it leaves the finite numbers or grows beyond 10³ standard
deviations, ``collapsed`` when every variable's standard deviation over its second half is below 10⁻³
(a fixed point): the failure modes the GTF and AL-RNN papers count for baselines.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import xarray as xr


SCHEMA_VERSION = 1
STORE_KIND = "leaderboard"
STORE = "leaderboard.zarr"
METRICS = ("d_stsp", "d_h", "pe", "lambda1", "d_ky")
NUMBERS = (*METRICS, "seed", "n_parameters", "wall_s")
TEXTS = ("model", "status", "health", "error", "run")
DIVERGED, COLLAPSED = 1e3, 1e-3


def store_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / STORE


def health(x: np.ndarray) -> str:
    """``ok``, ``diverged`` or ``collapsed`` for a free run x (time, variable) in standardized units (module doc)."""
    if not np.all(np.isfinite(x)) or np.abs(x).max() > DIVERGED:
        return "diverged"
    if np.all(x[len(x) // 2 :].std(axis=0) < COLLAPSED):
        return "collapsed"
    return "ok"


def table(rows: list[dict], attrs: dict) -> xr.Dataset:
    """The leaderboard from one dict per fit (keys ``fit``, NUMBERS and TEXTS; missing: NaN or '')."""
    data = {name: (("fit",), np.array([r.get(name, math.nan) for r in rows], dtype=np.float64)) for name in NUMBERS}
    data |= {name: (("fit",), np.array([str(r.get(name) or "") for r in rows], dtype=object)) for name in TEXTS}
    attrs = {"schema_version": SCHEMA_VERSION, "dsr_store": STORE_KIND, **attrs}
    return xr.Dataset(data, coords={"fit": np.array([r["fit"] for r in rows], dtype=object)}, attrs=attrs)


def write(folder: str | os.PathLike, ds: xr.Dataset) -> Path:
    """Replace the leaderboard of the bench in ``folder`` atomically."""
    from dsr.zarrstore import write_dataset

    return write_dataset(ds, store_path(folder), overwrite=True)


def read(path: str | os.PathLike) -> xr.Dataset:
    """The leaderboard of a bench folder (or its ``leaderboard.zarr``), in memory; one-line DsrError if there is none."""
    from dsr.runstore import read_results_store

    return read_results_store(path, STORE, STORE_KIND, f"{{folder}} holds no leaderboard ({STORE}); pass the -o folder of a `dsr bench`")


def _quartiles(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {"median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def summary(ds: xr.Dataset) -> list[dict]:
    """Per model, in the bench's order: fit counts by status and health, median [IQR] of each metric,
    median parameters and wall time per fit, and the distinct failure reasons."""
    rows = []
    models = ds["model"].values
    for model in ds.attrs["models"]:
        mine = models == model
        status, fit_health = ds["status"].values[mine], ds["health"].values[mine]
        finished = status == "finished"
        errors = sorted({str(e) for e, s in zip(ds["error"].values[mine], status) if s == "failed" and e})
        row = {
            "model": model, "fits": int(mine.sum()), "finished": int(finished.sum()), "failed": int((status == "failed").sum()),
            "diverged": int((fit_health == "diverged").sum()), "collapsed": int((fit_health == "collapsed").sum()),
            "errors": errors,
        }
        for name in METRICS:
            row[name] = _quartiles(ds[name].values[mine][finished])
        for name in ("n_parameters", "wall_s"):
            row[name] = _quartiles(ds[name].values[mine])["median"]
        rows.append(row)
    return rows


def cell(stats: dict[str, float | None]) -> str:
    """median [q1, q3] with 3 significant digits, '–' without values."""
    if stats["median"] is None:
        return "–"
    return f"{stats['median']:.3g} [{stats['q1']:.3g}, {stats['q3']:.3g}]"


def failures(row: dict) -> str:
    """The failure column: counts of failed fits and of diverging or collapsing free runs."""
    parts = [f"{row[k]} {k}" for k in ("failed", "diverged", "collapsed") if row[k]]
    return ", ".join(parts) or "none"


def markdown(ds: xr.Dataset) -> str:
    """The summary as a Markdown table (the README's, generated by ``benchmarks/leaderboard.py``)."""
    truth = ds.attrs.get("truth") or {}
    head = "| model | fits | D_stsp | D_H | PE(20) | λ1" + (f" (true {truth['lambda1']:.3g})" if "lambda1" in truth else "")
    head += " | D_KY" + (f" (true {truth['d_ky']:.3g})" if "d_ky" in truth else "") + " | parameters | min per fit | failures |"
    lines = [head, "|---|---:|---|---|---|---|---|---:|---:|---|"]
    for row in summary(ds):
        params = "–" if row["n_parameters"] is None else f"{row['n_parameters']:.0f}"
        wall = "–" if row["wall_s"] is None else f"{row['wall_s'] / 60:.1f}"
        lines.append(
            f"| {row['model']} | {row['finished']}/{row['fits']} | " + " | ".join(cell(row[m]) for m in METRICS)
            + f" | {params} | {wall} | {failures(row)} |"
        )
    return "\n".join(lines)
