"""The data format: loading, validation errors (one line, exit 2), import and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from dsr.data import load, to_dataset
from dsr.errors import DsrError
from dsr.zarrstore import write_dataset
from tests.conftest import assert_one_line_error


def _series(n_time: int = 200, n_var: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_time, n_var))


@pytest.fixture
def good_store(tmp_path: Path) -> Path:
    return write_dataset(to_dataset(_series(), dt=0.01, variables=["x", "y", "z"]), tmp_path / "good.zarr")


def _write(ds: xr.Dataset, path: Path) -> Path:
    ds.to_zarr(path, mode="w", consolidated=False)
    return path


def test_round_trip_keeps_values_dt_and_names(good_store: Path) -> None:
    ts = load(good_store)
    assert ts.values.shape == (1, 200, 3)
    assert ts.dt == pytest.approx(0.01)
    assert ts.variables == ("x", "y", "z")
    np.testing.assert_allclose(ts.values[0], _series().astype(np.float32))
    assert (good_store / "zarr.json").exists()  # Zarr format 3


def test_dt_from_time_coordinate_and_default(tmp_path: Path) -> None:
    values = _series(50)
    ds = xr.Dataset({"x": (("time", "variable"), values)}, coords={"time": np.arange(50) * 0.25})
    assert load(_write(ds, tmp_path / "t.zarr")).dt == pytest.approx(0.25)
    bare = xr.Dataset({"x": (("time", "variable"), values)})
    assert load(_write(bare, tmp_path / "b.zarr")).dt == 1.0


def test_zarr_format_2_is_readable(tmp_path: Path) -> None:
    ds = to_dataset(_series(), dt=0.5)
    ds.to_zarr(tmp_path / "v2.zarr", zarr_format=2, consolidated=True)
    ts = load(tmp_path / "v2.zarr")
    assert ts.values.shape == (1, 200, 3) and ts.dt == 0.5


def test_trials_and_shared_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {"x": (("trial", "time", "variable"), rng.standard_normal((4, 100, 2))), "u": (("time", "input"), rng.standard_normal((100, 1)))}
    )
    ts = load(_write(ds, tmp_path / "trials.zarr"), var="x", inputs="u")
    assert ts.values.shape == (4, 100, 2) and ts.inputs.shape == (4, 100, 1)
    np.testing.assert_array_equal(ts.inputs[0], ts.inputs[3])
    train, test = ts.split(0.2)
    assert train.n_time == 80 and test.n_time == 20 and train.inputs.shape == (4, 80, 1)


def test_split_never_overlaps() -> None:
    ts = load_values(np.arange(30.0).reshape(10, 3))
    train, test = ts.split(0.3)
    assert train.values[0, -1, 0] < test.values[0, 0, 0]
    with pytest.raises(DsrError, match="between 0 and 1"):
        ts.split(1.0)


def load_values(values: np.ndarray):
    from dsr.data import TimeSeries

    return TimeSeries(values=values[None], dt=1.0, variables=tuple(f"x{i}" for i in range(values.shape[1])))


def test_check_accepts_good_store(run_cli, good_store: Path) -> None:
    result = run_cli("check", good_store, "--json")
    assert result.code == 0
    assert json.loads(result.out)["time"] == 200


# --- every bad input: one line naming the problem, exit 2, no traceback -----------------------


def test_missing_path(run_cli, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("check", tmp_path / "nope.zarr"), "no such file or directory")


def test_not_a_zarr_store(run_cli, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert_one_line_error(run_cli("check", tmp_path / "plain"), "is not a Zarr store")
    np.save(tmp_path / "a.npy", _series())
    assert_one_line_error(run_cli("info", tmp_path / "a.npy"), "is not a Zarr store", "dsr import")


def test_store_without_data_variables(run_cli, tmp_path: Path) -> None:
    path = _write(xr.Dataset(coords={"time": np.arange(5.0)}), tmp_path / "empty.zarr")
    assert_one_line_error(run_cli("check", path), "no data variables")


def test_ambiguous_variable_lists_candidates(run_cli, tmp_path: Path) -> None:
    dims = ("time", "variable")
    ds = xr.Dataset({"a": (dims, _series()), "b": (dims, _series(seed=1))})
    path = _write(ds, tmp_path / "two.zarr")
    assert_one_line_error(run_cli("check", path), "several variables", "a, b", "--var")
    assert run_cli("check", path, "--var", "b").code == 0
    assert_one_line_error(run_cli("check", path, "--var", "c"), "no variable 'c'")


def test_wrong_number_of_dims(run_cli, tmp_path: Path) -> None:
    path = _write(xr.Dataset({"x": (("time",), np.arange(10.0))}), tmp_path / "1d.zarr")
    assert_one_line_error(run_cli("check", path), "1 dims", "(time, variable)")
    renamed = _write(xr.Dataset({"x": (("t", "v"), _series())}), tmp_path / "renamed.zarr")
    assert_one_line_error(run_cli("check", renamed), "rename the dims")


def test_non_numeric_dtype(run_cli, tmp_path: Path) -> None:
    words = np.array([["a", "b"], ["c", "d"]], dtype=object)
    path = _write(xr.Dataset({"x": (("time", "variable"), words)}), tmp_path / "str.zarr")
    assert_one_line_error(run_cli("check", path), "non-numeric dtype")


def test_nan_and_inf_count_and_first_index(run_cli, tmp_path: Path) -> None:
    values = _series()
    values[17, 2] = np.nan
    values[40, 0] = np.inf
    path = _write(xr.Dataset({"x": (("time", "variable"), values)}), tmp_path / "nan.zarr")
    assert_one_line_error(run_cli("check", path), "2 NaN or infinite", "time=17, variable=2")
    # info reports the problem instead of refusing
    info = json.loads(run_cli("info", path, "--json").out)
    assert info["variables"]["x"]["stats"]["variable2"]["nan"] == 1


def test_constant_variable(run_cli, tmp_path: Path) -> None:
    values = _series()
    values[:, 1] = 3.0
    path = write_dataset(to_dataset(values, dt=1.0, variables=["a", "b", "c"]), tmp_path / "const.zarr")
    assert_one_line_error(run_cli("check", path), "constant variable(s) b")


def test_series_shorter_than_sequence_length(run_cli, good_store: Path) -> None:
    assert_one_line_error(run_cli("check", good_store, "--sequence-length", "500"), "500 is longer than the series (200")
    assert run_cli("check", good_store, "--sequence-length", "200").code == 0


def test_inputs_with_other_time_length(run_cli, tmp_path: Path) -> None:
    # xarray cannot even hold such a pair, so write the arrays with zarr directly.
    group = zarr.open_group(tmp_path / "inputs.zarr", mode="w", zarr_format=3)
    group.create_array("x", shape=(100, 3), dtype="f8", dimension_names=["time", "variable"])[:] = _series(100)
    group.create_array("u", shape=(80, 1), dtype="f8", dimension_names=["time", "input"])[:] = 1.0
    assert_one_line_error(run_cli("check", tmp_path / "inputs.zarr", "--var", "x", "--inputs", "u"), "conflicting sizes", "same time")


def test_inputs_with_other_trial_count(run_cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {"x": (("trial", "time", "variable"), rng.standard_normal((2, 50, 3))), "u": (("trials_u", "time", "input"), rng.standard_normal((3, 50, 1)))}
    )
    path = _write(ds, tmp_path / "trials.zarr")
    assert_one_line_error(run_cli("check", path, "--var", "x", "--inputs", "u"), "inputs 'u'", "dims")


def test_missing_inputs_variable(run_cli, good_store: Path) -> None:
    assert_one_line_error(run_cli("check", good_store, "--inputs", "u"), "no inputs variable 'u'")


# --- import -----------------------------------------------------------------------------------


def test_import_npy_and_csv(run_cli, tmp_path: Path) -> None:
    values = _series(100, 2)
    np.save(tmp_path / "a.npy", values)
    assert run_cli("import", tmp_path / "a.npy", "-o", tmp_path / "a.zarr", "--dt", "0.1").code == 0
    ts = load(tmp_path / "a.zarr")
    np.testing.assert_array_equal(ts.values[0], values)
    assert ts.dt == pytest.approx(0.1)

    (tmp_path / "b.csv").write_text("v,w\n" + "\n".join(f"{a},{b}" for a, b in values))
    assert run_cli("import", tmp_path / "b.csv", "-o", tmp_path / "b.zarr").code == 0
    ts = load(tmp_path / "b.zarr")
    assert ts.variables == ("v", "w")
    np.testing.assert_allclose(ts.values[0], values)

    np.save(tmp_path / "trials.npy", np.stack([values, values + 1]))
    assert run_cli("import", tmp_path / "trials.npy", "-o", tmp_path / "t.zarr").code == 0
    assert load(tmp_path / "t.zarr").values.shape == (2, 100, 2)


def test_import_bad_files(run_cli, tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("1 2 3")
    assert_one_line_error(run_cli("import", tmp_path / "x.txt", "-o", tmp_path / "x.zarr"), "unsupported file type")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    assert_one_line_error(run_cli("import", tmp_path / "bad.csv", "-o", tmp_path / "y.zarr"), "non-numeric")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    assert_one_line_error(run_cli("import", tmp_path / "ragged.csv", "-o", tmp_path / "y.zarr"), "line 3")
    np.save(tmp_path / "vec.npy", np.arange(5.0))
    assert_one_line_error(run_cli("import", tmp_path / "vec.npy", "-o", tmp_path / "y.zarr"), "shape (5,)")
    assert_one_line_error(run_cli("import", tmp_path / "nothere.npy", "-o", tmp_path / "y.zarr"), "no such file")
    assert not (tmp_path / "y.zarr").exists()


# --- atomic writes ------------------------------------------------------------------------------


def test_existing_output_needs_overwrite(run_cli, tmp_path: Path, good_store: Path) -> None:
    np.save(tmp_path / "a.npy", _series(10))
    assert_one_line_error(run_cli("import", tmp_path / "a.npy", "-o", good_store), "already exists", "--overwrite")
    assert run_cli("import", tmp_path / "a.npy", "-o", good_store, "--overwrite").code == 0
    assert load(good_store).n_time == 10


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_store: Path) -> None:
    before = load(good_store).values.copy()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", crash)
    for target, overwrite in ((tmp_path / "new.zarr", False), (good_store, True)):
        with pytest.raises(RuntimeError):
            write_dataset(to_dataset(_series(), dt=1.0), target, overwrite=overwrite)
    monkeypatch.undo()
    assert not (tmp_path / "new.zarr").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.zarr"]  # no temporary leftovers
    np.testing.assert_array_equal(load(good_store).values, before)
