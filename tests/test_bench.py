"""``dsr bench``'s leaderboard: health of free runs, per-family summaries, the Markdown table, the store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsr.bench import leaderboard
from dsr.errors import DsrError


def test_health_tells_diverged_collapsed_and_ok() -> None:
    t = np.linspace(0, 50, 2000)
    assert leaderboard.health(np.stack([np.sin(t), np.cos(t)], -1)) == "ok"
    assert leaderboard.health(np.stack([np.exp(-t), np.ones_like(t)], -1)) == "collapsed"
    assert leaderboard.health(np.stack([np.sin(t), np.where(t > 40, np.nan, 0.0)], -1)) == "diverged"
    assert leaderboard.health(np.stack([np.sin(t), np.exp(t / 5)], -1)) == "diverged"


def rows() -> list[dict]:
    fits = []
    for i, d in enumerate([0.1, 0.2, 0.3, 0.5]):
        fits.append({"fit": f"fit-{i:04d}", "model": "default", "seed": 100 * i, "status": "finished", "health": "ok", "d_stsp": d,
                     "d_h": d / 2, "pe": 0.01, "lambda1": 0.9, "d_ky": 2.05, "n_parameters": 700, "wall_s": 60.0, "run": f"runs/fit-{i:04d}.zarr"})
    fits.append({"fit": "fit-0004", "model": "lstm", "seed": 0, "status": "finished", "health": "collapsed", "d_stsp": 9.0, "d_h": 1.0,
                 "pe": 0.5, "n_parameters": 4000, "wall_s": 120.0, "error": "no Lyapunov exponents", "run": "runs/fit-0004.zarr"})
    fits.append({"fit": "fit-0005", "model": "lstm", "seed": 100, "status": "failed", "health": "failed", "error": "training diverged", "wall_s": 30.0})
    return fits


def test_summary_counts_and_quartiles() -> None:
    ds = leaderboard.table(rows(), {"models": ["default", "lstm"], "truth": {"lambda1": 0.9056, "d_ky": 2.0621}, "budget_minutes": 1.0})
    default, lstm = leaderboard.summary(ds)
    assert default["finished"] == 4 and default["failed"] == 0 and default["d_stsp"]["median"] == pytest.approx(0.25)
    assert default["d_stsp"]["q1"] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.5], 25))
    assert lstm["finished"] == 1 and lstm["failed"] == 1 and lstm["collapsed"] == 1 and lstm["errors"] == ["training diverged"]
    assert lstm["lambda1"]["median"] is None and lstm["wall_s"] == pytest.approx(75.0)
    table = leaderboard.markdown(ds)
    assert "λ1 (true 0.906)" in table and "| lstm | 1/2 |" in table and "1 failed, 1 collapsed" in table
    assert "0.25 [0.175, 0.35]" in table


def test_store_round_trip_and_refusal(tmp_path) -> None:
    ds = leaderboard.table(rows(), {"models": ["default", "lstm"], "truth": {}, "budget_minutes": 1.0})
    leaderboard.write(tmp_path, ds)
    back = leaderboard.read(tmp_path)
    assert leaderboard.summary(back) == leaderboard.summary(ds)
    assert math.isnan(float(back["lambda1"].values[-1]))
    with pytest.raises(DsrError, match="holds no leaderboard"):
        leaderboard.read(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--models", "lstm,transformer"), ("unknown model 'transformer' in --models", "choose from: all, default, alrnn, rnn")),
        (("--fits", "0"), ("--fits 0 and --budget 10.0 must be positive",)),
        (("--budget", "-1"), ("must be positive",)),
        (("--models", "gru,esn+newton"), ("esn+newton: esn is not trained by gradients", "drop +newton")),
        (("--models", "gru+parallel"), ("unknown model 'gru+parallel'", "append +newton to a gradient-trained one")),
    ],
)
def test_bench_refuses_bad_options_in_one_line(args: tuple, fragments: tuple, run_cli, lorenz_store, tmp_path) -> None:
    from tests.conftest import assert_one_line_error

    assert_one_line_error(run_cli("bench", str(lorenz_store), "-o", str(tmp_path / "b"), *args), *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--model", "lstm", "--model-options", "spectral_radius=0.9"), ("model lstm does not take option 'spectral_radius'", "it takes: hidden")),
        (("--model", "esn", "--hidden", "5"), ("hidden is a PLRNN-family option, not used by esn",)),
        (("--model", "gru", "--model-options", "hidden"), ("--model-options takes NAME=NUMBER pairs",)),
        (("--model", "transformer"), ("invalid option model (got 'transformer')",)),
    ],
)
def test_fit_refuses_zoo_options_in_one_line(args: tuple, fragments: tuple, run_cli, lorenz_store, tmp_path) -> None:
    from tests.conftest import assert_one_line_error

    assert_one_line_error(run_cli("fit", str(lorenz_store), "--out", str(tmp_path), *args), *fragments)


def test_invariants_of_a_zoo_run_are_its_best_members(lorenz_store, tmp_path) -> None:
    """run_invariants steps the best member alone; its spectrum equals that member's in the whole ensemble's."""
    import torch

    import dsr
    from dsr.analysis import dimensions
    from dsr.bench.invariants import run_invariants
    from dsr.run import Run
    from dsr.training.config import FitConfig
    from dsr.zoo import from_dataset
    from dsr.zoo.lyapunov import lyapunov_spectrum
    from tests.test_zoo import FIT_OPTIONS, ZOO_TINY

    config = FitConfig(model="gru", model_options=FIT_OPTIONS["gru"], **{**ZOO_TINY, "ensemble": 3})
    run = Run(dsr.fit(lorenz_store, config, out=tmp_path, name="gru"))
    start = torch.as_tensor(np.broadcast_to(run.last_state(), (3, 1, run.last_state().shape[-1])).copy(), dtype=torch.float64)
    whole = lyapunov_spectrum(from_dataset(run.params("best")), start, steps=200, transient=50, n_exponents=4, dt=float(run.dt))
    expected = np.sort(whole[run.best_member].exponents)[::-1]
    lambda1, d_ky, note = run_invariants(run.path, steps=200, transient=50)
    assert note == "" and lambda1 == pytest.approx(expected[0], rel=1e-9, abs=1e-12)
    assert d_ky == pytest.approx(dimensions.kaplan_yorke(expected), rel=1e-9)


def test_bench_fits_carry_each_familys_recipe() -> None:
    """A gradient family's fits take its recipe over the zoo's GTF and training settings; closed-form ones take neither."""
    from dsr.bench.runner import ZOO_FORCING, ZOO_TRAINING, bench_configs
    from dsr.zoo import ZOO

    configs = {c["model"]: c for c in bench_configs(list(ZOO), 1, 2.0)}
    for kind, cls in ZOO.items():
        config = configs[kind]
        assert config["time_budget"] == 2.0 and config["seed"] == 0
        if cls.fitted_by == "gradient":
            assert config.items() >= (ZOO_FORCING | ZOO_TRAINING | cls.recipe).items()
        else:
            assert not (ZOO_FORCING.keys() | ZOO_TRAINING.keys()) & config.keys()


def test_newton_variant_is_the_family_fitted_by_parallel_newton(lorenz_store, tmp_path) -> None:
    """``--models pararnn-gru,pararnn-gru+newton``: two leaderboard rows whose fits differ only in
    ``time_parallel``; with the same epochs (a budget they do not reach) the Newton fit ends at the sequential
    fit's parameters. ``all`` names the families alone."""
    from dsr import runstore
    from dsr.bench.runner import model_names, run_bench
    from tests.conftest import InProcess, read_params

    tiny = dict(epochs=2, batches_per_epoch=3, batch_size=4, sequence_length=20, eval_every=1, eval_steps=400, ensemble=1,
                dtype="float64", model_options={"hidden": 4})
    folder = run_bench(lorenz_store, None, "pararnn-gru,pararnn-gru+newton", 1, 30.0, out=tmp_path / "b", lyapunov_steps=100,
                       extra=tiny, executor=InProcess())
    ds = leaderboard.read(folder)
    assert list(ds["model"].values) == ["pararnn-gru", "pararnn-gru+newton"] and set(ds["status"].values) == {"finished"}
    runs = [folder / str(run) for run in ds["run"].values]
    configs = [runstore.read_attrs(run)["config"] for run in runs]
    assert [c["time_parallel"] for c in configs] == ["off", "newton"]
    assert {k: v for k, v in configs[0].items() if k != "time_parallel"} == {k: v for k, v in configs[1].items() if k != "time_parallel"}
    sequential, newton = (read_params(run) for run in runs)
    for name in sequential.data_vars:
        assert abs(sequential[name].values - newton[name].values).max() < 1e-10, name
    assert not any(name.endswith("+newton") for name in model_names("all"))
