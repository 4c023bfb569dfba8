"""Delay embedding: the lag and dimension chosen for known signals, `dsr embed` and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import dsr.systems as systems
from dsr.analysis import embedding
from dsr.data import to_dataset
from dsr.zarrstore import write_dataset
from tests.conftest import assert_one_line_error


@pytest.fixture(scope="module")
def lorenz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dsr.simulate import simulate

    return write_dataset(simulate("lorenz63", 20_000, dt=0.01, seed=0), tmp_path_factory.mktemp("emb") / "lorenz.zarr")


def test_delay_vectors_hold_the_past_values_in_order() -> None:
    x = np.arange(10.0)
    v = embedding.delay_embed(x, 3, 2)[0]
    assert v.shape == (6, 3)
    np.testing.assert_array_equal(v[0], [4.0, 2.0, 0.0])
    np.testing.assert_array_equal(v[-1], [9.0, 7.0, 5.0])
    two = embedding.delay_embed(np.stack([x, -x], axis=1), 2, 1)[0]
    np.testing.assert_array_equal(two[0], [1.0, 0.0, -1.0, -0.0])


def test_mutual_information_of_independent_values_is_near_zero_and_of_a_copy_is_the_entropy() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(50_000)
    info = embedding.mutual_information(noise, 5)[:, 0]
    counts = np.histogram(noise, bins=16)[0] / noise.size
    entropy = -np.sum(counts[counts > 0] * np.log(counts[counts > 0]))
    assert info[0] == pytest.approx(entropy, rel=1e-9)
    assert np.all(info[1:] < 0.01)


def test_lorenz_x_gets_a_lag_of_10_to_20_steps_and_dimension_3(run_cli, lorenz_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.zarr"
    result = run_cli("embed", lorenz_store, "-o", out, "--auto", "--column", "x", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert 10 <= report["lag"] <= 20 and report["dim"] == 3
    assert report["fnn_fractions"][2] <= 0.02 < report["fnn_fractions"][1]
    ds = xr.open_zarr(out, consolidated=False)
    attrs = ds.attrs
    assert attrs["embedding"]["lag"] == report["lag"] and attrs["embedding"]["dim"] == 3
    assert "system" not in attrs and attrs["source_attrs"]["system"] == "lorenz63"
    lag = report["lag"]
    assert list(ds["variable"].values) == ["x(t)", f"x(t-{lag})", f"x(t-{2 * lag})"]
    source = xr.open_zarr(lorenz_store, consolidated=False)["x"].sel(variable="x").values
    np.testing.assert_allclose(ds["x"].values[0], source[[2 * lag, lag, 0]], rtol=1e-6)
    assert float(ds["time"][0]) == pytest.approx(float(xr.open_zarr(lorenz_store, consolidated=False)["time"][2 * lag]))


def test_a_sine_needs_at_most_two_delays() -> None:
    t = np.arange(20_000) * 0.01
    sine = np.sin(2 * np.pi * t / 1.3)
    lag = embedding.choose_lag(sine).lag
    choice = embedding.choose_dimension(sine, lag)
    assert choice.found and choice.dim <= 2


def test_noise_finds_no_dimension() -> None:
    noise = np.random.default_rng(1).standard_normal(5_000)
    choice = embedding.choose_dimension(noise, 1, max_dim=4)
    assert not choice.found and choice.dim == 4 and np.all(choice.fractions > 0.1)


def test_trials_are_embedded_apart_and_given_options_are_kept(run_cli, tmp_path: Path) -> None:
    x = np.sin(np.arange(3 * 500) * 0.1).reshape(3, 500, 1) + np.arange(3)[:, None, None]
    store = write_dataset(to_dataset(x, 0.1, ["s"]), tmp_path / "trials.zarr")
    result = run_cli("embed", store, "-o", tmp_path / "e.zarr", "--dim", "2", "--lag", "5", "--json")
    assert result.code == 0, result.err
    ds = xr.open_zarr(tmp_path / "e.zarr", consolidated=False)
    assert dict(ds.sizes) == {"trial": 3, "time": 495, "variable": 2}
    np.testing.assert_allclose(ds["x"].values[:, 0, 1], x[:, 0, 0], rtol=1e-6)
    assert ds.attrs["embedding"]["lag_method"] == "given" and ds.attrs["dt"] == 0.1


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--dim", "0", "--lag", "3"], ["--dim 0 must be at least 1"]),
        (["--dim", "2", "--lag", "-1"], ["--lag -1 must be at least 1"]),
        (["--dim", "2"], ["give --lag, or --auto"]),
        ([], ["give --dim and --lag, or --auto"]),
        (["--dim", "300", "--lag", "100"], ["fewer than 100", "smaller --dim or --lag"]),
        (["--auto", "--max-dim", "0"], ["--max-dim 0 must be at least 1"]),
    ],
)
def test_bad_options_give_one_line_errors(run_cli, lorenz_store: Path, tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run_cli("embed", lorenz_store, "-o", tmp_path / "o.zarr", "--column", "x", *args), *fragments)
    assert not (tmp_path / "o.zarr").exists()


def test_several_variables_need_a_column_and_an_unknown_one_is_named(run_cli, lorenz_store: Path, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("embed", lorenz_store, "-o", tmp_path / "o.zarr", "--auto"), "3 variables (x, y, z)", "--column")
    assert_one_line_error(run_cli("embed", lorenz_store, "-o", tmp_path / "o.zarr", "--auto", "--column", "w"), "--column w", "x, y, z")


def test_too_short_for_a_lag_and_output_onto_input(run_cli, lorenz_store: Path, tmp_path: Path) -> None:
    short = write_dataset(to_dataset(np.sin(np.arange(15.0))[:, None], 1.0), tmp_path / "short.zarr")
    assert_one_line_error(run_cli("embed", short, "-o", tmp_path / "o.zarr", "--auto"), "15 steps", "at least 20")
    assert_one_line_error(run_cli("embed", lorenz_store, "-o", lorenz_store, "--auto", "--column", "x"), "is the input")
