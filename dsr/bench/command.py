"""``dsr bench``: run the bench with a progress display, then print the leaderboard (a table or JSON)."""

from __future__ import annotations

import sys
from pathlib import Path

from dsr.bench import leaderboard


def bench(
    data: Path, test: Path | None, models: str, fits: int, budget: float, jobs: int | None, out: Path | None,
    scheduler: str | None, quiet: bool, lyapunov_steps: int,
) -> dict:
    """Run the bench into ``out`` (default ``bench/<data stem>``); return the leaderboard as plain data."""
    from dsr.bench.runner import run_bench
    from dsr.sweep.display import run_with_progress

    folder = out or Path("bench") / Path(data).stem
    say = None if quiet else lambda text: print(text, file=sys.stderr)
    run_with_progress(
        f"bench {folder.name}", quiet,
        lambda progress: run_bench(data, test, models, fits, budget, jobs, folder, scheduler, lyapunov_steps, progress=progress, status=say),
        f"the same command (-o {folder})",
    )
    return result(folder)


def result(folder: Path) -> dict:
    """The leaderboard of the bench in ``folder``: its settings, the truth, the per-family summary and every fit."""
    ds = leaderboard.read(folder)
    fits = [
        {"fit": str(f), **{k: ds[k].values[i].item() if hasattr(ds[k].values[i], "item") else ds[k].values[i] for k in ds.data_vars}}
        for i, f in enumerate(ds["fit"].values)
    ]
    settings = {k: ds.attrs.get(k) for k in ("data", "test", "budget_minutes", "fits", "models", "truth")}
    return {"path": str(folder), **settings, "families": leaderboard.summary(ds), "runs": fits}


def print_table(result: dict) -> None:
    """The per-family table: median [IQR] of each metric, parameters, minutes per fit, failures."""
    from rich.table import Table

    from dsr.console import stdout_console

    truth = result.get("truth") or {}
    titles = [f"{label} (true {truth[key]:.3g})" if key in truth else label for key, label in
              zip(leaderboard.METRICS, ("D_stsp", "D_H", "PE(20)", "λ1", "D_KY"))]
    table = Table("model", "fits", *titles, "params", "min/fit", "failures",
                  title=f"{result['path']}: {result['fits']} fits per family, {result['budget_minutes']:g} min each")
    for row in result["families"]:
        params = "–" if row["n_parameters"] is None else f"{row['n_parameters']:.0f}"
        wall = "–" if row["wall_s"] is None else f"{row['wall_s'] / 60:.1f}"
        reasons = "" if not row["errors"] else f" ({'; '.join(row['errors'])})"
        table.add_row(row["model"], f"{row['finished']}/{row['fits']}", *(leaderboard.cell(row[m]) for m in leaderboard.METRICS),
                      params, wall, leaderboard.failures(row) + reasons)
    stdout_console().print(table)
