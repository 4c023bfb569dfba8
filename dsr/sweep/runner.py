"""A whole sweep: its fits on an executor, the table kept current, finished fits skipped on resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dsr.errors import DsrError
from dsr.sweep import store
from dsr.sweep.executor import Executor, FitOutcome, FitTask, outcome_of
from dsr.sweep.spec import SweepSpec


@dataclass
class SweepState:
    """What a progress display shows: counts, the best fit so far and the dashboard's address."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    skipped: int = 0
    best: str | None = None
    best_d_stsp: float = math.nan
    dashboard: str | None = None


ProgressCallback = Callable[[SweepState], None]


def tasks_of(spec: SweepSpec, folder: Path) -> list[FitTask]:
    """One task per configuration of ``spec``, named ``fit-0000``, ``fit-0001``, ... in the spec's order."""
    runs = store.runs_folder(folder).resolve()
    data, test = str(spec.data.resolve()), None if spec.test is None else str(spec.test.resolve())
    return [FitTask(f"fit-{i:04d}", data, config, str(runs), test) for i, config in enumerate(spec.configs)]


def _attrs(spec: SweepSpec, tasks: list[FitTask], status: str, created: str) -> dict:
    from dsr.runstore import now

    return {
        "schema_version": store.SCHEMA_VERSION, "dsr_store": store.STORE_KIND, "status": status, "spec": spec.text,
        "digest": spec.digest(), "data": str(spec.data), "test": None if spec.test is None else str(spec.test),
        "varied": list(spec.varied), "configs": {t.name: t.config for t in tasks}, "created": created, "updated": now(),
    }


def _check_same_sweep(folder: Path, spec: SweepSpec, overwrite: bool, grow: bool) -> str | None:
    """The creation time of the sweep already in ``folder`` (None if there is none); a different one is refused."""
    from dsr.runstore import read_attrs

    path = store.table_path(folder)
    if not path.exists():
        if folder.exists() and any(folder.iterdir()) and not overwrite:
            raise DsrError(f"{folder} exists and holds no sweep; choose another -o folder or pass --overwrite")
        return None
    attrs = read_attrs(path)
    if attrs.get("dsr_store") != store.STORE_KIND:
        raise DsrError(f"{path} is not a sweep table; choose another -o folder")
    if attrs.get("digest") != spec.digest() and not (overwrite or grow):
        raise DsrError(
            f"{folder} holds a sweep of another spec (its fits differ); choose another -o folder, or pass --overwrite to start it anew"
        )
    return None if overwrite else attrs.get("created")


def _row(outcome: FitOutcome) -> dict:
    return {"status": outcome.status, **{m: outcome.metrics.get(m) for m in store.METRICS}, "wall_s": outcome.wall_s,
            "worker": outcome.worker, "error": outcome.error}


def run_sweep(
    spec: SweepSpec, folder: str | Path, executor: Executor, progress: ProgressCallback | None = None, overwrite: bool = False,
    deadline: float | None = None, grow: bool = False,
) -> Path:
    """Run the fits of ``spec`` on ``executor`` into the sweep folder ``folder``; return the table's path.

    Fits whose run store is finished are skipped (resume); a failed or diverged fit is recorded in
    the table and the others go on. ``--overwrite`` deletes an earlier sweep in ``folder`` first.
    At ``deadline`` (a ``time.monotonic()`` value), or after it as soon as one fit has finished, the
    fits no worker has started are cancelled (they stay ``pending`` in the table, whose status becomes
    ``stopped``); those running finish. With ``grow`` the spec may add fits
    after those of the sweep in ``folder`` (``dsr fit --search`` adds a candidate).
    """
    from dsr.runstore import locked, now
    from dsr.zarrstore import remove_path

    folder = Path(folder)
    created = _check_same_sweep(folder, spec, overwrite, grow)
    with locked(store.table_path(folder), "dsr sweep"):
        if overwrite:
            for entry in (store.table_path(folder), store.runs_folder(folder)):
                remove_path(entry)
        created = created or now()
        tasks = tasks_of(spec, folder)
        earlier = {row["fit"]: row for row in store.rows_of(store.read(folder))} if store.table_path(folder).exists() else {}
        rows: dict[str, dict] = {}
        for task in tasks:
            if task.path.exists() and outcome_of(task).status == "finished":
                rows[task.name] = _row(outcome_of(task))
                # Its wall time and worker as the table recorded them when it ran (its run store has neither).
                if earlier.get(task.name, {}).get("status") == "finished":
                    rows[task.name] |= {k: earlier[task.name][k] for k in ("wall_s", "worker")}
        state = SweepState(total=len(tasks), skipped=len(rows), done=len(rows), dashboard=executor.dashboard)
        configs = {t.name: t.config for t in tasks}

        def save(status: str) -> None:
            table = store.table(configs, spec.varied, rows, _attrs(spec, tasks, status, created))
            store.write(folder, table)
            state.best = store.best(table)
            state.best_d_stsp = math.nan if state.best is None else rows[state.best]["d_stsp"]

        def show(keys: list[str] | None = None) -> bool:
            if keys is not None:
                state.running = executor.running(keys)
            if progress is not None:
                progress(state)
            return out_of_time()

        def out_of_time() -> bool:
            # Not before one fit finished: a sweep stopped with nothing to judge would be wasted.
            finished = any(row["status"] == "finished" for row in rows.values())
            return deadline is not None and time.monotonic() > deadline and finished

        save("running")
        show()
        finished = "interrupted"
        try:
            for outcome in executor.run([t for t in tasks if t.name not in rows], on_poll=show):
                rows[outcome.name] = _row(outcome)
                state.done += 1
                state.failed += outcome.status == "failed"
                save("running")
                show()
            finished = "stopped" if len(rows) < len(tasks) else "finished"
        finally:
            save(finished)
            state.running = 0
            show()
    return store.table_path(folder)
