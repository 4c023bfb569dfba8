"""``dsr sweep``: read the spec, run it on a cluster with a progress display, report the table."""

from __future__ import annotations

from pathlib import Path

from dsr.sweep import store


def sweep(spec_path: Path, out: Path | None, scheduler: str | None, jobs: int | None, quiet: bool, overwrite: bool) -> dict:
    """Run the sweep of ``spec_path`` into ``out`` (default ``sweeps/<spec name>``); return its summary."""
    from dsr.sweep.display import run_with_progress
    from dsr.sweep.executor import Executor
    from dsr.sweep.runner import run_sweep
    from dsr.sweep.spec import read_spec

    spec = read_spec(spec_path)
    folder = out or Path("sweeps") / spec_path.stem

    def run(progress) -> None:  # noqa: ANN001 - the display of run_with_progress
        with Executor(scheduler, jobs) as executor:
            run_sweep(spec, folder, executor, progress, overwrite=overwrite)

    run_with_progress(f"sweep {folder.name}", quiet, run, f"dsr sweep {spec_path} -o {folder}")
    return summary(folder)


def summary(folder: Path) -> dict:
    """The sweep's table as plain rows, with its counts and best fit."""
    ds = store.read(folder)
    rows = store.rows_of(ds)
    best = store.best(ds)
    return {
        "path": str(folder), "status": ds.attrs["status"], "fits": len(rows),
        "finished": sum(r["status"] == "finished" for r in rows), "failed": sum(r["status"] == "failed" for r in rows),
        "best": best, "best_run": None if best is None else str(store.runs_folder(folder) / f"{best}.zarr"),
        "varied": ds.attrs["varied"], "rows": rows,
    }


def print_summary(result: dict) -> None:
    """The table on stdout, best fit first (by D_stsp), failures last with their error."""
    from rich.table import Table

    from dsr.console import stdout_console

    varied = result["varied"]
    table = Table("fit", *varied, "status", "D_stsp", "D_H", "PE", "wall s", title=f"{result['path']}: {result['finished']} finished, {result['failed']} failed")
    order = sorted(result["rows"], key=lambda r: (r["status"] != "finished", r["d_stsp"] if r["d_stsp"] is not None else float("inf")))
    for row in order:
        status = row["status"] if row["status"] != "failed" else f"failed: {row['error']}"
        table.add_row(row["fit"], *(_cell(row[v]) for v in varied), status, *(_cell(row[m]) for m in ("d_stsp", "d_h", "pe", "wall_s")))
    console = stdout_console()
    console.print(table)
    if result["best"]:
        console.print(f"best: {result['best_run']}", highlight=False)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
