"""Shared test helpers: fixtures, and plain helpers that test modules import from ``tests.conftest``."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dsr import runstore


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``dsr ARGS`` in-process through the real entry point; return exit code and output."""
    from dsr.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["dsr", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# ----- command-line errors -------------------------------------------------------------------------


def assert_one_line_error(result: CliResult, *fragments: str, code: int = 2) -> None:
    """The command failed with ``code`` and one line ``dsr: error: ...`` holding every fragment, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsr: error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ----- tiny fits -----------------------------------------------------------------------------------

# A fit of seconds: the options most fitting tests start from.
TINY = dict(
    epochs=3, batches_per_epoch=3, batch_size=4, sequence_length=20, eval_every=1, eval_steps=400, dtype="float64", hidden=8,
    ensemble=1, checkpoint_seconds=0.0,
)


@pytest.fixture(scope="module")
def lorenz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 500 steps of noisy Lorenz-63 (one per test module)."""
    from dsr.simulate import simulate
    from dsr.zarrstore import write_dataset

    path = tmp_path_factory.mktemp("data") / "lorenz.zarr"
    return write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), path)


def read_params(path: Path, checkpoint: str = "last") -> xr.Dataset:
    """A checkpoint's parameters of the run store at ``path``."""
    return runstore.read_group(path, f"params/{checkpoint}")


def interrupt_after(epochs: int) -> Callable[[dict], None]:
    """A progress callback that stops a fit by Ctrl-C (KeyboardInterrupt) after ``epochs`` epochs."""

    def progress(info: dict) -> None:
        if info["epoch"] == epochs:
            raise KeyboardInterrupt

    return progress


# ----- the app's stores (test_app, test_app_browser) ---------------------------------------------

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "lorenz63.zarr"
LONG_STEPS = 100_000


def _long_trajectory(run: Path) -> xr.Dataset:
    """A 100 000-step 'free run' (the true Lorenz flow, standardized like the run) with 2-bit region codes."""
    import dsr.systems as systems

    s = runstore.read_attrs(run)["standardization"]
    x = systems.get("lorenz63").trajectory(LONG_STEPS, dt=0.01, transient=1_000)
    x = ((x - np.asarray(s["mean"])) / np.asarray(s["scale"])).astype(np.float32)
    return xr.Dataset(
        {"x": (("time", "variable"), x), "z": (("time", "latent"), x), "pattern": (("time", "unit"), (x[:, :2] > 0).astype(np.uint8))},
        coords={"variable": np.array(["x", "y", "z"], dtype=object)},
        attrs={"member": 0, "checkpoint": "best", "standardized": True, "transient": 0},
    )


def build_stores(base: Path) -> Path:
    """ROOT for the app tests (built once under ``base``; later calls reuse it).

    r1: clipped-shPLRNN, not analysed; r2: AL-RNN (M=6, P=2), analysed; long: r1 with a
    100 000-step trajectory; pending: a run that has not written anything yet; broken.zarr:
    an unreadable zarr.json; lorenz63.zarr: a data store; link.zarr: a symlink to a store
    outside ROOT (base/outside.zarr).
    """
    root, done = base / "runs", base / "complete"
    if done.exists():
        return root
    import dsr
    from dsr.run_analysis import Settings, analyze
    from dsr.training.config import FitConfig

    quick = dict(epochs=2, batches_per_epoch=5, eval_every=1, eval_steps=2000)
    data = shutil.copytree(DATA, root / "lorenz63.zarr")  # the runs' data lie under ROOT, where the app reads them
    r1 = dsr.fit(data, FitConfig(**quick), out=root, name="r1")
    r2 = dsr.fit(data, FitConfig(model="alrnn", latent=6, relus=2, **quick), out=root, name="r2")
    analyze(r2, settings=Settings(steps=2_000, transient=200, initial_conditions=2, trajectory_steps=5_000))
    shutil.copytree(r1, root / "long.zarr")
    runstore.write_group(root / "long.zarr", runstore.TRAJECTORY, _long_trajectory(r1))
    runstore.create(root / "pending.zarr", {"config": {"model": "plrnn", "epochs": 10}, "variables": ["x", "y", "z"], "dt": 0.01})
    (root / "broken.zarr").mkdir()
    (root / "broken.zarr" / "zarr.json").write_text("{half written")
    shutil.copytree(DATA, base / "outside.zarr")
    (root / "link.zarr").symlink_to(base / "outside.zarr")
    done.touch()
    return root


class InProcess:
    """The sweep executor's interface, running each fit here one after another (a real cluster is test_sweep's)."""

    dashboard = None

    def running(self, keys: list[str]) -> int:
        return 0

    def run(self, tasks, on_poll=None):  # noqa: ANN001, ANN201 (FitTask list -> FitOutcome iterator)
        from dsr.sweep.executor import run_fit

        return (run_fit(task) for task in tasks)


def randomize(model, seed: int = 0):  # noqa: ANN001, ANN201 - a torch model, imported lazily here
    """Replace every parameter by random values, so that tests do not rely on the initialisation's structure."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.7 * torch.randn(param.shape, generator=gen, dtype=param.dtype))
    return model
