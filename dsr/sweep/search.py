"""``dsr fit DATA --search``: choose the model for new data by short fits judged on held-out training data.

1. The training part of the data (what the full fit will train on: all of DATA with ``--test``, else
   its first 1 − test_fraction of every trial) is written to ``<out>/<name>-search/train.zarr``.
2. Candidates are fitted on it with fewer epochs (:data:`SHORT`, at most the full fit's), each
   holding out the last ``test_fraction`` of the training part as validation, on a Dask cluster
   (:mod:`dsr.sweep.executor`), starting candidates until the budget (minutes) is spent (those running
   then finish): first the default and one
   variant per choice (:func:`one_factor_variants`: model family, size M/L/P, forcing, learning
   rate, observation noise), then, budget left, the combination of every choice that beat the default.
3. Each candidate is judged by its best member's D_stsp and D_H on the validation part: the winner
   has the lowest mean of its two ranks (ties: lower D_stsp).
4. The winner's configuration is fitted in full (its epochs and the given test set), as ``dsr fit``.

What was tried, the scores, the ranks and the reason of the choice are stored in the run's root
attribute ``search`` (shown by ``dsr info``); the candidates' run stores and table stay in the
search folder (a sweep folder, see :mod:`dsr.sweep.store`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsr.errors import DsrError
from dsr.sweep.runner import ProgressCallback as SweepProgress
from dsr.training.config import FitConfig

if TYPE_CHECKING:
    from dsr.training.trainer import ProgressCallback

StatusCallback = Callable[[str], None]

SHORT = 200
"""Epochs of a candidate fit: a default Lorenz-63 fit is at D_stsp ≈ 0.45 after 200 of its 1200 epochs and
still ranks the settings of the defaults table as the full fits do (README, Time to quality)."""

FAMILY_SETTINGS: dict[str, dict[str, Any]] = {
    # The AL-RNN under the settings that train it best here and in Brenner et al. 2024's code
    # (README, Defaults and why): sparse teacher forcing, observation noise 0.05, rate 1e-3 → 1e-5.
    "alrnn": {"model": "alrnn", "forcing": "stf", "noise": 0.05, "lr_start": 1e-3, "lr_end": 1e-5},
}


def one_factor_variants(n_obs: int) -> list[tuple[str, dict[str, Any]]]:
    """(choice, changes to the default) for one change of each main choice, in the order they are tried.

    Sizes scale with the number of observed variables N where they are per variable (M).
    """
    return [
        ("latent M = 2N", {"latent": 2 * n_obs}),
        ("hidden L = 200", {"hidden": 200}),
        ("AL-RNN M = max(20, 2N), P = 10", {**FAMILY_SETTINGS["alrnn"], "latent": max(20, 2 * n_obs), "relus": 10}),
        ("forcing stf", {"forcing": "stf"}),
        ("learning rate 3e-3 to 3e-4", {"lr_start": 3e-3, "lr_end": 3e-4}),
        ("latent M = 4N", {"latent": 4 * n_obs}),
        ("observation noise 0.05", {"noise": 0.05}),
        ("hidden L = 50", {"hidden": 50}),
        ("AL-RNN M = max(50, 4N), P = 10", {**FAMILY_SETTINGS["alrnn"], "latent": max(50, 4 * n_obs), "relus": 10}),
        ("AL-RNN M = max(20, 2N), P = 2", {**FAMILY_SETTINGS["alrnn"], "latent": max(20, 2 * n_obs), "relus": 2}),
        ("learning rate 3e-4 to 3e-5", {"lr_start": 3e-4, "lr_end": 3e-5}),
    ]


def _allowed(changes: dict[str, Any], fixed: set[str], base: FitConfig) -> bool:
    """A variant may not change a field the user set; L exists only for the shPLRNN kinds."""
    if set(changes) & fixed:
        return False
    return base.model in ("shplrnn", "clipped-shplrnn") or "hidden" not in changes


def _rank(values: list[float]) -> list[float]:
    """1 for the lowest; NaN (a diverged candidate) ranks last."""
    keyed = sorted(range(len(values)), key=lambda i: (values[i] != values[i], values[i]))
    ranks = [0.0] * len(values)
    for place, i in enumerate(keyed, start=1):
        ranks[i] = float(place)
    return ranks


def judge(candidates: list[dict]) -> tuple[int, str]:
    """Index of the winner among finished candidates (each with ``d_stsp``, ``d_h``) and why it won."""
    scored = [i for i, c in enumerate(candidates) if c["status"] == "finished"]
    if not scored:
        raise DsrError("no candidate fit finished (their errors are in the search table); check the data with `dsr check` and the options")
    d_stsp = _rank([_nan(candidates[i]["d_stsp"]) for i in scored])
    d_h = _rank([_nan(candidates[i]["d_h"]) for i in scored])
    for k, i in enumerate(scored):
        candidates[i]["rank_d_stsp"], candidates[i]["rank_d_h"] = d_stsp[k], d_h[k]
        candidates[i]["mean_rank"] = (d_stsp[k] + d_h[k]) / 2
    best = min(scored, key=lambda i: (candidates[i]["mean_rank"], _nan(candidates[i]["d_stsp"])))
    c = candidates[best]
    reason = (
        f"lowest mean rank ({c['mean_rank']:g}) of D_stsp ({c['d_stsp']:.4g}, rank {c['rank_d_stsp']:g} of {len(scored)}) "
        f"and D_H ({c['d_h']:.4g}, rank {c['rank_d_h']:g}) on the held-out last part of the training data"
    )
    return best, reason


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _training_part(data: Path, test: Path | None, base: FitConfig, folder: Path) -> Path:
    """Write the part of ``data`` the full fit trains on (raw units) to ``folder/train.zarr``."""
    from dsr.data import load, to_dataset
    from dsr.zarrstore import write_dataset

    series = load(data, var=base.var, inputs=base.inputs)
    if base.inputs is not None:
        raise DsrError("--search does not handle external inputs yet; fit with chosen options instead")
    if test is None:
        series = series.hold_out_trials(base.test_trials)[0] if base.test_trials else series.split(base.test_fraction)[0]
    ds = to_dataset(series.values, series.dt, series.variables, dtype=series.values.dtype.type)
    return write_dataset(ds, folder / "train.zarr", overwrite=True)


def _candidates(base: FitConfig, n_obs: int, fixed: set[str]) -> list[tuple[str, dict[str, Any]]]:
    short = min(SHORT, base.epochs)
    variants = [("default", {})] + [(c, v) for c, v in one_factor_variants(n_obs) if _allowed(v, fixed, base)]
    return [(choice, {**changes, "epochs": short}) for choice, changes in variants]


def search(
    data: str | Path,
    base: FitConfig | None = None,
    *,
    budget: float = 10.0,
    test: str | Path | None = None,
    out: str | Path = "runs",
    name: str | None = None,
    scheduler: str | None = None,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    sweep_progress: SweepProgress | None = None,
    status: StatusCallback | None = None,
    overwrite: bool = False,
) -> Path:
    """Choose a configuration for ``data`` by short candidate fits within ``budget`` minutes, fit it in full; return the run.

    ``base`` holds the options the user gave: the search keeps those that differ from the defaults;
    ``sweep_progress`` shows the candidates, ``progress`` and ``status`` the full fit (as for :func:`dsr.fit`).
    """
    from dsr import fitting, runstore
    from dsr.sweep import store
    from dsr.sweep.executor import Executor
    from dsr.sweep.runner import run_sweep
    from dsr.sweep.spec import SweepSpec

    if budget <= 0:
        raise DsrError(f"--budget {budget} is not a number of minutes; pass a positive one")
    base, data = base or FitConfig(), Path(data)
    fixed = {k for k, v in base.model_dump().items() if v != FitConfig.model_fields[k].default}
    path = fitting.run_path(out, name, data, base)
    folder = path.with_name(f"{path.stem}-search")
    for place in (path, folder):
        if place.exists() and not overwrite:
            raise DsrError(f"{place} already exists; choose another --name or pass --overwrite")
    start = time.monotonic()
    train = _training_part(data, None if test is None else Path(test), base, folder)
    from dsr.data import load

    n_obs = load(train).n_variables
    candidates = _candidates(base, n_obs, fixed)
    fields = {**base.model_dump(), "test_trials": 0}
    configs = tuple({**fields, **changes} for _, changes in candidates)
    varied = tuple(dict.fromkeys(k for _, changes in candidates for k in changes if k != "epochs"))
    spec = SweepSpec(train, None, configs, varied, json.dumps([{"choice": c, **v} for c, v in candidates], indent=1))
    _say(status, f"search: {len(candidates)} candidate fits of {candidates[0][1]['epochs']} epochs within {budget:g} min, in {folder}")
    deadline = start + 60 * budget
    with Executor(scheduler, jobs) as executor:
        run_sweep(spec, folder, executor, sweep_progress, overwrite=True, deadline=deadline)
        tried = _tried(folder, candidates)
        combined = _combination(tried, base)
        if combined is not None and time.monotonic() < deadline - _median_wall(tried):
            candidates.append(combined)
            spec = SweepSpec(train, None, (*configs, {**fields, **combined[1]}), varied, spec.text)
            run_sweep(spec, folder, executor, sweep_progress, deadline=deadline, grow=True)
            tried = _tried(folder, candidates)
    if sweep_progress is not None and hasattr(sweep_progress, "close"):
        sweep_progress.close()  # before the full fit's display starts
    winner, reason = judge(tried)
    chosen = {k: v for k, v in candidates[winner][1].items() if k != "epochs"}
    searched = time.monotonic() - start
    _say(status, f"search: chose {tried[winner]['choice']} ({reason}) after {searched / 60:.1f} min; now the full fit")
    config = base.model_copy(update=chosen)
    path = fitting.fit(data, FitConfig(**config.model_dump()), test=test, out=out, name=path.stem, progress=progress,
                       overwrite=overwrite, status=status)
    record = {
        "budget_minutes": budget, "search_seconds": searched, "candidate_epochs": candidates[0][1]["epochs"],
        "validation": f"last {base.test_fraction:g} of every trial of the training part ({train})",
        "candidates": tried, "chosen": tried[winner]["choice"], "changes": chosen, "reason": reason,
        "folder": str(folder), "table": str(store.table_path(folder)),
    }
    runstore.update_attrs(path, search=record)
    return path


def _tried(folder: Path, candidates: list[tuple[str, dict]]) -> list[dict]:
    from dsr.sweep import store

    rows = {row["fit"]: row for row in store.rows_of(store.read(folder))}
    tried = []
    for i, (choice, changes) in enumerate(candidates):
        row = rows.get(f"fit-{i:04d}", {})
        tried.append({
            "choice": choice, "changes": {k: v for k, v in changes.items() if k != "epochs"}, "run": f"fit-{i:04d}",
            "status": row.get("status", "pending"), "d_stsp": row.get("d_stsp"), "d_h": row.get("d_h"), "wall_s": row.get("wall_s"),
        })
    return tried


def _combination(tried: list[dict], base: FitConfig) -> tuple[str, dict] | None:
    """The one-factor changes within the default's family that beat the default in D_stsp, together
    (of two levels of one choice the better); None if fewer than two did."""
    default = tried[0]
    if default["status"] != "finished" or default["d_stsp"] is None:
        return None
    better = sorted(
        (t for t in tried[1:] if t["status"] == "finished" and "model" not in t["changes"] and t["d_stsp"] is not None
         and t["d_stsp"] < default["d_stsp"]),
        key=lambda t: t["d_stsp"],
    )
    changes: dict[str, Any] = {}
    names = []
    for t in better:
        if not set(t["changes"]) & set(changes):
            changes |= t["changes"]
            names.append(t["choice"])
    if len(names) < 2:
        return None
    return "combination: " + ", ".join(names), {**changes, "epochs": min(SHORT, base.epochs)}


def _median_wall(tried: list[dict]) -> float:
    walls = sorted(t["wall_s"] for t in tried if t["status"] == "finished" and t["wall_s"] is not None)
    return walls[len(walls) // 2] if walls else 0.0


def _say(status, text: str) -> None:
    if status is not None:
        status(text)


def describe(record: dict) -> list[str]:
    """The stored search record as lines for ``dsr info``: the choice and why, then each candidate."""
    lines = [
        f"search: {len(record['candidates'])} candidates of {record['candidate_epochs']} epochs in "
        f"{record['search_seconds'] / 60:.1f} min (budget {record['budget_minutes']:g}); chose {record['chosen']}: {record['reason']}",
        f"  validation: {record['validation']}; candidates' runs: {record['folder']}",
    ]
    for c in record["candidates"]:
        if c["status"] == "finished":
            wall = "" if c["wall_s"] is None else f", {c['wall_s']:.0f} s"  # None in records written before resumed sweeps kept it
            score = f"D_stsp {_nan(c['d_stsp']):.4g}, D_H {_nan(c['d_h']):.4g} (mean rank {c.get('mean_rank', float('nan')):g}){wall}"
        else:
            score = c["status"] if c["status"] != "pending" else "not finished within the budget"
        lines.append(f"  {'*' if c['choice'] == record['chosen'] else '-'} {c['choice']}: {score}")
    return lines
