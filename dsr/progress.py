"""Progress reporting for fits: a rich bar on terminals, plain lines elsewhere, or nothing."""

from __future__ import annotations

import sys
from typing import TextIO

import numpy as np


def _summary(info: dict) -> str:
    alpha = float(np.mean(info["alpha"]))
    return (
        f"loss {float(np.min(info['loss'])):.4g}  alpha {alpha:.3f}  best D_stsp {info['best_d_stsp']:.3g}"
        f"  [{info['kernel']}]"
    )


class RichProgress:
    """A rich progress bar with epoch, loss, α and best D_stsp (for terminals), on stderr.

    On stderr like every human-readable line, so that stdout holds only results (``--json``).
    """

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[summary]}"), transient=False, console=Console(stderr=True),
        )
        self._description = description
        self._task = None

    def __call__(self, info: dict) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=info["epochs"], summary="")
        self._progress.update(self._task, completed=info["epoch"], summary=_summary(info))

    def status(self, text: str) -> None:
        """One line on a stage without epochs (above the bar while it runs)."""
        self._progress.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


class LineProgress:
    """One line per ``every`` epochs (for logs and non-terminal output)."""

    def __init__(self, every: int, stream: TextIO | None = None) -> None:
        self.every, self._stream = every, stream

    @property
    def stream(self) -> TextIO:
        """The given stream, else the current ``sys.stderr`` (looked up at each write, not at import)."""
        return self._stream or sys.stderr

    def __call__(self, info: dict) -> None:
        if info["epoch"] % self.every == 0 or info["epoch"] == info["epochs"]:
            print(f"epoch {info['epoch']}/{info['epochs']}  {_summary(info)}  ({info['time']:.0f} s)", file=self.stream, flush=True)

    def status(self, text: str) -> None:
        """One line on a stage without epochs."""
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


def make_progress(description: str, every: int, quiet: bool) -> RichProgress | LineProgress | None:
    """A rich bar when stderr is a terminal, else a line every ``every`` epochs; None when ``quiet``."""
    if quiet:
        return None
    return RichProgress(description) if sys.stderr.isatty() else LineProgress(every)
