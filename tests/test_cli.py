"""The command line as a whole: start-up imports, python -m, simulate end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.conftest import assert_one_line_error


def test_help_imports_neither_torch_nor_xarray() -> None:
    code = (
        "import sys; sys.argv = ['dsr', '--help']\n"
        "from dsr.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'xarray', 'numba', 'zarr') if m in sys.modules)\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert "simulate" in out and "info" in out


def test_python_dash_m_and_error_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dsr", "info", str(tmp_path / "missing.zarr")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_writes_the_data_format(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "l.zarr"
    result = run_cli("simulate", "lorenz63", "-o", out, "--steps", "2000", "--noise", "0.05", "--seed", "3", "--param", "rho=28", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["dims"] == {"time": 2000, "variable": 3}
    ds = xr.open_zarr(out, consolidated=False)
    assert ds["x"].dims == ("time", "variable")
    assert ds.attrs["dt"] == pytest.approx(0.01)
    assert ds.attrs["system"] == "lorenz63" and ds.attrs["params"]["rho"] == 28.0
    assert ds.attrs["seed"] == 3 and ds.attrs["noise"] == 0.05
    assert list(ds["variable"].values) == ["x", "y", "z"]


def test_simulate_is_reproducible_and_noise_is_relative(tmp_path: Path) -> None:
    from dsr.simulate import simulate

    a = simulate("lorenz63", 3000, noise=0.1, seed=1)
    b = simulate("lorenz63", 3000, noise=0.1, seed=1)
    clean = simulate("lorenz63", 3000, noise=0.0, seed=1)
    np.testing.assert_array_equal(a["x"].values, b["x"].values)
    residual = (a["x"].values - clean["x"].values).astype(np.float64)
    relative = residual.std(axis=0) / clean["x"].values.std(axis=0)
    np.testing.assert_allclose(relative, 0.1, rtol=0.1)


def test_simulate_trials_and_standardize(tmp_path: Path) -> None:
    from dsr.simulate import simulate

    ds = simulate("henon", 500, trials=3, seed=0, standardize=True)
    values = ds["x"].values
    assert ds["x"].dims == ("trial", "time", "variable") and values.shape == (3, 500, 2)
    assert not np.allclose(values[0], values[1])
    flat = values.reshape(-1, 2)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=0), 1.0, rtol=1e-5)
    assert ds.attrs["dt"] == 1.0


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["nosuchsystem"], "unknown system"),
        (["lorenz63", "--param", "rho"], "NAME=NUMBER"),
        (["lorenz63", "--param", "gamma=1"], "gamma"),
        (["lorenz63", "--steps", "1"], "at least 2"),
        (["lorenz63", "--noise", "-1"], "zero or positive"),
        (["lorenz63", "--dt", "0"], "must be positive"),
        (["henon", "--dt", "0.1"], "is a map"),
        (["lorenz63", "--trials", "0"], "at least 1"),
    ],
)
def test_simulate_bad_options(run_cli, tmp_path: Path, args: list[str], fragment: str) -> None:
    out = tmp_path / "bad.zarr"
    assert_one_line_error(run_cli("simulate", *args, "-o", out), fragment)
    assert not out.exists()


def test_simulate_list(run_cli) -> None:
    rows = json.loads(run_cli("simulate", "--list", "--json").out)
    names = {row["name"] for row in rows}
    assert {"lorenz63", "rossler", "lorenz96", "henon", "logistic"} <= names
    assert all(isinstance(row["params"], dict) and row["kind"] in ("flow", "map") for row in rows)


def test_info_human_and_json(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "r.zarr"
    assert run_cli("simulate", "rossler", "-o", out, "--steps", "500").code == 0
    human = run_cli("info", out)
    assert human.code == 0 and "rossler" in human.out and "mean" in human.out
    summary = json.loads(run_cli("info", out, "--json").out)
    assert summary["dims"] == {"time": 500, "variable": 3}
    stats = summary["variables"]["x"]["stats"]
    values = xr.open_zarr(out, consolidated=False)["x"].values
    assert stats["x"]["mean"] == pytest.approx(values[:, 0].mean(), rel=1e-5)
