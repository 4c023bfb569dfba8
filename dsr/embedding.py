"""``dsr embed``: a delay embedding of a data store's series, written as a new data store.

The embedding, the lag rule (first minimum of the mutual information) and the dimension rule
(false nearest neighbours) are those of `dsr.analysis.embedding`, whose docstring gives the
definitions and sources. Every trial is embedded on its own; lag and dimension are chosen on
all trials pooled. The output keeps dt and trials, its time coordinate starts at the time of the
first complete delay vector, its variables are named ``x(t)``, ``x(t-17)``, ..., and its attrs
hold ``embedding`` (lag, dim, how each was chosen, the mutual information and false-neighbour
curves) and the source's attrs under ``source_attrs``. The source's ``system`` is not kept at
the top level: a model of the embedded series lives in other coordinates than the system's, so
`dsr analyze` compares it with the data-driven invariants, not with the system's fixed points.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dsr import __version__
from dsr.errors import DsrError

MIN_VECTORS = 100
"""Fewer delay vectors per trial than this cannot show an attractor (nor train a model)."""


def _columns(variables: tuple[str, ...], chosen: list[str] | None, path: Path) -> list[int]:
    if not chosen:
        if len(variables) == 1:
            return [0]
        raise DsrError(
            f"{path} has {len(variables)} variables ({', '.join(variables)}); choose the one(s) to embed with --column NAME (repeatable)"
        )
    missing = [c for c in chosen if c not in variables]
    if missing:
        raise DsrError(f"--column {missing[0]}: {path} has no such variable; choose from {', '.join(variables)}")
    return [variables.index(c) for c in chosen]


def embed(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dim: int | None = None,
    lag: int | None = None,
    auto: bool = False,
    var: str | None = None,
    columns: list[str] | None = None,
    max_dim: int = 10,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Delay-embed ``columns`` of the data store ``data`` into the store ``out``; return a summary.

    ``dim`` delays of ``lag`` steps; with ``auto`` what is not given is chosen (lag by mutual
    information, dimension by false nearest neighbours up to ``max_dim``). Bad input raises a
    one-line DsrError.
    """
    from dsr.analysis import embedding
    from dsr.data import load, to_dataset
    from dsr.zarrstore import require_separate, write_dataset

    for flag, value in (("--dim", dim), ("--lag", lag)):
        if value is not None and value < 1:
            raise DsrError(f"{flag} {value} must be at least 1")
    if max_dim < 1:
        raise DsrError(f"--max-dim {max_dim} must be at least 1")
    if not auto and (dim is None or lag is None):
        missing = " and ".join(f for f, v in (("--dim", dim), ("--lag", lag)) if v is None)
        raise DsrError(f"give {missing}, or --auto to choose {'it' if ' and ' not in missing else 'them'} from the data")
    data, out = Path(data), Path(out)
    require_separate(out, [data])
    series = load(data, var=var)
    picked = _columns(series.variables, columns, data)
    names = [series.variables[i] for i in picked]
    values = series.values[:, :, picked].astype(np.float64)
    info: dict[str, Any] = {"lag": lag, "dim": dim, "columns": names}
    if lag is None:
        if series.n_time < 20:
            raise DsrError(f"{data} has {series.n_time} steps per trial; choosing a lag needs at least 20 (or pass --lag)")
        choice = embedding.choose_lag(values)
        lag = choice.lag
        info |= {"lag": lag, "lag_method": "; ".join(sorted(set(choice.rules))) + " (Fraser & Swinney 1986), 16 equal-width bins",
                 "lag_per_column": list(choice.per_channel), "mutual_information": choice.information.T.tolist()}
    else:
        info["lag_method"] = "given"
    if dim is None:
        longest = (series.n_time - MIN_VECTORS - 1) // lag
        if longest < 1:
            raise DsrError(f"{data} has {series.n_time} steps per trial: too short for a second delay of {lag} steps; pass a smaller --lag")
        choice = embedding.choose_dimension(values, lag, max_dim=min(max_dim, longest))
        dim = choice.dim
        info |= {"dim": dim, "dim_method": f"false nearest neighbours (Kennel et al. 1992), fraction <= {choice.threshold:g}",
                 "fnn_fractions": choice.fractions.tolist(), "fnn_theiler": choice.theiler, "dim_found": choice.found}
        if not choice.found:
            info["note"] = (f"no dimension up to {len(choice.fractions)} brought false neighbours to {choice.threshold:g} "
                            f"(noise or a high-dimensional signal); {dim} taken, choose --dim yourself")
    else:
        info["dim_method"] = "given"
    span = (dim - 1) * lag
    if series.n_time - span < MIN_VECTORS:
        raise DsrError(
            f"{data} has {series.n_time} steps per trial; {dim} delays of {lag} steps leave {max(series.n_time - span, 0)} vectors, "
            f"fewer than {MIN_VECTORS}; use a smaller --dim or --lag, or a longer series"
        )
    vectors = embedding.delay_embed(values, dim, lag)
    labels = [f"{name}(t)" if j == 0 else f"{name}(t-{j * lag})" for name in names for j in range(dim)]
    attrs = {"title": f"delay embedding of {data.name}", "source": f"dsr {__version__} embed", "embedding": info,
             "embedded_from": str(data.resolve()), "source_attrs": series.attrs}
    start = _start_time(data, series.dt) + span * series.dt
    ds = to_dataset(vectors if series.n_trials > 1 else vectors[0], series.dt, labels, attrs=attrs, dtype=np.float64, start=start)
    write_dataset(ds, out, overwrite=overwrite)
    return {"path": str(out), "dims": dict(ds.sizes), "dt": series.dt, "variables": labels, **info}


def _start_time(path: Path, dt: float) -> float:
    """The source's first time value (0 without a numeric time coordinate)."""
    from dsr.zarrstore import open_store

    ds = open_store(path)
    if "time" in ds.coords and np.issubdtype(ds["time"].dtype, np.number) and ds.sizes.get("time", 0):
        return float(ds["time"].values[0])
    return 0.0
