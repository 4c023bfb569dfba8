"""A run store as the app reads it: :class:`dsr.run.Run` (the one reader of runs, no torch) with the app's additions.

A missing group reads as ``None`` (the run is still running, or was not analysed; see
:meth:`~dsr.run.Run.group`); a group that exists but cannot be read raises, and the panel that
needed it shows an error card.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dsr import runstore
from dsr.app.catalog import require_inside, stamp
from dsr.app.regions import Regions, rank
from dsr.data import load
from dsr.errors import DsrError
from dsr.run import Run


class RunView(Run):
    """Read-only view of one run store; reads no data store outside ``root``."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        super().__init__(path)
        self.root = root  # the served folder, outside which nothing is read; None outside the app

    @property
    def pattern(self) -> np.ndarray | None:
        """Region bits (time, unit) of the free run, or None."""
        t = self.group(runstore.TRAJECTORY)
        return None if t is None or "pattern" not in t else t["pattern"].values

    @cached_property
    def regions(self) -> Regions | None:
        """The free run's linear regions ranked by occupancy, or None (no run yet, or no ReLU units)."""
        pattern = self.pattern
        return None if pattern is None or pattern.shape[-1] == 0 else rank(pattern)

    @cached_property
    def model_series(self) -> np.ndarray | None:
        """The best member's free run (time, N) in the data's units (float32), or None before the fit finished."""
        t = self.group(runstore.TRAJECTORY)
        return None if t is None else self.unstandardize(t["x"].values).astype(np.float32)

    @cached_property
    def _data(self) -> tuple[np.ndarray | None, str]:
        """The run's training data (first trial, (time, N)) in its units, or None and why not.

        The path is the run's declared input (attr ``data_path``), never a user-supplied path;
        in the app it is read only if it lies inside the served folder.
        """
        data_path = self.attrs.get("data_path")
        if not data_path or not Path(data_path).exists():
            return None, f"data store {data_path} not found: model only"
        try:
            if self.root is not None:
                require_inside(self.root, Path(data_path), f"the run's data store {data_path} (serve a folder holding both)")
            return data_trial(Path(data_path), self.config_dict.get("var")).values, ""
        except DsrError as err:
            return None, f"data store cannot be read ({err}): model only"

    @property
    def data_series(self) -> np.ndarray | None:
        return self._data[0]

    @property
    def data_problem(self) -> str:
        """Why the data cannot be drawn ("" when they can)."""
        return self._data[1]


class Trial(NamedTuple):
    """The first trial of a data store: values (time, N) float32, variable names, dt, trial count."""

    values: np.ndarray
    variables: list[str]
    dt: float
    trials: int


def data_trial(path: Path, var: str | None) -> Trial:
    """The first trial of the data store at ``path`` (validated by :func:`dsr.data.load`; cached per store state)."""
    return _data_trial(path, var, stamp(path))


@lru_cache(maxsize=8)
def _data_trial(path: Path, var: str | None, _stamp: int) -> Trial:
    series = load(path, var=var)
    return Trial(series.values[0].astype(np.float32), list(series.variables), series.dt, series.n_trials)


@lru_cache(maxsize=16)
def _open(path: Path, _stamp: int, root: Path | None) -> RunView:
    return RunView(path, root)


def open_run(path: Path, root: Path | None = None) -> RunView:
    """A (cached) view of the run store at ``path`` (reading nothing outside ``root``); a new one whenever the store changed."""
    return _open(path, stamp(path), root)
