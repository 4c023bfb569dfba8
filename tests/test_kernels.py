"""The fused training kernel: same losses and gradients as the autograd reference, same fits, fallbacks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import dsr
from dsr import runstore
from dsr.errors import DsrError
from dsr.models import PLRNN, LatentModel, ModelConfig, make_model
from dsr.simulate import simulate
from dsr.training.config import FitConfig
from dsr.training import fused
from dsr.training.paths import resolve_kernel
from dsr.training.loss import member_losses
from dsr.training.state import optimizer_from_dataset, optimizer_to_dataset
from dsr.training.step import make_optimizer, optimizer_state_for
from tests.conftest import TINY, assert_one_line_error

E, S, STEPS, N, M, K = 2, 3, 7, 2, 4, 2
KINDS = {  # name -> make_model options
    "clipped-shplrnn": {"kind": "clipped-shplrnn", "hidden": 5},
    "shplrnn": {"kind": "shplrnn", "hidden": 5},
    "alrnn": {"kind": "alrnn", "relus": 2},
    "plrnn": {"kind": "plrnn"},
    "mcplrnn": {"kind": "plrnn", "mean_centering": True},
    "dendplrnn": {"kind": "dendplrnn", "bases": 2},
}


def _alphas(mode: str, gen: torch.Generator) -> list[torch.Tensor | float]:
    if mode == "gtf":  # one α for all members and steps (constant or annealed per epoch)
        return [torch.full((E,), 0.3, dtype=torch.float64)] * STEPS
    if mode == "agtf":  # one α per member; here also a new one every step, the most general case
        return [torch.rand(E, generator=gen, dtype=torch.float64) for _ in range(STEPS)]
    return [1.0 if t % 3 == 0 else 0.0 for t in range(1, STEPS + 1)]  # stf: identity forcing every 3rd step


def _random_model(options: dict, inputs: int, observation: str = "identity", latent: int = M, **extra) -> LatentModel:
    options = dict(options)
    model = make_model(
        options.pop("kind"), n_obs=N, latent=latent, inputs=inputs, observation=observation, seeds=[3, 4],
        dtype=torch.float64, data_range=(-2.0, 2.0), **options, **extra,
    )
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():  # random parameters, away from the initialisation's zeros and symmetries
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def _loss_and_grads(model: LatentModel, kernel: str, x, alphas, s, partial) -> tuple[torch.Tensor, dict]:
    """Losses and gradients by ``kernel``: a training path, or "cuda" for the CUDA kernels (simulated on a CPU model)."""
    model.zero_grad(set_to_none=True)
    if kernel == "cuda":
        loss = fused.cuda_member_losses(model, x, alphas, s, partial)
    else:
        loss = member_losses(model, x, alphas, s, partial, kernel=kernel)
    # Unequal member weights check that each member's gradient is scaled by its own incoming gradient.
    (loss * torch.tensor([1.0, 0.5], dtype=loss.dtype)).sum().backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def _assert_same(model: LatentModel, x, alphas, s, partial, rtol: float = 1e-10, kernel: str = "fused") -> None:
    loss_ref, grads_ref = _loss_and_grads(model, "autograd", x, alphas, s, partial)
    loss, grads = _loss_and_grads(model, kernel, x, alphas, s, partial)
    assert loss.dtype == loss_ref.dtype
    assert torch.all((loss - loss_ref).abs() <= rtol * loss_ref.abs()), (loss, loss_ref)
    assert grads.keys() == grads_ref.keys()
    for name, ref in grads_ref.items():
        assert grads[name].dtype == ref.dtype
        error = (grads[name] - ref).abs().max().item()
        assert error <= rtol * max(ref.abs().max().item(), 1e-300), (name, error, ref.abs().max().item())


def _data(inputs: int, seed: int = 0, windows: int = S) -> tuple[torch.Tensor, torch.Tensor | None, torch.Generator]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(E, windows, STEPS + 1, N, generator=gen, dtype=torch.float64)
    s = torch.randn(E, windows, STEPS + 1, inputs, generator=gen, dtype=torch.float64) if inputs else None
    return x, s, gen


@pytest.mark.parametrize("inputs", [0, K])
@pytest.mark.parametrize("partial", [True, False])
@pytest.mark.parametrize("mode", ["gtf", "agtf", "stf"])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_equals_autograd(kind: str, mode: str, partial: bool, inputs: int) -> None:
    x, s, gen = _data(inputs)
    _assert_same(_random_model(KINDS[kind], inputs), x, _alphas(mode, gen), s, partial)


CUDA_CASES = [  # (kind, forcing, partial, inputs, observation options): each kind, mode and option at least once
    ("clipped-shplrnn", "gtf", True, 0, {}),
    ("shplrnn", "agtf", False, K, {"observation": "affine", "obs_bias": True}),
    ("alrnn", "stf", True, K, {}),
    ("plrnn", "agtf", True, 0, {"observation": "affine"}),
    ("mcplrnn", "gtf", False, K, {}),
    ("dendplrnn", "stf", True, K, {"observation": "affine", "obs_bias": True}),
]


def check_cuda_kernels_against_autograd() -> None:
    """The CUDA kernels' losses and gradients equal autograd's, run under Numba's CUDA simulator on a CPU.

    The simulator runs every GPU thread as a Python thread (about a second per window and step here),
    so the cases are few and short; ``CUDA_CASES`` covers every kind, forcing mode and option.
    """
    for kind, mode, partial, inputs, options in CUDA_CASES:
        x, s, gen = _data(inputs, seed=2, windows=2)
        model = _random_model(KINDS[kind], inputs, latent=M, **options)
        steps = 4  # 3 steps, so that STF's forcing every 3rd step happens once
        alphas = _alphas(mode, gen)[: steps - 1]
        _assert_same(model, x[:, :, :steps], alphas, None if s is None else s[:, :, :steps], partial, kernel="cuda")


def compile_cuda_kernels_to_ptx() -> None:
    """Compile each CUDA kernel for the argument types ``CudaLoss`` passes, float32 and float64, to PTX.

    No GPU is needed (NVVM from pip's nvidia-cuda-nvcc wheel); the launches are replaced by the compile.
    """
    import types as pytypes

    import numba
    import numba.cuda.dispatcher
    from numba import cuda

    from dsr.training import fused_cuda

    # Device functions ask the current device for its compute capability; there is none here.
    numba.cuda.dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(9, 0))

    def compile_instead(kernel, blocks, shared, *args) -> None:  # noqa: ANN001
        argtypes = [numba.typeof(a.detach().numpy()) if isinstance(a, torch.Tensor) else numba.typeof(a) for a in args]
        cuda.compile_ptx(kernel.py_func, numba.types.void(*argtypes), cc=(9, 0))

    fused_cuda._launch = compile_instead
    for dtype in (torch.float32, torch.float64):
        for kind, mode, partial, inputs, options in CUDA_CASES[:2]:  # dense and repeat maps, both read-outs, inputs
            x, s, gen = _data(inputs, seed=2, windows=2)
            model = _random_model(KINDS[kind], inputs, latent=M, **options).to(dtype)
            alphas = [a if isinstance(a, float) else a.to(dtype) for a in _alphas(mode, gen)]
            s = None if s is None else s.to(dtype)
            fused.cuda_member_losses(model, x.to(dtype), alphas, s, partial).sum().backward()


def _nvvm_home() -> str | None:
    """The CUDA_HOME that holds pip's NVVM (nvidia-cuda-nvcc-cu12), or None."""
    spec = importlib.util.find_spec("nvidia.cuda_nvcc") if importlib.util.find_spec("nvidia") else None
    return None if spec is None else list(spec.submodule_search_locations)[0]


@pytest.mark.skipif(_nvvm_home() is None, reason="needs NVVM: pip install nvidia-cuda-nvcc-cu12")
def test_cuda_kernels_compile_to_ptx() -> None:
    """Numba's CUDA typing and NVVM on the kernels, where no GPU is (the simulator runs them untyped)."""
    code = "from tests.test_kernels import compile_cuda_kernels_to_ptx as f; f()"
    env = {**os.environ, "CUDA_HOME": _nvvm_home()}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr[-3000:]


def test_cuda_kernels_equal_autograd_under_the_cuda_simulator() -> None:
    """The CUDA kernels' logic, checked where no GPU is (the GPU run itself: tests/test_graph_gpu.py)."""
    code = "from tests.test_kernels import check_cuda_kernels_against_autograd as f; f()"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize(
    "observation, latent, extra",
    [("identity", N, {}), ("affine", M, {}), ("affine", M, {"obs_bias": True})],
    ids=["identity-M=N", "affine", "affine-bias"],
)
@pytest.mark.parametrize("kind", KINDS)
def test_fused_equals_autograd_for_each_observation_model(kind: str, observation: str, latent: int, extra: dict) -> None:
    x, s, gen = _data(K, seed=1)
    model = _random_model(KINDS[kind], K, observation, latent, **extra)
    _assert_same(model, x, _alphas("agtf", gen), s, partial=False)


@pytest.mark.parametrize("windows", [8, 19, 33])
@pytest.mark.parametrize("kind", ["clipped-shplrnn", "alrnn"])
def test_fused_equals_autograd_over_several_chunks_of_windows(kind: str, windows: int) -> None:
    """The kernel packs 8 (float64) or 16 (float32) windows per chunk and pads the last one."""
    x, s, gen = _data(K, seed=2, windows=windows)
    _assert_same(_random_model(KINDS[kind], K, "affine"), x, _alphas("agtf", gen), s, partial=True)


@pytest.mark.parametrize("windows", [S, 19])
def test_fused_float32_matches_autograd_and_keeps_the_dtype(windows: int) -> None:
    """In float32 the kernel computes in float32 (16 windows per instruction), as torch does."""
    x, _, gen = _data(0, windows=windows)
    model = _random_model(KINDS["clipped-shplrnn"], 0).float()
    alphas = [a.float() for a in _alphas("agtf", gen)]
    _assert_same(model, x.float(), alphas, None, True, rtol=2e-5)


def test_results_do_not_depend_on_the_number_of_threads() -> None:
    x, s, gen = _data(K)
    model, alphas = _random_model(KINDS["alrnn"], K), _alphas("agtf", gen)
    previous = fused.threads()
    try:
        results = []
        for n in (1, 3):
            fused.set_threads(n)
            results.append(_loss_and_grads(model, "fused", x, alphas, s, True))
    finally:
        fused.set_threads(previous)
    assert torch.equal(results[0][0], results[1][0])
    for name, grad in results[0][1].items():
        assert torch.equal(grad, results[1][1][name]), name


def test_auto_takes_the_fused_kernel_on_cpu_and_falls_back_elsewhere() -> None:
    model = make_model("alrnn", n_obs=2, latent=4, relus=2, seeds=[0])
    assert resolve_kernel(model, "auto") == "fused"
    assert resolve_kernel(model, "autograd") == "autograd"
    on_meta = make_model("alrnn", n_obs=2, latent=4, relus=2, seeds=[0], device="meta")
    assert resolve_kernel(on_meta, "auto") == "autograd"
    with pytest.raises(DsrError, match="run on the CPU and on CUDA GPUs"):
        resolve_kernel(on_meta, "fused")

    class Unknown(PLRNN):
        kind = "unknown"

    config = ModelConfig(kind="unknown", n_obs=2, latent=2)
    unknown = Unknown(config, {"A": torch.zeros(1, 2), "W": torch.zeros(1, 2, 2), "h": torch.zeros(1, 2)}, [0])
    assert resolve_kernel(unknown, "auto") == "autograd"
    with pytest.raises(DsrError, match="no fused kernel for unknown"):
        resolve_kernel(unknown, "fused")


def test_auto_on_a_gpu_takes_the_kernels_for_small_ensembles_and_the_graph_for_large(monkeypatch) -> None:
    from dsr.training import paths

    monkeypatch.setattr(paths, "graph_unsupported", lambda model: None)  # as for a model on a GPU
    monkeypatch.setattr(paths, "fused_unsupported", lambda model: None)
    small = make_model("alrnn", n_obs=2, latent=4, relus=2, ensemble=paths.GRAPH_MIN_ENSEMBLE - 1)
    large = make_model("alrnn", n_obs=2, latent=4, relus=2, ensemble=paths.GRAPH_MIN_ENSEMBLE)
    assert resolve_kernel(small, "auto") == "fused" and resolve_kernel(large, "auto") == "graph"
    monkeypatch.setattr(paths, "graph_unsupported", lambda model: "affine")
    assert resolve_kernel(large, "auto") == "fused"


def test_the_graph_path_needs_a_gpu() -> None:
    model = make_model("alrnn", n_obs=2, latent=4, relus=2, seeds=[0])
    with pytest.raises(DsrError, match="CUDA graphs need a GPU, and the model is on cpu"):
        resolve_kernel(model, "graph")
    with pytest.raises(ValidationError, match="CUDA-graph path needs a GPU"):
        FitConfig(kernel="graph", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where no GPU is present")
def test_graph_kernel_without_a_gpu_is_a_one_line_error(lorenz_store: Path, tmp_path: Path, run_cli) -> None:
    result = run_cli("fit", lorenz_store, "--kernel", "graph", "--out", tmp_path, "--name", "g", "--quiet")
    assert_one_line_error(result, "--kernel graph is not available: CUDA graphs need a GPU")
    assert not (tmp_path / "g.zarr").exists()


def test_an_optimizer_state_saved_on_the_graph_path_loads_on_the_cpu() -> None:
    """The graph path saves a capturable RAdam with a tensor rate; a CPU run must resume from it."""
    model = make_model("alrnn", n_obs=2, latent=4, relus=2, seeds=[0], dtype=torch.float64)
    optimizer = make_optimizer(model, 1e-3, "autograd")
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    saved = optimizer.state_dict()
    saved["param_groups"][0] |= {"capturable": True, "lr": torch.tensor(5e-4, dtype=torch.float64)}
    stored = optimizer_from_dataset(optimizer_to_dataset(saved))
    assert stored["param_groups"][0]["lr"] == 5e-4
    optimizer.load_state_dict(optimizer_state_for(stored, model, "autograd"))
    group = optimizer.param_groups[0]
    assert group["capturable"] is False and group["lr"] == 5e-4
    optimizer.step()  # a capturable group would refuse parameters on the CPU
    for name in ("exp_avg", "exp_avg_sq"):
        state = optimizer.state[next(model.parameters())][name]
        assert torch.isfinite(state).all() and state.abs().sum() > 0


def test_fused_fit_equals_autograd_fit(lorenz_store: Path, tmp_path: Path) -> None:
    params, seen = {}, []
    for kernel in ("fused", "autograd"):
        config = FitConfig(**(TINY | {"kernel": kernel, "noise": 0.05, "ensemble": 2}))
        path = dsr.fit(lorenz_store, config, out=tmp_path, name=kernel, progress=lambda info: seen.append(info["kernel"]))
        assert runstore.read_attrs(path)["kernel"] == kernel
        params[kernel] = runstore.read_group(path, "params/last")
    assert seen == ["fused"] * 3 + ["autograd"] * 3
    for name in params["autograd"].data_vars:
        np.testing.assert_allclose(params["fused"][name].values, params["autograd"][name].values, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("kind", "options"),
    [("clipped-shplrnn", {"latent": 3, "hidden": 7}), ("shplrnn", {"latent": 2, "hidden": 5}), ("alrnn", {"latent": 6, "relus": 2}),
     ("plrnn", {"latent": 3}), ("plrnn", {"latent": 4, "mean_centering": True}), ("dendplrnn", {"latent": 3, "bases": 2})],
)
def test_agtf_estimate_of_the_kernel_equals_the_torch_one(kind: str, options: dict) -> None:
    """α̂ from the kernel's log-norms equals α̂ from torch's Jacobians and spectral norms (closed form for M ≤ 3;
    Lanczos with M ≤ LANCZOS_STEPS steps, whose Krylov space is the whole space, above)."""
    from dsr.training.forcing import alpha_estimate

    model = make_model(kind, n_obs=2, seeds=[0, 1], dtype=torch.float64, **options)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(1.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.randn(2, 4, 9, 2, generator=gen, dtype=torch.float64)
    expected = alpha_estimate(model, x, "autograd")
    assert torch.all(expected > 0.05)  # a bound above 1: the comparison is not of two clamped zeros
    torch.testing.assert_close(alpha_estimate(model, x, "fused"), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("latent", [20, 64])
def test_agtf_estimate_by_lanczos_within_the_stated_tolerance(kind: str, latent: int) -> None:
    """Above M = LANCZOS_STEPS the kernel's norms are Lanczos estimates: α̂ within 1e-2 of the exact one
    (kernel_plrnn.LANCZOS_STEPS states it), and never above it (Ritz values are lower bounds)."""
    from dsr.training.forcing import alpha_estimate, spectral_norms
    from dsr.training.kernel_plrnn import LANCZOS_STEPS

    options = dict(KINDS[kind])
    model = make_model(options.pop("kind"), n_obs=latent, latent=latent, seeds=[0, 1], dtype=torch.float64, **options)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():  # crowded singular values: the hard case for a Krylov method
            p.add_(1.5 / latent**0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        x = torch.cumsum(0.3 * torch.randn(2, 4, 31, latent, generator=gen, dtype=torch.float64), dim=2)
        expected = alpha_estimate(model, x[:, :, 1:], "autograd")
        assert torch.any(expected > 0.05)  # not only clamped zeros
        estimate = alpha_estimate(model, x[:, :, 1:], "fused")
        torch.testing.assert_close(estimate, expected, rtol=0.0, atol=1e-2)
        zhat = model.forcing_signal(x[:, :, 1:], partial=False)
        exact = torch.log(spectral_norms(model.jacobian(zhat))).mean(-1)
        assert LANCZOS_STEPS < latent
        assert torch.all(fused.fused_log_norms(model, zhat) <= exact + 1e-12)


@pytest.mark.parametrize("latent", [20, 64])
def test_agtf_bound_on_every_second_state_within_the_stated_tolerance(latent: int) -> None:
    """Above M = LANCZOS_STEPS the bound averages every 2nd state (kernel_plrnn.bound_stride): α̂ within 1e-2 of
    the exact bound over all states: random models, the states windows of a Lorenz-96 trajectory (the bound is
    evaluated at data-inferred states, which lie on the data's trajectory)."""
    from dsr.training.forcing import alpha_estimate, spectral_norms
    from dsr.training.kernel_plrnn import BOUND_STRIDE, bound_stride

    assert bound_stride(latent) == BOUND_STRIDE == 2 and bound_stride(8) == 1
    model = make_model("clipped-shplrnn", n_obs=latent, latent=latent, hidden=50, seeds=[0, 1, 2], dtype=torch.float64)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.5 / latent**0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        series = torch.as_tensor(simulate("lorenz96", steps=2_000, seed=1, params={"N": latent}, standardize=True)["x"].values, dtype=torch.float64)
        starts = torch.randint(0, len(series) - 73, (3, 16), generator=gen)
        x = series[starts[..., None] + torch.arange(73)]
        zhat = model.forcing_signal(x[:, :, 1:], partial=False)
        all_states = torch.log(spectral_norms(model.jacobian(zhat))).mean(-1)
        exact = (1.0 - 1.0 / torch.exp(all_states).amax(-1)).clamp_min(0.0)
        assert torch.all(exact > 0.05)
        torch.testing.assert_close(alpha_estimate(model, x[:, :, 1:], "autograd"), exact, rtol=0.0, atol=1e-2)
        torch.testing.assert_close(alpha_estimate(model, x[:, :, 1:], "fused"), exact, rtol=0.0, atol=1e-2)
