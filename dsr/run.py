"""``dsr.load_run``: a run store as a Python object (:class:`Run`), and ``dsr evaluate``."""

from __future__ import annotations

import copy
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from dsr import runstore
from dsr.errors import DsrError
from dsr.standardization import Standardization

if TYPE_CHECKING:
    from dsr.models import LatentModel
    from dsr.training.config import FitConfig


class Run:
    """A run store: attributes, configuration, checkpoints, history, metrics, free run and analyses.

    The one reader of run stores: the CLI, ``dsr analyze`` (:mod:`dsr.run_analysis`) and the app
    (:mod:`dsr.app.runview`) read runs through it. Reading needs no torch; :meth:`load_model`,
    :attr:`model` and :meth:`generate` import it. Groups are read once and kept.

    ``model`` is the ensemble at its best checkpoint (each member at its own best epoch);
    ``best_member`` the member with the lowest final D_stsp. Data are in the standardized
    coordinates of the training data unless a method says otherwise (:meth:`unstandardize`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = runstore.require_run(path)
        self.attrs = runstore.read_attrs(self.path)
        self._groups: dict[str, xr.Dataset | None] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, model={self.config_dict.get('model')!r})"

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".zarr")

    @property
    def status(self) -> str:
        return self.attrs["status"]

    @property
    def config_dict(self) -> dict:
        """The resolved configuration as stored (plain JSON, readable whatever version wrote it)."""
        return self.attrs.get("config") or {}

    @cached_property
    def config(self) -> FitConfig:
        from dsr.training.config import FitConfig

        return FitConfig(**self.attrs["config"])

    @property
    def variables(self) -> list[str]:
        return [str(v) for v in self.attrs.get("variables") or []]

    @property
    def dt(self) -> float:
        """The data's sampling interval (1 when the run stored none)."""
        try:
            return float(self.attrs.get("dt") or 1.0)
        except (TypeError, ValueError) as err:
            raise DsrError(f"{self.path}: attribute dt is malformed ({err}); it should be the data's sampling interval") from None

    @property
    def best_member(self) -> int:
        return int(self.attrs.get("best_member", 0))

    def standardization(self, n: int) -> Standardization:
        """The map between the data's units and the model's coordinates of ``n`` variables (identity if none is stored)."""
        try:
            return Standardization.from_attrs(self.attrs.get("standardization"), n)
        except ValueError as err:
            raise DsrError(f"{self.path}: attribute standardization is malformed: {err}") from None

    def unstandardize(self, x: np.ndarray) -> np.ndarray:
        """Map standardized observations (…, N) back to the data's units."""
        return self.standardization(np.shape(x)[-1]).invert(x)

    def group(self, name: str) -> xr.Dataset | None:
        """Group ``name`` of the store (e.g. ``"history"``, ``"analysis/lyapunov"``), or None when it has none (yet)."""
        if name not in self._groups:
            self._groups[name] = runstore.read_group(self.path, name) if runstore.has_group(self.path, name) else None
        return self._groups[name]

    def _require(self, name: str) -> xr.Dataset:
        ds = self.group(name)
        if ds is None:
            raise DsrError(f"{self.path} has no group '{name}'; was the run finished (see `dsr info {self.path}`)?")
        return ds

    @property
    def checkpoints(self) -> list[str]:
        """Names of the stored checkpoints (``best``, ``last``)."""
        return runstore.list_groups(self.path, runstore.PARAMS)

    def params(self, checkpoint: str = "best") -> xr.Dataset:
        """A checkpoint's parameters as an xarray Dataset (model kind and sizes in its attrs)."""
        if checkpoint not in (checkpoints := self.checkpoints):
            raise DsrError(
                f"{self.path} has no parameters for checkpoint '{checkpoint}' (it has: {', '.join(checkpoints) or 'none'}); "
                "choose one of them, or wait until the run has written its first checkpoint"
            )
        return self._require(f"{runstore.PARAMS}/{checkpoint}")

    @property
    def history(self) -> xr.Dataset:
        return self._require(runstore.HISTORY)

    @property
    def metrics(self) -> xr.Dataset:
        return self._require(runstore.METRICS)

    @property
    def trajectory(self) -> xr.Dataset:
        return self._require(runstore.TRAJECTORY)

    def last_state(self) -> np.ndarray | None:
        """The last latent state of the stored free run (on the best member's attractor), or None before there is one."""
        trajectory = self.group(runstore.TRAJECTORY)
        return None if trajectory is None else trajectory["z"].values[-1]

    def analysis(self, name: str) -> xr.Dataset | None:
        """The group ``analysis/<name>`` written by ``dsr analyze``, or None."""
        return self.group(f"{runstore.ANALYSIS}/{name}")

    @property
    def analyses(self) -> list[str]:
        return runstore.list_groups(self.path, runstore.ANALYSIS)

    @property
    def evaluations(self) -> list[str]:
        return runstore.list_groups(self.path, runstore.EVALUATIONS)

    def load_model(self, checkpoint: str = "best") -> LatentModel:
        """The torch ensemble of a checkpoint."""
        from dsr.models import from_dataset

        return from_dataset(self.params(checkpoint))

    @cached_property
    def model(self) -> LatentModel:
        return self.load_model("best")

    def generate(
        self,
        n: int,
        z0: np.ndarray | None = None,
        member: int | None = None,
        standardized: bool = False,
        method: str = "sequential",
    ) -> np.ndarray:
        """A free run of n observations (n, N) of one member (default: the best) from latent z0.

        Without z0 the run starts from the last state of the stored trajectory (on the attractor).
        ``method``: ``sequential`` (the compiled loop) or ``newton`` (``LatentModel.generate``'s parallel
        Newton solve, in float64; a chaotic free run does not converge and falls back to the loop, with
        a warning).
        """
        if method not in ("sequential", "newton"):
            raise DsrError(f"unknown generation method {method!r}; choose sequential or newton")
        import torch

        from dsr.evaluation import latent_run, shared_tensor

        member = self.best_member if member is None else member
        model = self.model
        if z0 is None:
            z0 = self.last_state()
            if z0 is None:
                raise DsrError(f"{self.path} has no stored free run to start from (the fit has not finished); pass z0")
        with torch.no_grad():
            if method == "newton":
                model = copy.deepcopy(model).double()  # the cached model keeps its dtype
                z = model.generate(n, z0=shared_tensor(z0, model), method="newton")
            else:
                z = latent_run(model, shared_tensor(z0, model), n)
            x = model.observe(z)[member].numpy()
        return x if standardized else self.unstandardize(x)


def evaluation_name(steps: int | None, test: str | os.PathLike | None) -> str:
    """The group name under ``evaluations/`` of an evaluation with these settings."""
    parts = ["full" if steps is None else f"steps-{steps}"]
    if test is not None:
        parts.append(f"test-{Path(test).stem}")
    return "-".join(parts)


def evaluate_run(path: str | os.PathLike, test: str | os.PathLike | None = None, steps: int | None = None) -> dict:
    """Evaluate the best and last checkpoints of a run on its test data (or ``test``); store and return the table.

    The table is stored as ``evaluations/<name>`` (:func:`evaluation_name`, settings in its
    attrs); the fit's own final evaluation (``metrics`` and the root attr ``final_metrics``) stays.
    """
    from dsr.evaluation import checkpoint_metrics
    from dsr.fitdata import prepare_data

    if steps is not None and steps < 1:
        raise DsrError(f"--steps {steps} must be at least 1 (or left out to compare every test point)")
    run = Run(path)
    config = run.config
    test_path = test if test is not None else run.attrs.get("test_path")
    _, held_out, _, _ = prepare_data(config, Path(run.attrs["data_path"]), None if test_path is None else Path(test_path))
    metrics = checkpoint_metrics({c: run.load_model(c) for c in ("best", "last")}, held_out, steps, config.pe_steps)
    metrics.attrs["test_path"] = None if test is None else str(Path(test).resolve())
    group = f"{runstore.EVALUATIONS}/{evaluation_name(steps, test)}"
    runstore.write_group(run.path, group, metrics)
    rows = [
        {"checkpoint": str(c), "member": int(m), **{k: float(metrics[k].sel(checkpoint=c, member=m)) for k in metrics.data_vars}}
        for c in metrics["checkpoint"].values
        for m in metrics["member"].values
    ]
    return {"path": str(run.path), "group": group, "pe_steps": config.pe_steps, "steps": steps, "rows": rows}


def load_run(path: str | os.PathLike) -> Run:
    """Open the run store at ``path``."""
    return Run(path)
