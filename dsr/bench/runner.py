"""A bench: every family fitted ``fits`` times on the same data and test set under the same per-fit wall-clock
budget, through the sweep machinery (:mod:`dsr.sweep`: the Dask executor, one run store per fit, finished
fits skipped on resume, failures recorded), then the leaderboard (:mod:`dsr.bench.leaderboard`).

Every fit is a ``dsr fit`` with the family's recipe (``RECIPES``) and ``time_budget`` = the budget: the same
data handling, windows, test split, evaluation protocol, checkpoint choice, ensemble and seeds for all.
Fit i of every family starts from seed 100·i.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from dsr.bench import leaderboard
from dsr.errors import DsrError
from dsr.sweep.executor import Executor

PLRNN_RECIPES: dict[str, dict] = {
    "default": {},  # dsr fit's defaults: a clipped shPLRNN under aGTF
    "alrnn": {"model": "alrnn", "latent": 20, "relus": 2},  # as benchmarks/reconstruct.py
}
ZOO_FORCING = {"forcing": "gtf", "alpha": 0.1}
"""The zoo's recurrent families train under GTF with α = 0.1 in observation space (Hess et al., ICML 2023,
trained their baselines so); aGTF's α estimate needs the product of Jacobians along the windows, which
for a non-PWL model costs M derivatives of every step."""
ZOO_TRAINING = {"batches_per_epoch": 10, "eval_steps": 5_000}
"""The zoo's recurrent families under a time budget: epochs of 10 batches (an LRU epoch of 50 would take 90 s,
longer than a short budget, which training checks only at the end of an epoch) and in-training evaluation
over 5 000 test steps (after the 25 % transient) every ``eval_every`` epochs of the family's recipe, so that
the budget goes to training; the final evaluation is on the whole test set as for every family."""


def recipes() -> dict[str, dict]:
    """--models name -> the FitConfig fields of its fits (besides seed and budget), in leaderboard order."""
    from dsr.zoo import ZOO

    zoo = {kind: {"model": kind, **(ZOO_FORCING | ZOO_TRAINING | cls.recipe if cls.fitted_by == "gradient" else {})} for kind, cls in ZOO.items()}
    return PLRNN_RECIPES | zoo


NEWTON = "+newton"
"""Suffix of a --models name: the family's recipe fitted with ``--time-parallel newton`` (its ``auto`` solver: pwl for
the PLRNN family, quasi for pararnn-gru/-lstm, deer for the other zoo cells), a leaderboard row of its own beside the
family's, so that both get the same budget and the table compares the quality each reaches in it. Opt-in: ``all``
names the families alone (each variant doubles a family's fits; on the CPU the Newton path is the slower one)."""


def recipe(name: str, known: dict[str, dict]) -> dict:
    """The FitConfig fields of --models name ``name``: a family's recipe, plus ``time_parallel`` for a NEWTON variant."""
    if name.endswith(NEWTON):
        return {**known[name.removesuffix(NEWTON)], "time_parallel": "newton"}
    return known[name]


def _trained_by_gradients(fields: dict) -> bool:
    """Whether a recipe's family is trained by gradients (the PLRNN family and the zoo's recurrent families)."""
    from dsr.zoo import ZOO

    family = ZOO.get(fields.get("model", ""))
    return family is None or family.fitted_by == "gradient"


def model_names(models: str) -> list[str]:
    """``all`` or a comma-separated list of --models names (a family, or a gradient-trained one with the NEWTON
    suffix); one-line DsrError naming an unknown one."""
    known = recipes()
    names = list(known) if models.strip() == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m.removesuffix(NEWTON) not in known]
    if unknown or not names:
        raise DsrError(
            f"unknown model {unknown[0] if unknown else models!r} in --models; choose from: all, {', '.join(known)} "
            f"(append {NEWTON} to a gradient-trained one for its --time-parallel newton fits)"
        )
    closed = [m for m in names if m.endswith(NEWTON) and not _trained_by_gradients(known[m.removesuffix(NEWTON)])]
    if closed:
        raise DsrError(f"{closed[0]}: {closed[0].removesuffix(NEWTON)} is not trained by gradients, so it has no Newton-solved rollout; drop {NEWTON}")
    return list(dict.fromkeys(names))


def bench_configs(names: list[str], fits: int, budget: float, extra: dict | None = None) -> list[dict]:
    """The FitConfig fields of every fit, family-major: fit i of each family with seed 100·i (validated)."""
    from dsr.training.config import resolve_config

    known = recipes()
    configs = [{**recipe(m, known), **(extra or {}), "seed": 100 * i, "time_budget": budget} for m in names for i in range(fits)]
    for config in configs:
        resolve_config(None, **config)  # a one-line error before any fit starts
    return configs


def run_bench(
    data: Path, test: Path | None, models: str = "all", fits: int = 5, budget: float = 10.0, jobs: int | None = None,
    out: Path | None = None, scheduler: str | None = None, lyapunov_steps: int = 2_000, extra: dict | None = None,
    progress: Callable | None = None, status: Callable[[str], None] | None = None, executor: Executor | None = None,
) -> Path:
    """Fit, then write the leaderboard; return the bench folder (default ``bench/<data stem>``).

    The fits run on ``executor`` (default: a :class:`~dsr.sweep.executor.Executor` of ``jobs`` local
    processes, or the cluster at ``scheduler``)."""
    import hashlib
    import json

    from dsr.sweep.runner import run_sweep
    from dsr.sweep.spec import SweepSpec

    if fits < 1 or not budget > 0:
        raise DsrError(f"--fits {fits} and --budget {budget} must be positive (fits per family, minutes per fit)")
    names = model_names(models)
    folder = Path(out) if out is not None else Path("bench") / Path(data).stem
    configs = bench_configs(names, fits, budget, extra)
    text = json.dumps({"models": names, "fits": fits, "budget_minutes": budget, "extra": extra or {}}, sort_keys=True)
    varied = ("model", "seed", "time_parallel") if any(m.endswith(NEWTON) for m in names) else ("model", "seed")
    spec = SweepSpec(Path(data).resolve(), None if test is None else Path(test).resolve(), tuple(configs), varied, text)
    if executor is None:
        with Executor(scheduler, jobs) as local:
            run_sweep(spec, folder, local, progress)
    else:
        run_sweep(spec, folder, executor, progress)
    attrs = {
        "data": str(Path(data).resolve()), "test": None if test is None else str(Path(test).resolve()),
        "budget_minutes": budget, "fits": fits, "models": names, "truth": _truth(Path(data)),
        "digest": hashlib.sha256(text.encode()).hexdigest()[:16],
    }
    write_leaderboard(folder, attrs, lyapunov_steps, status)
    return folder


def _truth(data: Path) -> dict:
    from dsr.bench.invariants import truth
    from dsr.runstore import read_attrs

    return truth(read_attrs(data))


def write_leaderboard(folder: Path, attrs: dict, lyapunov_steps: int, status: Callable[[str], None] | None = None) -> Path:
    """The leaderboard of the sweep in ``folder``; invariants already in an earlier leaderboard are kept (resume)."""
    from dsr import runstore
    from dsr.bench.invariants import run_invariants
    from dsr.runstore import now
    from dsr.sweep import store

    sweep = store.read(folder)
    earlier = {}
    if leaderboard.store_path(folder).exists():
        old = leaderboard.read(folder)
        earlier = {str(f): {k: old[k].values[i] for k in ("lambda1", "d_ky", "error")} for i, f in enumerate(old["fit"].values)}
    configs = sweep.attrs["configs"]
    rows = []
    for i, fit in enumerate(sweep["fit"].values):
        fit = str(fit)
        run = store.runs_folder(folder) / f"{fit}.zarr"
        row = {"fit": fit, "model": _name(attrs, i), "seed": configs[fit]["seed"], "status": str(sweep["status"].values[i]),
               "run": str(run.relative_to(folder)), "error": str(sweep["error"].values[i])}
        row |= {m: float(sweep[m].values[i]) for m in ("d_stsp", "d_h", "pe", "wall_s")}
        row["health"] = row["status"] if row["status"] != "finished" else "ok"
        if row["status"] == "finished":
            run_attrs = runstore.read_attrs(run)
            row["n_parameters"] = run_attrs.get("n_parameters", math.nan)
            row["health"] = leaderboard.health(runstore.read_group(run, runstore.TRAJECTORY)["x"].values)
            kept = earlier.get(fit)
            if kept is not None and (math.isfinite(float(kept["lambda1"])) or kept["error"]):
                row |= {k: kept[k] for k in ("lambda1", "d_ky", "error")}
            else:
                if status is not None:
                    status(f"Lyapunov spectrum of {fit} ({row['model']})")
                row["lambda1"], row["d_ky"], row["error"] = run_invariants(run, lyapunov_steps)
        rows.append(row)
        pending = [{"fit": str(f), "model": _name(attrs, j), "seed": configs[str(f)]["seed"], "status": "pending", "health": "pending"}
                   for j, f in enumerate(sweep["fit"].values) if j > i]
        leaderboard.write(folder, leaderboard.table(rows + pending, {**attrs, "updated": now()}))
    return leaderboard.store_path(folder)


def _name(attrs: dict, index: int) -> str:
    """The --models name of fit ``index``: the fits are family-major, ``fits`` per family."""
    return attrs["models"][index // attrs["fits"]]
