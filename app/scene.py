"""What the state-space, time-series and spectra panels draw: named series in common units, and orbits.

The run page fills a scene with the run's data and the model's free run (both in the data's
units) and the fixed points and cycles of the analysis; the data page with the data alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from dsr.app.regions import Regions
from dsr.app.runview import RunView
from dsr.app.style import DATA_COLOR, MODEL_COLOR


class Series(NamedTuple):
    """One trajectory (time, N) with its legend label and colour, and its linear regions if known."""

    label: str
    values: np.ndarray
    color: str
    regions: Regions | None = None


@dataclass(frozen=True)
class Orbit:
    """A fixed point (period 1) or a k-cycle in the data's units, with its stability.

    ``real``: the point lies in the linear region whose affine map it solves (a "virtual" one
    does not, and is not a fixed point of the model); ``truth``: a fixed point of the true system.
    """

    points: np.ndarray  # (period, N)
    stable: bool | None  # None: stability not recorded
    spectral_radius: float | None = None  # largest |eigenvalue| of the cycle's Jacobian product
    type: str = ""  # e.g. "saddle", "stable node"
    real: bool = True
    truth: bool = False

    @property
    def period(self) -> int:
        return len(self.points)

    @property
    def kind(self) -> str:
        """"fixed point", "2-cycle", ..., with "true " for the true system's."""
        return ("true " if self.truth else "") + ("fixed point" if self.period == 1 else f"{self.period}-cycle")

    @property
    def label(self) -> str:
        """The legend entry: the kind, with the stability for the model's orbits."""
        if self.truth:
            return self.kind
        state = {True: "stable", False: "unstable", None: "stability unknown"}[self.stable]
        return f"{state} {self.kind}"


@dataclass(frozen=True)
class Scene:
    """Series sharing the observed variables and sampling interval, plus orbits to mark."""

    variables: list[str]
    dt: float
    series: list[Series]
    orbits: list[Orbit] = field(default_factory=list)


def run_scene(run: RunView, orbits: list[Orbit]) -> Scene:
    """A run's data (first trial) and its best member's free run (with its regions), in the data's units."""
    series = []
    if run.data_series is not None:
        series.append(Series("data", run.data_series, DATA_COLOR))
    if run.model_series is not None:
        series.append(Series("model (free run)", run.model_series, MODEL_COLOR, run.regions))
    return Scene(run.variables, run.dt, series, orbits)
