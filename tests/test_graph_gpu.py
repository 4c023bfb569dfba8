"""The GPU training paths (CUDA kernels, CUDA graph): same fits as the autograd reference on the CPU, resume, rollback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import dsr
from dsr import runstore
from dsr.training.config import FitConfig
from dsr.training.windows import WindowSampler
from tests.conftest import TINY, interrupt_after, read_params

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CASES = {  # every kind, every forcing mode, noise, L2, clipping, partial and full forcing
    "clipped-agtf": {"model": "clipped-shplrnn", "forcing": "agtf", "noise": 0.05},
    "shplrnn-annealed-gtf-l2": {"model": "shplrnn", "forcing": "gtf", "alpha": 0.3, "alpha_end": 0.05, "l2": 1e-3},
    "alrnn-stf": {"model": "alrnn", "latent": 6, "relus": 2, "forcing": "stf", "tau": 4, "noise": 0.05},
    "alrnn-agtf-full-forcing": {"model": "alrnn", "latent": 6, "relus": 2, "partial_forcing": False, "grad_clip": 0.5},
    "plrnn-gtf": {"model": "plrnn", "latent": 5, "forcing": "gtf"},
    "dendplrnn-gtf": {"model": "dendplrnn", "bases": 3, "forcing": "gtf"},
}


def _fit(store: Path, out: Path, name: str, **options) -> tuple[Path, list[str]]:
    kernels: list[str] = []
    config = FitConfig(**(TINY | {"ensemble": 2} | options))
    path = dsr.fit(store, config, out=out, name=name, progress=lambda info: kernels.append(info["kernel"]))
    return path, kernels


def _assert_same_params(a: Path, b: Path, rtol: float, atol: float) -> None:
    pa, pb = read_params(a), read_params(b)
    for name in pa.data_vars:
        np.testing.assert_allclose(pa[name].values, pb[name].values, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("kernel", ["fused", "graph"])
@pytest.mark.parametrize("case", CASES)
def test_gpu_fit_equals_the_autograd_fit_on_the_cpu(lorenz_store: Path, tmp_path: Path, case: str, kernel: str) -> None:
    options = CASES[case]
    gpu, kernels = _fit(lorenz_store, tmp_path, "gpu", device="cuda", kernel=kernel, **options)
    assert set(kernels) == {kernel} and runstore.read_attrs(gpu)["kernel"] == kernel
    cpu, _ = _fit(lorenz_store, tmp_path, "cpu", device="cpu", kernel="autograd", **options)
    _assert_same_params(gpu, cpu, rtol=1e-7, atol=1e-9)


def test_auto_takes_a_fast_path_and_the_graph_equals_eager_autograd_on_the_gpu(lorenz_store: Path, tmp_path: Path) -> None:
    _, kernels = _fit(lorenz_store, tmp_path, "auto", device="cuda")
    assert set(kernels) <= {"graph", "fused"}
    _, kernels = _fit(lorenz_store, tmp_path, "affine", device="cuda", observation="affine", latent=4)
    assert set(kernels) == {"fused"}  # the graph cannot record the pseudo-inverse
    graph, _ = _fit(lorenz_store, tmp_path, "graph", device="cuda", kernel="graph")
    eager, _ = _fit(lorenz_store, tmp_path, "eager", device="cuda", kernel="autograd")
    # Float64 roundoff: the graph's capturable RAdam forms its step from device tensors (up to 6.5e-8
    # relative, 3e-11 absolute on parameters near 1e-4, seen on an H100): the tolerance of the CPU check.
    _assert_same_params(graph, eager, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kernel", ["fused", "graph"])
def test_float32_gpu_fit_equals_the_cpu_fit_to_float32_tolerance(lorenz_store: Path, tmp_path: Path, kernel: str) -> None:
    options = {"dtype": "float32", "noise": 0.05}
    gpu, _ = _fit(lorenz_store, tmp_path, "gpu", device="cuda", kernel=kernel, **options)
    cpu, _ = _fit(lorenz_store, tmp_path, "cpu", device="cpu", kernel="autograd", **options)
    _assert_same_params(gpu, cpu, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel", ["fused", "graph"])
def test_resumed_gpu_fit_equals_uninterrupted(lorenz_store: Path, tmp_path: Path, kernel: str) -> None:
    config = FitConfig(**(TINY | {"epochs": 4, "noise": 0.05, "device": "cuda", "kernel": kernel}))
    full = dsr.fit(lorenz_store, config, out=tmp_path, name="full")
    with pytest.raises(KeyboardInterrupt):
        dsr.fit(lorenz_store, config, out=tmp_path, name="cut", progress=interrupt_after(2))
    cut = tmp_path / "cut.zarr"
    dsr.resume(cut)
    assert runstore.read_attrs(cut)["status"] == "finished"
    _assert_same_params(full, cut, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernel", ["fused", "graph"])
def test_gpu_fit_rolls_back_a_divergence(lorenz_store: Path, tmp_path: Path, monkeypatch, kernel: str) -> None:
    original = WindowSampler.sample
    calls = {"n": 0}

    def nan_once(self):
        calls["n"] += 1
        x, s = original(self)
        return (x * np.nan if calls["n"] == 4 else x), s  # first batch of epoch 2

    monkeypatch.setattr(WindowSampler, "sample", nan_once)
    path, _ = _fit(lorenz_store, tmp_path, "div", device="cuda", kernel=kernel)  # the graph records again after it
    history = runstore.read_group(path, "history")
    assert history["rollbacks"].values.tolist() == [0, 1, 1]
    assert np.isfinite(history["loss"].values).all()
    assert runstore.read_attrs(path)["status"] == "finished"
