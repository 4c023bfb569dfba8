"""The one run reader (dsr.run.Run): torch-free reading, standardization, unfinished and malformed runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dsr import runstore
from dsr.errors import DsrError
from dsr.run import Run
from dsr.standardization import Standardization

DATA = Path(__file__).resolve().parents[1] / "data" / "lorenz63.zarr"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import dsr
    from dsr.training.config import FitConfig

    config = FitConfig(epochs=1, batches_per_epoch=2, eval_every=1, eval_steps=100, model="alrnn", latent=5, relus=2, ensemble=2)
    return dsr.fit(DATA, config, out=tmp_path_factory.mktemp("runs"), name="r")


def test_reading_a_run_imports_no_torch(finished: Path) -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from dsr.run import Run\n"
        f"run = Run({str(finished)!r})\n"
        "x = run.trajectory['x'].values\n"
        "s = run.attrs['standardization']\n"
        "assert np.array_equal(run.unstandardize(x), x * np.asarray(s['scale']) + np.asarray(s['mean']))\n"
        "assert run.checkpoints == ['best', 'last'] and run.params('best').attrs['model_kind'] == 'alrnn'\n"
        "assert run.history.sizes['epoch'] == 1 and run.metrics.sizes['member'] == 2 and run.name == 'r'\n"
        "assert run.analyses == [] and run.analysis('lyapunov') is None and run.dt == 0.01\n"
        "print('TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TORCH False" in out


def test_last_state_is_the_stored_free_runs_end(finished: Path) -> None:
    run = Run(finished)
    z = run.trajectory["z"].values
    assert np.array_equal(run.last_state(), z[-1]) and run.last_state().shape == (5,)


def test_standardization_maps_to_zero_mean_unit_variance_and_back() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal([3.0, -2.0, 50.0], [0.5, 4.0, 10.0], size=(2, 400, 3))
    s = Standardization.of(values)
    standardized = s.apply(values).reshape(-1, 3)
    np.testing.assert_allclose(standardized.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(standardized.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(s.invert(s.apply(values)), values, rtol=1e-12)
    again = Standardization.from_attrs(s.to_attrs(), 3)
    assert np.array_equal(again.mean, s.mean) and np.array_equal(again.scale, s.scale)
    identity = Standardization.from_attrs(None, 3)
    assert np.array_equal(identity.invert(values), values)


@pytest.mark.parametrize("attrs", ["bad", {"mean": [0.0, 1.0], "scale": [1.0, 1.0]}, {"mean": [0.0] * 3}])
def test_malformed_standardization_is_refused(attrs: object) -> None:
    with pytest.raises(ValueError, match="should hold 3 means and scales"):
        Standardization.from_attrs(attrs, 3)


def _one_line(err: DsrError) -> str:
    message = str(err)
    assert "\n" not in message
    return message


def test_an_unfinished_run_reads_as_missing_groups(tmp_path: Path) -> None:
    path = runstore.create(tmp_path / "pending.zarr", {"config": {"model": "plrnn"}, "variables": ["x", "y"], "dt": 0.5})
    run = Run(path)
    assert run.group(runstore.HISTORY) is None and run.checkpoints == [] and run.last_state() is None
    assert run.dt == 0.5 and run.variables == ["x", "y"] and run.config_dict == {"model": "plrnn"}
    with pytest.raises(DsrError) as err:
        run.history
    assert "has no group 'history'" in _one_line(err.value)
    with pytest.raises(DsrError) as err:
        run.params("best")
    assert "no parameters for checkpoint 'best' (it has: none)" in _one_line(err.value)


def test_generate_without_a_stored_free_run_asks_for_z0(finished: Path, tmp_path: Path) -> None:
    path = shutil.copytree(finished, tmp_path / "interrupted.zarr")
    shutil.rmtree(path / runstore.TRAJECTORY)
    run = Run(path)
    with pytest.raises(DsrError) as err:
        run.generate(10)
    assert "no stored free run" in _one_line(err.value) and "pass z0" in str(err.value)
    assert run.generate(10, z0=np.zeros(5)).shape == (10, 3)


def test_malformed_run_attributes_are_one_line_errors(finished: Path, tmp_path: Path) -> None:
    path = shutil.copytree(finished, tmp_path / "bad.zarr")
    runstore.update_attrs(path, standardization="bad", dt="soon")
    run = Run(path)
    with pytest.raises(DsrError) as err:
        run.unstandardize(np.zeros((4, 3)))
    assert "attribute standardization is malformed" in _one_line(err.value)
    with pytest.raises(DsrError) as err:
        run.dt
    assert "attribute dt is malformed" in _one_line(err.value)


def test_a_store_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DsrError) as err:
        Run(DATA)
    assert "not a dsr run store" in _one_line(err.value)
