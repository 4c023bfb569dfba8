"""λ1 estimated from a series (Rosenstein et al. 1993) against the published exponents, and `dsr analyze DATA`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import dsr.systems as systems
from dsr.analysis import embedding, series_lyapunov
from dsr.data import to_dataset
from dsr.zarrstore import write_dataset
from tests.conftest import assert_one_line_error

LORENZ_LAMBDA = systems.get("lorenz63").invariants["max_lyapunov_exponent"]  # 0.9056 (Sprott)
HENON_LAMBDA = systems.get("henon").invariants["max_lyapunov_exponent"]  # 0.41922 (Sprott)


def lorenz(steps: int, seed: int) -> np.ndarray:
    system = systems.get("lorenz63")
    x0 = system.sample_initial_conditions(1, np.random.default_rng(seed))[0]
    return system.trajectory(steps, dt=0.01, x0=x0, transient=1_000)


@pytest.mark.parametrize("seed", [0, 1])
def test_lorenz_state_within_10_percent(seed: int) -> None:
    result = series_lyapunov.largest_lyapunov(lorenz(20_000, seed), 0.01)
    assert result.exponent == pytest.approx(LORENZ_LAMBDA, rel=0.1)
    assert result.unit == "per time unit" and result.fit_range[0] < result.fit_range[1]
    # The curve rises over the fitted range and levels off at the attractor's size afterwards.
    assert np.all(np.diff(result.divergence[:10]) > -0.5) and result.divergence[-1] > result.divergence[0] + 3


def test_lorenz_x_delay_embedded_within_10_percent() -> None:
    x = lorenz(20_000, 2)[:, 0]
    lag = embedding.choose_lag(x).lag
    dim = embedding.choose_dimension(x, lag).dim
    estimate = series_lyapunov.largest_lyapunov(embedding.delay_embed(x, dim, lag), 0.01).exponent
    assert estimate == pytest.approx(LORENZ_LAMBDA, rel=0.1)


@pytest.mark.parametrize("steps", [2_000, 20_000])
def test_henon_within_10_percent(steps: int) -> None:
    henon = systems.get("henon")
    x = henon.trajectory(steps, x0=henon.sample_initial_conditions(1, np.random.default_rng(3))[0], transient=100)[:, 0]
    result = series_lyapunov.largest_lyapunov(embedding.delay_embed(x, 2, 1))
    assert result.unit == "per step"
    assert result.exponent == pytest.approx(HENON_LAMBDA, rel=0.1)


def test_trials_are_pooled_and_a_stable_cycle_is_not_chaotic() -> None:
    trials = np.stack([lorenz(8_000, s) for s in range(3)])
    assert series_lyapunov.largest_lyapunov(trials, 0.01).exponent == pytest.approx(LORENZ_LAMBDA, rel=0.15)
    t = np.arange(5_000) * 0.05
    ring = np.stack([np.cos(t), np.sin(t)], axis=1) + 1e-3 * np.random.default_rng(0).standard_normal((5_000, 2))
    assert abs(series_lyapunov.largest_lyapunov(ring, 0.05).exponent) < 0.2 * LORENZ_LAMBDA


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        series_lyapunov.largest_lyapunov(np.random.default_rng(0).standard_normal((20, 2)))
    with pytest.raises(ValueError, match="dt must be positive"):
        series_lyapunov.largest_lyapunov(lorenz(1_000, 0), 0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        series_lyapunov.largest_lyapunov(np.full((100, 2), np.nan))


def test_analyze_a_scalar_data_store(run_cli, tmp_path: Path) -> None:
    store = write_dataset(to_dataset(lorenz(20_000, 4)[:, :1], 0.01, ["x"]), tmp_path / "x.zarr")
    result = run_cli("analyze", store, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)["data"]
    assert 10 <= data["embedding"]["lag"] <= 20 and data["embedding"]["dim"] == 3
    assert data["lyapunov"]["exponents"][0] == pytest.approx(LORENZ_LAMBDA, rel=0.1)
    assert run_cli("analyze", store).code == 0
    assert_one_line_error(run_cli("analyze", store, "--order", "2"), "drop --order")
    short = write_dataset(to_dataset(np.sin(np.arange(15.0))[:, None], 1.0), tmp_path / "short.zarr")
    result = run_cli("analyze", short, "--json")
    assert result.code == 0 and "not estimated" in json.loads(result.out)["data"]["lyapunov_note"]
