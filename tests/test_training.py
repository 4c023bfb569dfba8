"""Fitting: loss and forcing maths, ensembles, resume, Ctrl-C, divergence rollback, bad options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import dsr
from dsr import runstore
from dsr.models import make_model
from dsr.simulate import simulate
from dsr.training import step as step_module
from dsr.training import trainer as trainer_module
from dsr.training.config import FitConfig
from dsr.training.forcing import alpha_estimate, predictability_tau
from dsr.training.loss import forced_rollout
from tests.conftest import TINY, assert_one_line_error, interrupt_after, read_params



def _fit(store: Path, out: Path, name: str, **options) -> Path:
    return dsr.fit(store, FitConfig(**(TINY | options)), out=out, name=name)


# --- maths ------------------------------------------------------------------------------------------


def test_full_forcing_gives_one_step_predictions_from_the_data() -> None:
    model = make_model("alrnn", n_obs=3, latent=5, relus=2, seeds=[3], dtype=torch.float64)
    x = torch.randn(1, 4, 11, 3, dtype=torch.float64)
    predictions = forced_rollout(model, x, [torch.ones(1, dtype=torch.float64)] * 10)
    # With α = 1 the observed units are reset to the data after every step, the unobserved run on.
    z = model.initial_state(x[:, :, 0])
    for t in range(1, 11):
        z = model.step(z)
        torch.testing.assert_close(predictions[:, :, t - 1], model.observe(z))
        z = torch.cat((x[:, :, t], z[..., 3:]), dim=-1)


def test_zero_forcing_is_a_free_run() -> None:
    model = make_model("shplrnn", n_obs=3, latent=3, hidden=6, seeds=[1], dtype=torch.float64)
    x = torch.randn(1, 2, 9, 3, dtype=torch.float64)
    predictions = forced_rollout(model, x, [torch.zeros(1, dtype=torch.float64)] * 8)
    free = model.generate(9, x0=x[:, :, 0])
    torch.testing.assert_close(predictions, model.observe(free[:, :, 1:]))


def test_agtf_alpha_from_the_jacobian_bound() -> None:
    # A linear PLRNN with A = 2 I and W = 0 has J = 2 I everywhere: G = 2, α̂ = 1 − 1/G = 0.5.
    model = make_model("plrnn", n_obs=2, latent=2, seeds=[0, 1], dtype=torch.float64)
    with torch.no_grad():
        model.A.fill_(2.0)
        model.W.zero_()
    estimate = alpha_estimate(model, torch.randn(2, 3, 7, 2, dtype=torch.float64))
    torch.testing.assert_close(estimate, torch.tensor([0.5, 0.5], dtype=torch.float64))
    with torch.no_grad():
        model.A.fill_(0.5)  # contracting: no forcing needed
    assert alpha_estimate(model, torch.randn(2, 3, 7, 2, dtype=torch.float64)).tolist() == [0.0, 0.0]


def test_predictability_tau_is_about_the_lorenz_predictability_time() -> None:
    values = simulate("lorenz63", 20_000, seed=0)["x"].values.astype(float)[None]
    tau = predictability_tau(values)
    # Mikhaeil et al.: τ_pred = ln 2 / λ_max ≈ 46 steps at dt 0.01; BPTT_TF's estimator lands near it.
    assert 10 <= tau <= 80, tau


# --- the run store ----------------------------------------------------------------------------------


def test_fit_writes_a_complete_run_store(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    path = _fit(lorenz_store, tmp_path, "r", model="alrnn", latent=5, relus=2, ensemble=2)
    attrs = runstore.read_attrs(path)
    assert attrs["status"] == "finished" and attrs["dsr_store"] == "run"
    assert attrs["config"]["latent"] == 5 and attrs["config"]["ensemble"] == 2
    assert set(attrs["versions"]) >= {"dsr", "torch", "numpy", "python"}
    assert attrs["device"] == "cpu" and attrs["seed"] == 0 and len(attrs["data_hash"]) == 64
    assert runstore.list_groups(path, "params") == ["best", "last"]
    history = runstore.read_group(path, "history")
    assert history.sizes == {"epoch": 3, "member": 2} and history["evaluated"].values.all()
    best_epochs = read_params(path, "best").attrs["epoch"]
    d_stsp = history["d_stsp"].values
    for e in range(2):  # each member's best checkpoint is its epoch of lowest D_stsp
        assert best_epochs[e] == int(np.argmin(d_stsp[:, e])) + 1
    run = dsr.load_run(path)
    assert run.metrics.sizes == {"checkpoint": 2, "member": 2}
    assert run.trajectory["x"].dims == ("time", "variable") and run.trajectory.sizes["time"] >= 10_000
    generated = run.generate(50)
    assert generated.shape == (50, 3) and np.isfinite(generated).all()
    info = json.loads(run_cli("info", path, "--json").out)
    assert info["kind"] == "run" and info["status"] == "finished" and info["epochs_done"] == 3


def test_evaluate_command_stores_and_prints(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    path = _fit(lorenz_store, tmp_path, "r")
    result = run_cli("evaluate", path, "--steps", "300", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)["rows"]
    assert [r["checkpoint"] for r in rows] == ["best", "last"]
    assert all(r["d_stsp"] >= 0 and r["pe"] >= 0 for r in rows)
    assert runstore.read_group(path, "evaluations/steps-300").attrs["steps"] == 300


# --- reproducibility ----------------------------------------------------------------------------------


def test_same_seed_same_run(lorenz_store: Path, tmp_path: Path) -> None:
    a, b = (_fit(lorenz_store, tmp_path, name) for name in ("a", "b"))
    xr.testing.assert_identical(read_params(a), read_params(b))


def test_ensemble_equals_separate_fits(lorenz_store: Path, tmp_path: Path) -> None:
    ensemble = read_params(_fit(lorenz_store, tmp_path, "ens", seed=5, ensemble=2))
    for e, seed in enumerate((5, 6)):
        single = read_params(_fit(lorenz_store, tmp_path, f"s{seed}", seed=seed))
        for name in single.data_vars:
            np.testing.assert_allclose(ensemble[name].values[e], single[name].values[0], rtol=1e-9, atol=1e-12)


def test_resumed_fit_equals_uninterrupted(lorenz_store: Path, tmp_path: Path) -> None:
    config = FitConfig(**(TINY | {"epochs": 4, "forcing": "agtf", "noise": 0.05}))
    full = dsr.fit(lorenz_store, config, out=tmp_path, name="full")
    with pytest.raises(KeyboardInterrupt):
        dsr.fit(lorenz_store, config, out=tmp_path, name="cut", progress=interrupt_after(2))
    cut = tmp_path / "cut.zarr"
    assert runstore.read_attrs(cut)["status"] == "interrupted"
    assert read_params(cut).attrs["epoch"] == 2
    dsr.resume(cut)
    assert runstore.read_attrs(cut)["status"] == "finished"
    xr.testing.assert_identical(read_params(full).drop_attrs(), read_params(cut).drop_attrs())
    full_history, cut_history = (runstore.read_group(p, "history") for p in (full, cut))
    np.testing.assert_array_equal(full_history["loss"].values, cut_history["loss"].values)


def test_ctrl_c_saves_marks_interrupted_and_exits_130(lorenz_store: Path, tmp_path: Path, run_cli, monkeypatch) -> None:
    calls = {"n": 0}
    original = trainer_module.Trainer.train_epoch

    def train_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(trainer_module.Trainer, "train_epoch", train_then_interrupt)
    args = ["--epochs", "5", "--sequence-length", "20", "--out", tmp_path, "--name", "c", "--quiet"]
    result = run_cli("fit", lorenz_store, *args, "--config", _toml(tmp_path))
    assert result.code == 130 and "--resume" in result.err
    path = tmp_path / "c.zarr"
    assert runstore.read_attrs(path)["status"] == "interrupted"
    assert read_params(path).attrs["epoch"] == 2  # the last completed epoch was saved
    monkeypatch.undo()
    assert run_cli("fit", lorenz_store, "--resume", path, "--quiet").code == 0
    assert runstore.read_attrs(path)["status"] == "finished"


def _toml(tmp_path: Path) -> Path:
    path = tmp_path / "fit.toml"
    path.write_text("batches_per_epoch = 2\nbatch_size = 4\neval_every = 1\neval_steps = 300\nhidden = 8\n")
    return path


# --- divergence -------------------------------------------------------------------------------------------


def test_divergence_rolls_back_with_halved_learning_rate(lorenz_store: Path, tmp_path: Path, monkeypatch) -> None:
    original = step_module.member_losses
    calls = {"n": 0}

    def nan_once(*args, **kwargs):
        calls["n"] += 1
        loss = original(*args, **kwargs)
        return loss * np.nan if calls["n"] == 4 else loss  # first batch of epoch 2

    monkeypatch.setattr(step_module, "member_losses", nan_once)
    path = _fit(lorenz_store, tmp_path, "div", kernel="autograd")  # the per-batch loop (compiled epochs: test_fused_epoch)
    history = runstore.read_group(path, "history")
    assert history["rollbacks"].values.tolist() == [0, 1, 1]
    config = FitConfig(**TINY)
    expected_lr = config.lr_start * (config.lr_end / config.lr_start) ** 0.5 * 0.5
    assert history["lr"].values[1] == pytest.approx(expected_lr)
    assert runstore.read_attrs(path)["status"] == "finished"


def test_persistent_divergence_fails_with_a_clear_message(lorenz_store: Path, tmp_path: Path, run_cli, monkeypatch) -> None:
    original = step_module.member_losses
    monkeypatch.setattr(step_module, "member_losses", lambda *a, **k: original(*a, **k) * np.inf)
    result = run_cli("fit", lorenz_store, "--out", tmp_path, "--name", "bad", "--quiet", "--config", _toml(tmp_path), "--epochs", "2",
                     "--sequence-length", "20", "--kernel", "autograd")  # the per-batch loop, where member_losses is patched
    assert_one_line_error(result, "diverged", "3 rollbacks", code=3)  # a distinct code, so that scripts can retry
    assert runstore.read_attrs(tmp_path / "bad.zarr")["status"] == "failed"


# --- bad options --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--latent", "-3"], "latent"),
        (["--hidden", "0"], "hidden"),
        (["--model", "alrnn", "--latent", "3", "--relus", "5"], "relus (5) exceeds latent (3)"),
        (["--model", "alrnn", "--relus", "5"], "relus (5) exceeds latent (3)"),
        (["--model", "transformer"], "model"),  # lstm is a zoo family now (dsr.zoo)
        (["--alpha", "1.5"], "alpha"),
        (["--alpha", "-0.1"], "alpha"),
        (["--epochs", "0"], "epochs"),
        (["--ensemble", "0"], "ensemble"),
        (["--forcing", "tbptt"], "forcing"),
        (["--sequence-length", "5000"], "sequence length"),
        (["--device", "tpu"], "device"),
        (["--latent", "2"], "latent (2) is smaller than n_obs (3)"),
    ],
)
def test_bad_fit_options(lorenz_store: Path, tmp_path: Path, run_cli, args: list[str], fragment: str) -> None:
    assert_one_line_error(run_cli("fit", lorenz_store, "--out", tmp_path, "--name", "x", "--quiet", *args), fragment)
    assert not (tmp_path / "x.zarr").exists()


def test_auto_device_takes_the_gpu_only_where_it_pays(monkeypatch) -> None:
    from dsr.fitting import GPU_MIN_ENSEMBLE, resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(FitConfig()).type == "cpu"  # 4 tiny models: the CPU kernel is faster
    assert resolve_device(FitConfig(ensemble=GPU_MIN_ENSEMBLE)).type == "cuda"
    assert resolve_device(FitConfig(kernel="graph")).type == "cuda"
    assert resolve_device(FitConfig(device="cpu", ensemble=2 * GPU_MIN_ENSEMBLE)).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(FitConfig(ensemble=GPU_MIN_ENSEMBLE)).type == "cpu"


def test_bad_config_file(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    (tmp_path / "bad.toml").write_text("alpha = [1\n")
    assert_one_line_error(run_cli("fit", lorenz_store, "--config", tmp_path / "bad.toml"), "not valid TOML")
    (tmp_path / "unknown.toml").write_text("learning_rate = 0.1\n")
    assert_one_line_error(run_cli("fit", lorenz_store, "--config", tmp_path / "unknown.toml"), "learning_rate")
    assert_one_line_error(run_cli("fit", lorenz_store, "--config", tmp_path / "none.toml"), "does not exist")


def test_resume_needs_a_run_store(lorenz_store: Path, run_cli) -> None:
    assert_one_line_error(run_cli("fit", lorenz_store, "--resume", lorenz_store), "not a dsr run store")


def test_evaluate_needs_a_run_store(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    assert_one_line_error(run_cli("evaluate", lorenz_store), "not a dsr run store")
    assert_one_line_error(run_cli("evaluate", tmp_path / "missing.zarr"), "no such file")


def test_plot_and_app_bad_input(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    assert_one_line_error(run_cli("plot", lorenz_store, "-o", tmp_path / "f.pdf"), "not a dsr run store")
    assert_one_line_error(run_cli("app", tmp_path / "nothere"), "not a folder")


def test_evaluate_pe_is_the_metric_from_every_test_point_or_an_even_subsample() -> None:
    """evaluate's PE(k) equals metrics.prediction_error with the model as predictor; pe_starts subsamples it."""
    from dsr.analysis import metrics
    from dsr.data import TimeSeries
    from dsr.evaluation import evaluate, shared_tensor

    model = make_model("shplrnn", n_obs=2, latent=2, hidden=5, seeds=[0, 1], dtype=torch.float64)
    values = np.cumsum(np.random.default_rng(0).normal(size=(300, 2)), axis=0) / 10
    test = TimeSeries(values=values[None], dt=0.1, variables=("a", "b"))

    def predict(member: int):
        def run(x0: np.ndarray, n: int) -> np.ndarray:
            z = model.generate(n + 1, x0=shared_tensor(x0, model))
            return model.observe(z[:, :, 1:])[member].detach().numpy()
        return run

    expected = [metrics.prediction_error(values, predict(e), 7) for e in range(2)]
    np.testing.assert_allclose(evaluate(model, test, pe_steps=7)["pe"], expected, rtol=1e-12)
    sampled = evaluate(model, test, pe_steps=7, pe_starts=50)["pe"]
    assert np.all(np.abs(sampled - expected) < 0.5 * np.asarray(expected)) and not np.allclose(sampled, expected, rtol=1e-12)


def test_evaluate_compares_the_free_run_after_the_protocol_transient() -> None:
    """D_stsp compares the first n test points with n free-run steps after a quarter of n dropped, or
    (full_transient, the monitoring in training) after a quarter of the whole trial dropped."""
    from dsr.analysis import metrics
    from dsr.data import TimeSeries
    from dsr.evaluation import evaluate, free_run

    model = make_model("clipped-shplrnn", n_obs=2, latent=2, hidden=8, seeds=[3, 4], dtype=torch.float64)
    values = np.cumsum(np.random.default_rng(1).normal(size=(800, 2)), axis=0) / 20
    test = TimeSeries(values=values[None], dt=0.1, variables=("a", "b"))
    for full, transient in ((False, 200 // 4), (True, 800 // 4)):
        generated = free_run(model, values[0], 200, transient)[0]
        expected = [metrics.state_space_divergence(values[:200], generated[e]) for e in range(2)]
        scores = evaluate(model, test, max_steps=200, pe_steps=5, full_transient=full)
        np.testing.assert_allclose(scores["d_stsp"], expected, rtol=1e-12)
    # The two transients give different runs, so the test above tells them apart.
    assert not np.allclose(free_run(model, values[0], 200, 50)[0], free_run(model, values[0], 200, 200)[0])


def test_checkpoint_metrics_evaluate_a_repeated_checkpoint_once(monkeypatch) -> None:
    """A checkpoint equal to an earlier one takes its scores without a second evaluation; a different one is evaluated."""
    import copy

    from dsr import evaluation
    from dsr.data import TimeSeries

    model = make_model("clipped-shplrnn", n_obs=2, latent=2, hidden=8, seeds=[3, 4], dtype=torch.float64)
    values = np.cumsum(np.random.default_rng(1).normal(size=(400, 2)), axis=0) / 20
    test = TimeSeries(values=values[None], dt=0.1, variables=("a", "b"))
    calls, evaluate = [], evaluation.evaluate
    monkeypatch.setattr(evaluation, "evaluate", lambda m, *args, **kw: calls.append(m) or evaluate(m, *args, **kw))
    other = copy.deepcopy(model)
    table = evaluation.checkpoint_metrics({"best": model, "last": other}, test, 200, 5)
    assert calls == [model]
    for name in table.data_vars:
        np.testing.assert_array_equal(table[name].sel(checkpoint="last"), table[name].sel(checkpoint="best"))
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    calls.clear()
    table = evaluation.checkpoint_metrics({"best": model, "last": other}, test, 200, 5)
    assert calls == [model, other] and not np.array_equal(table["d_stsp"].sel(checkpoint="last"), table["d_stsp"].sel(checkpoint="best"))


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_spectral_norms_equal_the_largest_singular_value(m: int) -> None:
    from dsr.training.forcing import spectral_norms

    gen = torch.Generator().manual_seed(m)
    random = torch.randn(500, m, m, dtype=torch.float64, generator=gen) * torch.rand(500, 1, 1, dtype=torch.float64, generator=gen) * 10
    eye = torch.eye(m, dtype=torch.float64)
    rank_one = torch.outer(torch.arange(1.0, m + 1, dtype=torch.float64), torch.ones(m, dtype=torch.float64))
    special = torch.stack([eye, 0.5 * eye, torch.zeros(m, m, dtype=torch.float64), rank_one, -eye + 1e-9 * rank_one])
    matrices = torch.cat([random, special])
    expected = torch.linalg.matrix_norm(matrices, ord=2)
    torch.testing.assert_close(spectral_norms(matrices), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("seconds", "written"), [(0.0, [1, 2, 3]), (1e9, [1, 3])])
def test_checkpoints_at_most_every_checkpoint_seconds(lorenz_store: Path, tmp_path: Path, monkeypatch, seconds: float, written: list) -> None:
    """Checkpoints go at evaluations no closer than checkpoint_seconds; the first and the last always."""
    epochs, original = [], runstore.write_checkpoint

    def recorded(store, groups, epoch):  # noqa: ANN001, ANN202 - runstore.write_checkpoint's signature
        epochs.append(epoch)
        return original(store, groups, epoch=epoch)

    monkeypatch.setattr(runstore, "write_checkpoint", recorded)
    _fit(lorenz_store, tmp_path, "spaced", checkpoint_seconds=seconds)
    assert epochs == written


def test_gradient_clipping_skips_parameters_the_loss_does_not_use(lorenz_store: Path, tmp_path: Path) -> None:
    """A dendPLRNN with one basis leaves its α out of the map (W absorbs the scale): clipping must not touch α."""
    config = FitConfig(**(TINY | {"model": "dendplrnn", "bases": 1, "grad_clip": 0.5, "kernel": "autograd"}))
    path = dsr.fit(lorenz_store, config, out=tmp_path, name="one-basis")
    params = read_params(path)
    assert np.all(np.isfinite(params["W"].values)) and runstore.read_attrs(path)["status"] == "finished"
