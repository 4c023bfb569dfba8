"""Short real recordings judged honestly: the short-test warning and whole trials held out for testing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import dsr
from dsr import runstore
from dsr.data import load
from dsr.errors import DsrError
from dsr.fitting import MIN_TEST_POINTS, prepare_data
from dsr.simulate import simulate
from dsr.training.config import FitConfig, default_window_length
from dsr.zarrstore import write_dataset
from tests.conftest import TINY, assert_one_line_error


@pytest.fixture(scope="module")
def trials_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four trials (say, subjects) of a 3-variable recording, 500 steps each."""
    return write_dataset(simulate("lorenz63", 500, noise=0.05, seed=2, trials=4), tmp_path_factory.mktemp("data") / "trials.zarr")


@pytest.fixture(scope="module")
def short_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """360 steps, like a short fMRI recording: the default split leaves a 72-step test part."""
    return write_dataset(simulate("lorenz63", 360, seed=3), tmp_path_factory.mktemp("data") / "short.zarr")


def test_test_trials_hold_out_the_last_trials_whole(trials_store: Path) -> None:
    series = load(trials_store)
    train, test, mean, scale = prepare_data(FitConfig(test_trials=1), trials_store, None)
    assert (train.n_trials, train.n_time, test.n_trials, test.n_time) == (3, 500, 1, 500)
    np.testing.assert_allclose(test.values[0] * scale + mean, series.values[3])
    np.testing.assert_allclose(mean, series.values[:3].reshape(-1, 3).mean(axis=0))  # training trials only


def test_a_fit_with_test_trials_evaluates_on_them(trials_store: Path, tmp_path: Path) -> None:
    path = dsr.fit(trials_store, FitConfig(**(TINY | {"test_trials": 2})), out=tmp_path, name="held-out")
    attrs = runstore.read_attrs(path)
    assert attrs["config"]["test_trials"] == 2 and "warnings" not in attrs
    assert runstore.read_group(path, runstore.TRAJECTORY).sizes["time"] >= 500


@pytest.mark.parametrize("count", [4, 5])
def test_test_trials_leave_a_training_trial(trials_store: Path, run_cli, tmp_path: Path, count: int) -> None:
    result = run_cli("fit", trials_store, "--test-trials", count, "--out", tmp_path)
    assert_one_line_error(result, f"cannot hold out {count} of 4 trials")
    assert not list(tmp_path.iterdir())


def test_test_trials_and_a_test_store_exclude_each_other(trials_store: Path) -> None:
    with pytest.raises(DsrError, match="pass one of them"):
        prepare_data(FitConfig(test_trials=1), trials_store, trials_store)


def test_a_short_test_part_is_reported_and_recorded(short_store: Path, run_cli, tmp_path: Path) -> None:
    lines: list[str] = []
    path = dsr.fit(short_store, FitConfig(**TINY), out=tmp_path, name="short", status=lines.append)
    warnings = runstore.read_attrs(path)["warnings"]
    assert len(warnings) == 1 and "1 x 72 steps" in warnings[0] and "--test-trials" in warnings[0]
    assert f"warning: {warnings[0]}" in lines
    result = run_cli("fit", short_store, "--out", tmp_path, "--name", "short-cli", "--quiet", "--json",
                     *(f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()))
    assert result.code == 0, result.err
    assert json.loads(result.out)["warnings"] == warnings  # also with --quiet and --json


def test_a_long_enough_test_part_gives_no_warning(tmp_path: Path) -> None:
    store = write_dataset(simulate("lorenz63", 5 * MIN_TEST_POINTS, seed=4), tmp_path / "long.zarr")
    path = dsr.fit(store, FitConfig(**TINY), out=tmp_path / "runs", name="long")
    assert "warnings" not in runstore.read_attrs(path)


def test_short_recordings_train_on_windows_a_quarter_of_their_length(short_store: Path, tmp_path: Path) -> None:
    """360 steps leave 288 for training: the default window is 72 (Brenner et al.'s fMRI setting), stored as such;
    an explicit --sequence-length is kept; long series keep 200."""
    tiny = {k: v for k, v in TINY.items() if k != "sequence_length"}
    path = dsr.fit(short_store, FitConfig(**tiny), out=tmp_path, name="auto")
    assert runstore.read_attrs(path)["config"]["sequence_length"] == 72
    path = dsr.fit(short_store, FitConfig(**(tiny | {"sequence_length": 150})), out=tmp_path, name="given")
    assert runstore.read_attrs(path)["config"]["sequence_length"] == 150
    assert [default_window_length(n) for n in (3, 288, 799, 800, 10**5)] == [2, 72, 199, 200, 200]


def test_a_window_longer_than_the_training_part_is_refused(short_store: Path, run_cli, tmp_path: Path) -> None:
    result = run_cli("fit", short_store, "--sequence-length", "300", "--out", tmp_path)
    assert_one_line_error(result, "sequence length (+1) 301 is longer than")
    assert not list(tmp_path.iterdir())
