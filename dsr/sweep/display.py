"""Progress of a sweep on stderr: a rich bar on terminals, a line per finished fit elsewhere."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from dsr.sweep.runner import SweepState


def _summary(state: SweepState) -> str:
    best = "-" if state.best is None else f"{state.best} (D_stsp {state.best_d_stsp:.4g})" if math.isfinite(state.best_d_stsp) else state.best
    skipped = f"  skipped (finished before) {state.skipped}" if state.skipped else ""
    return f"running {state.running}  failed {state.failed}  best {best}{skipped}"


def _dashboard_line(state: SweepState) -> str:
    return f"Dask dashboard: {state.dashboard}" if state.dashboard else "Dask dashboard: none (the scheduler serves none; install bokeh)"


class RichSweepProgress:
    """done / total as a bar, with running, failed and the best fit so far."""

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[summary]}"), console=Console(stderr=True),
        )
        self._description, self._task = description, None

    def __call__(self, state: SweepState) -> None:
        if self._task is None:
            self._progress.console.print(_dashboard_line(state), highlight=False, markup=False)
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=state.total, summary="")
        self._progress.update(self._task, completed=state.done, summary=_summary(state))

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


class LineSweepProgress:
    """One line when the sweep starts and each time a fit finishes (for logs and pipes)."""

    def __init__(self) -> None:
        self._shown: int | None = None

    def __call__(self, state: SweepState) -> None:
        if self._shown is None:
            print(_dashboard_line(state), file=sys.stderr, flush=True)
        if state.done != self._shown:
            print(f"done {state.done}/{state.total}  {_summary(state)}", file=sys.stderr, flush=True)
            self._shown = state.done

    def close(self) -> None:
        pass


def make_sweep_progress(description: str, quiet: bool) -> RichSweepProgress | LineSweepProgress | None:
    if quiet:
        return None
    return RichSweepProgress(description) if sys.stderr.isatty() else LineSweepProgress()


def run_with_progress(description: str, quiet: bool, run: Callable[[RichSweepProgress | LineSweepProgress | None], None], resume_hint: str) -> None:
    """``run(progress)`` with a progress display (``make_sweep_progress``) that is closed however it ends;
    on Ctrl-C a line saying that finished fits are kept and how to continue (``resume_hint``), exit 130."""
    progress = make_sweep_progress(description, quiet)
    try:
        run(progress)
    except KeyboardInterrupt:
        print(f"interrupted: finished fits are kept; continue with: {resume_hint}", file=sys.stderr)
        sys.exit(130)
    finally:
        if progress is not None:
            progress.close()
