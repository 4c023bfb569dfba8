"""Summaries of stores for ``dsr info``: plain, JSON-ready dictionaries."""

from __future__ import annotations

import os

import numpy as np

from dsr.zarrstore import open_store, read_values, require_store


def _column_stats(values: np.ndarray, labels: list[str]) -> dict[str, dict[str, float | int]]:
    """Per-column mean/std/min/max over all other axes, ignoring NaN, and the NaN count."""
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
    stats = {}
    for j, label in enumerate(labels):
        col = flat[:, j]
        finite = col[np.isfinite(col)]
        empty = finite.size == 0
        stats[label] = {
            "mean": float("nan") if empty else float(finite.mean()),
            "std": float("nan") if empty else float(finite.std()),
            "min": float("nan") if empty else float(finite.min()),
            "max": float("nan") if empty else float(finite.max()),
            "nan": int(np.isnan(col).sum()),
            "inf": int(np.isinf(col).sum()),
        }
    return stats


def describe_run(path: str | os.PathLike) -> dict:
    """Summarise a run store: status, config, versions, progress and final metrics."""
    from dsr import runstore
    from dsr.run import Run

    run = Run(path)
    history = run.group(runstore.HISTORY)
    return {
        "path": str(path),
        "kind": "run",
        "status": run.attrs.get("status"),
        "epochs_done": 0 if history is None else int(history["epoch"].values[-1]),
        "checkpoints": run.checkpoints,
        "analyses": run.analyses,
        "evaluations": run.evaluations,
        "attrs": run.attrs,
    }


def describe(path: str | os.PathLike) -> dict:
    """Summarise a data store: each variable's dims, sizes, dtype and per-column statistics.

    Unlike :func:`dsr.data.load` this does not reject problem data: it reports NaN and
    infinite counts so that the user can see what validation would complain about.
    """
    from dsr.data import sampling_interval
    from dsr.runstore import STORE_KIND, read_attrs

    if read_attrs(require_store(path)).get("dsr_store") == STORE_KIND:
        return describe_run(path)
    ds = open_store(path)
    variables = {}
    for name, da in ds.data_vars.items():
        entry: dict = {"dims": list(da.dims), "shape": list(da.shape), "dtype": str(da.dtype)}
        if np.issubdtype(da.dtype, np.number) and da.ndim >= 1 and da.shape[-1] > 0:
            last = da.dims[-1]
            labels = [str(v) for v in da[last].values] if last in da.coords else [f"{last}{i}" for i in range(da.shape[-1])]
            # A repeated name would merge columns in the table; number the repeats instead.
            labels = [label if labels.count(label) == 1 else f"{label} [{i}]" for i, label in enumerate(labels)]
            entry["stats"] = _column_stats(read_values(da, path), labels)
        variables[str(name)] = entry
    first = next(iter(ds.data_vars.values()), None)
    return {
        "path": str(path),
        "kind": ds.attrs.get("dsr_store", "data"),
        "dims": {str(k): int(v) for k, v in ds.sizes.items()},
        "dt": None if first is None else sampling_interval(ds, first),
        "attrs": {str(k): v for k, v in ds.attrs.items()},
        "variables": variables,
    }
