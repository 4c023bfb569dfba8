"""``dsr.load_run``: a finished (or interrupted) fit as a Python object."""

from __future__ import annotations

import copy
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import xarray as xr

from dsr import runstore
from dsr.errors import DsrError
from dsr.models import LatentModel, from_dataset
from dsr.training.config import FitConfig


class Run:
    """A run store: config, history, checkpoints, metrics, trajectory and the trained model.

    ``model`` is the ensemble at its best checkpoint (each member at its own best epoch);
    ``best_member`` the member with the lowest final D_stsp. Data are in the standardized
    coordinates of the training data unless a method says otherwise.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = runstore.require_run(path)
        self.attrs = runstore.read_attrs(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, model={self.config.model!r})"

    @property
    def status(self) -> str:
        return self.attrs["status"]

    @cached_property
    def config(self) -> FitConfig:
        return FitConfig(**self.attrs["config"])

    def params(self, checkpoint: str = "best") -> xr.Dataset:
        """A checkpoint's parameters (``best``, ``last``) as an xarray Dataset."""
        return runstore.read_group(self.path, f"{runstore.PARAMS}/{checkpoint}")

    def load_model(self, checkpoint: str = "best") -> LatentModel:
        return from_dataset(self.params(checkpoint))

    @cached_property
    def model(self) -> LatentModel:
        return self.load_model("best")

    @cached_property
    def history(self) -> xr.Dataset:
        return runstore.read_group(self.path, runstore.HISTORY)

    @cached_property
    def metrics(self) -> xr.Dataset:
        return runstore.read_group(self.path, runstore.METRICS)

    @cached_property
    def trajectory(self) -> xr.Dataset:
        return runstore.read_group(self.path, runstore.TRAJECTORY)

    @property
    def best_member(self) -> int:
        return int(self.attrs.get("best_member", 0))

    def unstandardize(self, x: np.ndarray) -> np.ndarray:
        """Map standardized observations back to the data's units."""
        s = self.attrs["standardization"]
        return x * np.asarray(s["scale"]) + np.asarray(s["mean"])

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
            z0 = self.trajectory["z"].values[-1]
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
    from dsr.fitting import checkpoint_metrics, prepare_data

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
