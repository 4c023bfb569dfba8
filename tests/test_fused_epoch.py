"""Whole epochs as compiled calls (dsr.training.fused_epoch) against the per-batch reference loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import dsr
from dsr import runstore
from dsr.data import TimeSeries
from dsr.fitting import build_model
from dsr.models import LatentModel, make_model
from dsr.simulate import simulate
from dsr.training.config import FitConfig
from dsr.training.fused_epoch import fused_epoch_unsupported
from dsr.training.trainer import Trainer
from tests.conftest import TINY, assert_one_line_error

SMALL = {"batches_per_epoch": 7, "batch_size": 5, "sequence_length": 30, "dtype": "float64", "hidden": 10, "ensemble": 2,
         "agtf_interval": 2}


@pytest.fixture(scope="module")
def series() -> tuple[TimeSeries, TimeSeries]:
    ds = simulate("lorenz63", steps=3000, seed=1, standardize=True)
    return TimeSeries(values=ds["x"].values.astype(np.float64)[None], variables=("x", "y", "z"), dt=0.01).split(0.2)


@pytest.fixture(scope="module")
def series_with_inputs(series) -> tuple[TimeSeries, TimeSeries]:
    """The series with two external inputs (a slow sine and a square wave)."""
    whole = series[0].values.shape[1] + series[1].values.shape[1]
    time = np.arange(whole) * 0.01
    inputs = np.stack([np.sin(0.7 * time), np.sign(np.sin(2.3 * time))], axis=-1)[None]
    values = np.concatenate([series[0].values, series[1].values], axis=1)
    return TimeSeries(values=values, variables=("x", "y", "z"), dt=0.01, inputs=inputs, input_names=("u", "v")).split(0.2)


def _trained(
    series, tmp_path: Path, compiled: bool, epochs: int, model_options: dict | None = None,
    prepare: Callable[[LatentModel], None] | None = None, **options,
) -> tuple[Trainer, dict]:
    """Trainer after ``epochs`` epochs, compiled or batch by batch; ``model_options``: make_model's options that
    FitConfig does not have (the PLRNN's mean-centring, whose Uᵀ is a constant; the affine read-out's bias);
    ``prepare`` changes the model's parameters before training."""
    train, test = series
    config = FitConfig(**(SMALL | options))
    torch.manual_seed(config.seed)
    model = build_model(config, train, torch.device("cpu"))
    if model_options:
        model = make_model(
            config.model, n_obs=3, latent=config.latent, seeds=model.seeds, dtype=torch.float64,
            observation=config.observation, **model_options,
        )
    if prepare is not None:
        with torch.no_grad():
            prepare(model)
    trainer = Trainer(model, train, test, config, tau=5 if config.forcing == "stf" else None)
    assert trainer.fused_epoch is not None
    if not compiled:
        trainer.fused_epoch = None  # the per-batch reference loop
    for _ in range(epochs):
        stats = trainer.train_epoch()
        trainer.epoch += 1
    return trainer, stats


@pytest.mark.parametrize(
    "options",
    [{}, {"forcing": "gtf", "alpha": 0.2, "alpha_end": 0.05}, {"forcing": "stf"}, {"noise": 0.1, "grad_clip": 0.5},
     {"model": "alrnn", "latent": 6, "relus": 2}, {"model": "shplrnn", "latent": 5, "partial_forcing": False},
     {"model": "plrnn", "latent": 4}, {"model": "plrnn", "latent": 4, "model_options": {"mean_centering": True}}],
    ids=["agtf", "gtf-annealed", "stf", "noise-clip", "alrnn-M>N", "shplrnn-full-forcing", "plrnn", "plrnn-centred"],
)
def test_compiled_epochs_equal_the_per_batch_loop(series, tmp_path: Path, options: dict) -> None:
    _assert_equal_training(series, tmp_path, options)


def _diagonal(model: LatentModel) -> None:
    """A nonzero diagonal of the PLRNN's W: masked out of its maths (V = W with the diagonal 0), pulled by L2."""
    model.W[:, 0, 0] = 0.5
    model.W[:, 1, 1] = -0.25


# Each forcing mode: aGTF (with observation noise and clipping), annealed GTF, STF.
FORCINGS = {"agtf": {"noise": 0.1, "grad_clip": 0.5}, "gtf": {"forcing": "gtf", "alpha": 0.2, "alpha_end": 0.05},
            "stf": {"forcing": "stf"}}


@pytest.mark.parametrize("forcing", FORCINGS)
@pytest.mark.parametrize(
    "options",
    [{"l2": 0.05}, {"model": "plrnn", "latent": 4, "l2": 0.05}, {"observation": "affine", "latent": 5},
     {"observation": "affine", "latent": 5, "l2": 0.05, "model_options": {"obs_bias": True, "hidden": 10}},
     {"observation": "affine", "model": "plrnn", "latent": 2},
     {"model": "dendplrnn", "bases": 4}, {"model": "dendplrnn", "latent": 5, "bases": 3, "l2": 0.05},
     {"model": "dendplrnn", "bases": 2, "observation": "affine", "latent": 4},
     {"model": "plrnn", "latent": 4, "l2": 0.05, "prepare": _diagonal}],
    ids=["l2", "plrnn-l2", "affine", "affine-bias-l2", "affine-M<N", "dendplrnn", "dendplrnn-M>N-l2", "dendplrnn-affine",
         "plrnn-nonzero-diagonal-l2"],
)
def test_compiled_epochs_equal_the_per_batch_loop_in_every_forcing_mode(series, tmp_path: Path, options: dict, forcing: str) -> None:
    _assert_equal_training(series, tmp_path, options | FORCINGS[forcing])


@pytest.mark.parametrize("forcing", FORCINGS)
@pytest.mark.parametrize("options", [{"l2": 0.05}, {"model": "alrnn", "latent": 5, "relus": 2}], ids=["shplrnn-l2", "alrnn"])
def test_compiled_epochs_with_external_inputs_equal_the_per_batch_loop(series_with_inputs, tmp_path: Path, options: dict, forcing: str) -> None:
    _assert_equal_training(series_with_inputs, tmp_path, options | FORCINGS[forcing])


def _assert_equal_training(series, tmp_path: Path, options: dict) -> None:
    """Three epochs compiled and batch by batch from the same seeds: the same parameters, RAdam state, α,
    random streams, losses and gradient norms, to float64 rounding."""
    compiled, compiled_stats = _trained(series, tmp_path, True, 3, **options)
    reference, reference_stats = _trained(series, tmp_path, False, 3, **options)
    for (name, mine), theirs in zip(compiled.model.named_parameters(), reference.model.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-9, atol=1e-12, msg=name)
        for key in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(compiled.optimizer.state[mine][key], reference.optimizer.state[theirs][key], rtol=1e-9, atol=1e-15)
    mine, theirs = compiled.forcing.state(), reference.forcing.state()
    np.testing.assert_allclose(mine.pop("alpha"), theirs.pop("alpha"), rtol=1e-9)
    assert mine == theirs
    assert compiled.sampler.state() == reference.sampler.state()
    for key in ("loss", "grad_norm"):
        np.testing.assert_allclose(compiled_stats[key], reference_stats[key], rtol=1e-9)


@pytest.mark.parametrize(
    ("options", "reason"),
    [({"model": "dendplrnn", "bases": 1}, "unused"), ({"kernel": "autograd"}, "fused kernel")],
)
def test_other_fits_keep_the_per_batch_loop(series, options: dict, reason: str) -> None:
    config = FitConfig(**(SMALL | options))
    model = build_model(config, series[0], torch.device("cpu"))
    kernel = "autograd" if config.kernel == "autograd" else "fused"
    assert reason in fused_epoch_unsupported(model, config, kernel)


@pytest.mark.parametrize(
    ("trained", "reason"),
    [(None, "does not say"), ((("A", ""), ("W", ""), (None, ""), (None, ""), (None, ""), (None, "")), "leaves out h")],
)
def test_a_kind_that_does_not_map_every_parameter_keeps_the_per_batch_loop(series, trained, reason: str) -> None:
    config = FitConfig(**(SMALL | {"model": "alrnn", "relus": 1}))
    model = build_model(config, series[0], torch.device("cpu"))
    model.spec = dataclasses.replace(model.spec, trained=trained)
    assert reason in fused_epoch_unsupported(model, config, "fused")


def test_a_compiled_epoch_that_diverges_rolls_back_and_fails_clearly(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    # RAdam's first steps are not rectified (plain lr · m̂): at lr = 1e12 every member's parameters explode.
    options = TINY | {"lr_start": 1e12, "lr_end": 1e12, "ensemble": 2}
    result = run_cli("fit", lorenz_store, "--out", tmp_path, "--name", "boom", "--quiet",
                     *(f"--{k.replace('_', '-')}={v}" for k, v in options.items()))
    assert_one_line_error(result, "diverged", "3 rollbacks", code=3)
    assert runstore.read_attrs(tmp_path / "boom.zarr")["status"] == "failed"


@pytest.mark.parametrize(
    "options", [{}, {"model": "dendplrnn", "bases": 3, "latent": 4, "observation": "affine", "l2": 0.05}], ids=["shplrnn", "dendplrnn-affine-l2"]
)
def test_a_resumed_compiled_fit_equals_an_uninterrupted_one(lorenz_store: Path, tmp_path: Path, series, options: dict) -> None:
    config = FitConfig(**(TINY | {"epochs": 4, "eval_every": 2, "ensemble": 2, "noise": 0.05} | options))
    assert fused_epoch_unsupported(build_model(config, series[0], torch.device("cpu")), config, "fused") is None
    whole = dsr.fit(lorenz_store, config, out=tmp_path, name="whole")

    def stop_after_epoch_2(info: dict) -> None:
        if info["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dsr.fit(lorenz_store, config, out=tmp_path, name="part", progress=stop_after_epoch_2)
    part = dsr.resume(tmp_path / "part.zarr")
    a, b = runstore.read_group(whole, "params/last"), runstore.read_group(part, "params/last")
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
