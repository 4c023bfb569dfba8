"""Issue 17, "Rough edges a new user meets": one test per item, named after it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dsr.data import TimeSeries
from dsr.models import make_model
from dsr.simulate import simulate
from tests.conftest import assert_one_line_error


def _lorenz_series(steps: int = 600) -> TimeSeries:
    values = simulate("lorenz63", steps, seed=0, standardize=True)["x"].values.astype(np.float64)
    return TimeSeries(values=values[None], dt=0.01, variables=("x", "y", "z"))


# --- item 1: the stored region pattern is the best member's own ------------------------------------------


def test_item1_stored_pattern_is_best_members() -> None:
    from dsr.fitting import trajectory_dataset

    model = make_model("clipped-shplrnn", n_obs=3, latent=3, hidden=8, ensemble=3, seeds=0, dtype=torch.float64)
    stored = trajectory_dataset(model, 2, _lorenz_series(), min_steps=2000)
    z = torch.tensor(np.broadcast_to(stored["z"].values, (3, *stored["z"].shape)), dtype=torch.float64)
    own = model.pattern(z)[2].numpy()
    # The stored z is float32: a state within rounding of a region boundary may flip one bit.
    assert np.mean(stored["pattern"].values != own) < 1e-3
    with pytest.raises(ValueError, match="member"):
        model.pattern(z[:1])


# --- item 2: CSV import reads what the file holds -----------------------------------------------------------


def test_item2_csv_import_reads_header_delimiter_time_and_missing(run_cli, tmp_path: Path) -> None:
    from dsr.data import load

    rows = np.array([[0.5, 1.25, -2.0], [0.75, 1.5, -1.0], [1.0, 1.75, 0.5], [1.25, 2.0, 1.5]])
    # No header row: the first data row stays data, the columns are named x0, x1, ...
    (tmp_path / "plain.csv").write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    result = run_cli("import", tmp_path / "plain.csv", "-o", tmp_path / "plain.zarr")
    assert result.code == 0, result.err
    assert "no header row" in result.err
    ts = load(tmp_path / "plain.zarr")
    assert ts.variables == ("x0", "x1", "x2")
    np.testing.assert_array_equal(ts.values[0], rows)
    # A time column becomes the time coordinate and gives dt; semicolons and a decimal comma are read.
    text = "t;a;b\n" + "\n".join(f"{0.1 * i:.1f};{r[1]};{r[2]}".replace(".", ",") for i, r in enumerate(rows)) + "\n"
    (tmp_path / "semi.csv").write_text(text)
    result = run_cli("import", tmp_path / "semi.csv", "-o", tmp_path / "semi.zarr", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["dt"] == pytest.approx(0.1)
    ts = load(tmp_path / "semi.zarr")
    assert ts.variables == ("a", "b") and ts.dt == pytest.approx(0.1)
    np.testing.assert_array_equal(ts.values[0], rows[:, 1:])
    # --time-column takes a column by name; --no-header overrides the detection.
    (tmp_path / "tab.csv").write_text("time\tu\n0\t1\n2\t3\n4\t5\n")
    result = run_cli("import", tmp_path / "tab.csv", "-o", tmp_path / "tab.zarr", "--time-column", "time", "--json")
    assert json.loads(result.out)["dt"] == 2.0 and load(tmp_path / "tab.zarr").variables == ("u",)
    # Missing values are reported with their position; nothing is written.
    (tmp_path / "gap.csv").write_text("a,b\n1,2\n3,\n5,6\n")
    assert_one_line_error(run_cli("import", tmp_path / "gap.csv", "-o", tmp_path / "gap.zarr"), "missing", "line 3", "column 'b'")
    assert_one_line_error(run_cli("import", tmp_path / "tab.csv", "-o", tmp_path / "h.zarr", "--no-header"), "non-numeric", "'time' at line 1")
    assert not (tmp_path / "gap.zarr").exists()
    # An .npy without --dt says that dt = 1 was assumed.
    np.save(tmp_path / "a.npy", rows)
    result = run_cli("import", tmp_path / "a.npy", "-o", tmp_path / "a.zarr")
    assert result.code == 0 and "dt = 1" in result.err


# --- fits through the command line -----------------------------------------------------------------------------

SMALL_FIT = [
    "--epochs", "3", "--batches-per-epoch", "2", "--batch-size", "4", "--sequence-length", "20", "--eval-every", "1",
    "--eval-steps", "300", "--hidden", "8", "--ensemble", "1", "--dtype", "float64",
]


@pytest.fixture(scope="module")
def lorenz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dsr.zarrstore import write_dataset

    return write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), tmp_path_factory.mktemp("data") / "lorenz.zarr")


# --- item 4: dsr fit --resume RUN --------------------------------------------------------------------------------


def test_item4_resume_without_data_and_ctrl_c_names_the_run(lorenz_store: Path, tmp_path: Path, run_cli, monkeypatch) -> None:
    from dsr import runstore
    from dsr.training import trainer as trainer_module

    original = trainer_module.Trainer.train_epoch
    calls = {"n": 0}

    def train_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(trainer_module.Trainer, "train_epoch", train_then_interrupt)
    result = run_cli("fit", lorenz_store, *SMALL_FIT, "--out", tmp_path, "--quiet")
    assert result.code == 130
    path = next(tmp_path.glob("lorenz-*.zarr"))  # the default name, chosen by the fit
    assert f"dsr fit --resume {path}" in result.err
    monkeypatch.undo()
    result = run_cli("fit", "--resume", path, "--quiet")
    assert result.code == 0, result.err
    assert runstore.read_attrs(path)["status"] == "finished"
    assert_one_line_error(run_cli("fit"), "give a data store", "--resume RUN")
    assert_one_line_error(run_cli("fit", "--resume", path, "--config", path), "drop --config")


# --- item 6: every FitConfig field is a dsr fit option ----------------------------------------------------------


def test_item6_fit_options_generated_from_fitconfig(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    import typer.main

    from dsr import runstore
    from dsr.cli import app
    from dsr.training.config import FitConfig

    fit = typer.main.get_command(app).commands["fit"]
    options = {opt: param for param in fit.params for opt in param.opts}
    for name, field in FitConfig.model_fields.items():
        param = options[f"--{name.replace('_', '-')}"]
        assert param.help.rstrip(".") == field.description.rstrip(".")
        if field.default is not None:
            assert str(field.default).lower() == str(param.show_default).lower()
    help_text = run_cli("fit", "--help").out
    assert "--lr-start" in help_text and "--grad-clip" in help_text
    args = ["--lr-start", "0.002", "--lr-end", "0.001", "--grad-clip", "5", "--noise", "0.01", "--no-partial-forcing"]
    result = run_cli("fit", lorenz_store, *SMALL_FIT, *args, "--out", tmp_path, "--name", "o", "--quiet")
    assert result.code == 0, result.err
    config = runstore.read_attrs(tmp_path / "o.zarr")["config"]
    assert config["lr_start"] == 0.002 and config["grad_clip"] == 5.0 and config["noise"] == 0.01
    assert config["partial_forcing"] is False and config["batch_size"] == 4 and config["dtype"] == "float64"
    (tmp_path / "unknown.toml").write_text("learning_rate = 0.1\n")
    assert_one_line_error(run_cli("fit", lorenz_store, "--config", tmp_path / "unknown.toml"), "learning_rate", "valid keys: model, latent")


# --- item 3: --json output is JSON, also in a terminal ----------------------------------------------------------


def test_item3_json_stdout_is_json_in_a_terminal(lorenz_store: Path, tmp_path: Path, run_cli, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the rich progress bar
    result = run_cli("fit", lorenz_store, *SMALL_FIT, "--out", tmp_path, "--name", "j", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "finished"
    assert "3/3" in result.err  # the bar went to stderr


# --- item 5: Zarr format 2 stores, strict JSON attributes ------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise AssertionError(f"bare {name} in a JSON document")


def test_item5_info_reads_zarr_v2_and_attrs_are_strict_json(run_cli, tmp_path: Path) -> None:
    import xarray as xr

    from dsr import runstore
    from dsr.zarrstore import write_dataset

    ds = xr.Dataset({"x": (("time", "variable"), np.arange(20.0).reshape(10, 2))}, attrs={"dt": 0.5})
    ds.to_zarr(tmp_path / "v2.zarr", zarr_format=2, consolidated=False)
    result = run_cli("info", tmp_path / "v2.zarr", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["dt"] == 0.5
    assert run_cli("info", tmp_path / "v2.zarr").code == 0
    # Non-finite attributes are strict JSON: in groups as strings that float() reads back (a training
    # state's best score starts at infinity), in a run's root attributes (results) as null.
    write_dataset(ds.assign_attrs(score=float("nan"), best=[float("inf"), 0.5]), tmp_path / "nan.zarr")
    json.loads((tmp_path / "nan.zarr" / "zarr.json").read_text(), parse_constant=_reject_constant)
    attrs = xr.open_zarr(tmp_path / "nan.zarr", consolidated=False).attrs
    assert np.isnan(float(attrs["score"])) and np.asarray(attrs["best"], dtype=float).tolist() == [np.inf, 0.5]
    runstore.create(tmp_path / "run.zarr", {"final_metrics": {"d_stsp": float("nan")}})
    runstore.update_attrs(tmp_path / "run.zarr", score=float("inf"))
    json.loads((tmp_path / "run.zarr" / "zarr.json").read_text(), parse_constant=_reject_constant)
    assert runstore.read_attrs(tmp_path / "run.zarr")["final_metrics"] == {"d_stsp": None}
    assert run_cli("info", tmp_path / "run.zarr").code == 0


# --- item 7: dsr evaluate keeps the fit's final metrics ------------------------------------------------------------


def test_item7_evaluate_steps_is_a_separate_entry(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    import xarray as xr

    from dsr import runstore

    assert run_cli("fit", lorenz_store, *SMALL_FIT, "--out", tmp_path, "--name", "e", "--quiet").code == 0
    path = tmp_path / "e.zarr"
    before = runstore.read_attrs(path)["final_metrics"], runstore.read_group(path, "metrics")
    result = run_cli("evaluate", path, "--steps", "300", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["group"] == "evaluations/steps-300"
    assert runstore.read_attrs(path)["final_metrics"] == before[0]
    xr.testing.assert_identical(runstore.read_group(path, "metrics"), before[1])
    assert runstore.read_group(path, "evaluations/steps-300").attrs["steps"] == 300
    info = json.loads(run_cli("info", path, "--json").out)
    assert info["evaluations"] == ["steps-300"] and info["attrs"]["final_metrics"] == before[0]


# --- item 8: a fit says what it is doing between epochs -----------------------------------------------------------


def test_item8_fit_reports_compiling_evaluating_and_writing(lorenz_store: Path, tmp_path: Path, run_cli, monkeypatch) -> None:
    import sys

    for terminal in (False, True):  # plain lines, and the rich bar's console
        monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
        result = run_cli("fit", lorenz_store, *SMALL_FIT, "--out", tmp_path, "--name", f"s{terminal}")
        assert result.code == 0, result.err
        lines = result.err.splitlines()
        stages = ["compiles the kernels", "evaluating the best and last checkpoints", "writing the free run of the best member"]
        positions = [next(i for i, line in enumerate(lines) if stage in line) for stage in stages]
        assert positions == sorted(positions)
        between = "".join(lines[positions[0] : positions[1]])  # the epochs come between compiling and evaluating
        assert ("fit lorenz.zarr" if terminal else "epoch 3/3") in between


def test_item8_slow_imports_say_they_compile(capsys) -> None:
    import time

    from dsr.console import LOADING_NOTICE, slow_notice

    with slow_notice("slow", after=0.05):
        time.sleep(0.3)  # as the imports that compile on a cold Numba cache
    with slow_notice("fast", after=0.3):
        pass
    time.sleep(0.4)
    assert capsys.readouterr().err.splitlines() == ["slow"]
    assert "compiles" in LOADING_NOTICE


# --- item 9: no false CF claim; the trajectory has a time axis ---------------------------------------------------------


def test_item9_no_cf_claim_and_trajectory_has_time(lorenz_store: Path, tmp_path: Path) -> None:
    from dsr.fitting import trajectory_dataset
    from dsr.zarrstore import open_store

    assert "Conventions" not in open_store(lorenz_store).attrs  # the attrs (dicts, booleans) do not follow CF
    model = make_model("clipped-shplrnn", n_obs=3, latent=3, hidden=8, ensemble=2, seeds=0, dtype=torch.float64)
    series = _lorenz_series()
    trajectory = trajectory_dataset(model, 1, series, min_steps=400)
    assert trajectory.attrs["dt"] == series.dt
    time = trajectory["time"].values
    assert time.shape == (600,) and time[0] == pytest.approx(150 * series.dt)  # after the 600 // 4 transient steps
    np.testing.assert_allclose(np.diff(time), series.dt)


# --- item 10: the public API is discoverable, typed, licensed and citable -------------------------------------------


def test_item10_public_api_is_discoverable() -> None:
    import subprocess
    import sys
    import tomllib

    import dsr
    from dsr.training.config import FitConfig

    assert {"fit", "resume", "load_run", "analyze", "evaluate_run", "Run", "FitConfig", "import_file"} <= set(dsr.__all__)
    assert set(dsr.__all__) <= set(dir(dsr))
    assert all(getattr(dsr, name) is not None for name in dsr.__all__)
    assert dsr.FitConfig is FitConfig
    # Still light: importing dsr and listing its API imports neither torch nor xarray.
    code = "import sys, dsr; dir(dsr); print(sorted(m for m in ('torch', 'xarray') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    root = Path(__file__).resolve().parent.parent
    assert (Path(dsr.__file__).parent / "py.typed").is_file()
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["dsr"]
    assert project["project"]["license"] == "MIT" and "MIT License" in (root / "LICENSE").read_text()
    citation = (root / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and f'version: "{dsr.__version__}"' in citation


# --- item 11: piped output is not wrapped; dsr plot asks before replacing a file --------------------------------------


def test_item11_piped_output_unwrapped_and_plot_needs_overwrite(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    import shutil

    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "store.zarr"
    shutil.copytree(lorenz_store, deep)
    lines = run_cli("info", deep).out.splitlines()  # captured: not a terminal
    assert str(deep) in lines[0] and "dt: 0.01" in lines[0]
    assert any("x ('time', 'variable') float32" in line for line in lines)
    assert run_cli("fit", lorenz_store, *SMALL_FIT, "--out", tmp_path, "--name", "p", "--quiet").code == 0
    lines = run_cli("info", tmp_path / "p.zarr").out.splitlines()
    assert any("data:" in line and "epochs: 3/3" in line and "device:" in line for line in lines)
    figure = tmp_path / "fig.png"
    assert run_cli("plot", tmp_path / "p.zarr", "-o", figure).code == 0
    first = figure.stat().st_mtime_ns
    assert_one_line_error(run_cli("plot", tmp_path / "p.zarr", "-o", figure), "already exists", "--overwrite")
    assert figure.stat().st_mtime_ns == first
    assert run_cli("plot", tmp_path / "p.zarr", "-o", figure, "--overwrite").code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fig")] == []
