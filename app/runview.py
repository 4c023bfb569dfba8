"""A run store as the app reads it: attributes, groups and series, loaded lazily and cached.

Everything goes through the run-store readers of :mod:`dsr.runstore` (no torch). A missing
group reads as ``None`` (the run is still running, or was not analysed); a group that exists
but cannot be read raises, and the panel that needed it shows an error card.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from dsr import runstore
from dsr.app.catalog import require_inside, stamp
from dsr.app.regions import Regions, rank
from dsr.data import load
from dsr.errors import DsrError


class RunView:
    """Read-only view of one run store."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.root = root  # the served folder, outside which nothing is read; None outside the app
        self.attrs = runstore.read_attrs(path)
        self._groups: dict[str, xr.Dataset | None] = {}

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".zarr")

    @property
    def config(self) -> dict:
        return self.attrs.get("config", {})

    @property
    def variables(self) -> list[str]:
        return [str(v) for v in self.attrs.get("variables", [])]

    @property
    def dt(self) -> float:
        return float(self.attrs.get("dt", 1.0))

    def group(self, name: str) -> xr.Dataset | None:
        """Group ``name`` of the store (read once), or None when the store has none (yet)."""
        if name not in self._groups:
            exists = (self.path / name / "zarr.json").exists()
            self._groups[name] = runstore.read_group(self.path, name) if exists else None
        return self._groups[name]

    @property
    def history(self) -> xr.Dataset | None:
        return self.group(runstore.HISTORY)

    @property
    def trajectory(self) -> xr.Dataset | None:
        return self.group(runstore.TRAJECTORY)

    @property
    def best_params(self) -> xr.Dataset | None:
        return self.group(f"{runstore.PARAMS}/best")

    @property
    def pattern(self) -> np.ndarray | None:
        """Region bits (time, unit) of the free run, or None."""
        t = self.trajectory
        return None if t is None or "pattern" not in t else t["pattern"].values

    @cached_property
    def regions(self) -> Regions | None:
        """The free run's linear regions ranked by occupancy, or None (no run yet, or no ReLU units)."""
        pattern = self.pattern
        return None if pattern is None or pattern.shape[-1] == 0 else rank(pattern)

    def analysis(self, name: str) -> xr.Dataset | None:
        """The analysis group ``analysis/<name>``, or None if the run was not analysed that way."""
        return self.group(f"{runstore.ANALYSIS}/{name}")

    @property
    def analyses(self) -> list[str]:
        return runstore.list_groups(self.path, runstore.ANALYSIS)

    @property
    def best_member(self) -> int:
        return int(self.attrs.get("best_member", 0))

    def unstandardize(self, x: np.ndarray) -> np.ndarray:
        """Map standardized observations (…, N) to the data's units (float32)."""
        s = self.attrs.get("standardization")
        if not s:
            return np.asarray(x, dtype=np.float32)
        return (x * np.asarray(s["scale"]) + np.asarray(s["mean"])).astype(np.float32)

    @cached_property
    def model_series(self) -> np.ndarray | None:
        """The best member's free run (time, N) in the data's units, or None before the fit finished."""
        if self.trajectory is None:
            return None
        return self.unstandardize(self.trajectory["x"].values)

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
            return data_trial(Path(data_path), self.config.get("var")).values, ""
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
