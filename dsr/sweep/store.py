"""The sweep store: one folder per sweep, holding its table and one run store per fit.

Layout (read by ``dsr app`` and by a resumed sweep; every reader and writer goes through here)::

    <sweep>/
        sweep.zarr/        root attrs: schema_version, dsr_store="sweep", status (running, finished,
                           interrupted, stopped: a time budget ended it), spec (the TOML text), digest, data, test, varied (the
                           configuration columns), configs (fit name -> its FitConfig fields), created, updated
                           one dimension ``fit`` (the fit names); variables: the varied configuration
                           fields, status (pending, finished, failed), d_stsp, d_h, pe (final metrics of
                           the fit's best member), wall_s, worker, error
        runs/<fit>.zarr    the fits' run stores, as ``dsr fit`` writes them
        .sweep.zarr.lock   beside the table: the lock of the ``dsr sweep`` that runs it

The table is rewritten whole (atomically, to a temporary sibling that is renamed into place) when a
fit finishes, so a reader sees the previous table or the new one.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


SCHEMA_VERSION = 1
STORE_KIND = "sweep"
TABLE = "sweep.zarr"
RUNS = "runs"
METRICS = ("d_stsp", "d_h", "pe")
ROW_FIELDS = ("status", *METRICS, "wall_s", "worker", "error")


def table_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / TABLE


def runs_folder(folder: str | os.PathLike) -> Path:
    return Path(folder) / RUNS


def _column(values: list[Any]) -> np.ndarray:
    """Numbers as float64 (None as NaN), anything else (strings, booleans, a mix) as strings."""
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def table(configs: dict[str, dict], varied: tuple[str, ...], rows: dict[str, dict], attrs: dict) -> xr.Dataset:
    """The sweep table: one entry per fit (``configs``: name -> fields), its row (``rows``: name -> ROW_FIELDS)."""
    names = list(configs)
    empty = {"status": "pending", "worker": "", "error": ""}
    data = {field: (("fit",), _column([configs[n].get(field) for n in names])) for field in varied}
    for field in ROW_FIELDS:
        values = [rows.get(n, {}).get(field, empty.get(field)) for n in names]
        data[field] = (("fit",), np.array(values, dtype=object) if field in empty else _column(values))
    return xr.Dataset(data, coords={"fit": np.array(names, dtype=object)}, attrs=attrs)


def write(folder: str | os.PathLike, ds: xr.Dataset) -> None:
    """Replace the table of the sweep in ``folder`` atomically."""
    from dsr.zarrstore import write_dataset

    write_dataset(ds, table_path(folder), overwrite=True)


def read(folder: str | os.PathLike) -> xr.Dataset:
    """The table of the sweep in ``folder`` (a sweep folder or its ``sweep.zarr``), in memory."""
    from dsr.runstore import read_results_store

    return read_results_store(folder, TABLE, STORE_KIND, f"{{folder}} holds no sweep table ({TABLE}); pass the -o folder of a `dsr sweep`")


def best(ds: xr.Dataset) -> str | None:
    """The finished fit with the lowest D_stsp (then D_H), or None."""
    finished = [i for i, s in enumerate(ds["status"].values) if s == "finished" and np.isfinite(ds["d_stsp"].values[i])]
    if not finished:
        return None
    i = min(finished, key=lambda i: (ds["d_stsp"].values[i], ds["d_h"].values[i]))
    return str(ds["fit"].values[i])


def rows_of(ds: xr.Dataset) -> list[dict]:
    """The table as plain rows (field -> value; NaN as None), for JSON and the app."""
    rows = []
    for i, name in enumerate(ds["fit"].values):
        row = {"fit": str(name)}
        for var in ds.data_vars:
            value = ds[var].values[i]
            row[var] = None if isinstance(value, float) and math.isnan(value) else value.item() if hasattr(value, "item") else value
        rows.append(row)
    return rows
