"""Tests of dsr.models: maths against the published equations and autograd, regions, I/O, ensembles, errors."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
import xarray as xr

from dsr.models import MODELS, SCHEMA_VERSION, LatentModel, from_dataset, interpolate, make_model
from tests.conftest import randomize

F64 = torch.float64
N, M, E, BATCH = 3, 6, 2, 5
SIZES = {
    "plrnn": {},
    "shplrnn": {"hidden": 7},
    "clipped-shplrnn": {"hidden": 7},
    "alrnn": {"relus": 2},
    "dendplrnn": {"bases": 4},
}
# Every kind, plus the mean-centred PLRNN.
VARIANTS = [(kind, {}) for kind in SIZES] + [("plrnn", {"mean_centering": True})]
VARIANT_IDS = [kind + ("-mc" if options else "") for kind, options in VARIANTS]


def build(kind: str, dtype: torch.dtype = F64, **kwargs) -> LatentModel:
    kwargs.setdefault("seeds", [3, 4])
    return make_model(kind, N, M, dtype=dtype, **SIZES[kind], **kwargs)



def states(*shape: int, seed: int = 1) -> torch.Tensor:
    return 1.5 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def mv(matrix: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.einsum("eij,ebj->ebi", matrix, v)


def reference_step(model: LatentModel, z: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
    """The published equations (Hess et al. ICML 2023; Brenner et al. NeurIPS 2024 and ICML 2022; Durstewitz 2017), written out independently of the package."""
    p = {name: value.detach() for name, value in model.parameter_tensors().items()}
    config = model.config
    a = p["A"][:, None, :]
    relu = torch.relu
    if config.kind in ("shplrnn", "clipped-shplrnn"):
        w2z = mv(p["W2"], z)
        hidden = relu(w2z + p["h2"][:, None, :])
        if config.kind == "clipped-shplrnn":
            hidden = hidden - relu(w2z)
        out = a * z + mv(p["W1"], hidden) + p["h1"][:, None, :]
    else:
        w = p["W"]
        if config.kind in ("plrnn", "dendplrnn"):  # off-diagonal W
            w = w - torch.diag_embed(torch.diagonal(w, dim1=-2, dim2=-1))
        if config.kind == "plrnn":
            phi = relu(z - z.mean(-1, keepdim=True)) if config.mean_centering else relu(z)
        elif config.kind == "alrnn":
            phi = z.clone()
            phi[..., M - config.relus :] = relu(z[..., M - config.relus :])
        else:
            alpha, thresholds = p["alpha"], p["H"]
            phi = sum(
                alpha[:, None, None, b] * relu(z - thresholds[:, None, :, b]) for b in range(config.bases)
            )
        out = a * z + mv(w, phi) + p["h"][:, None, :]
    return out if s is None else out + mv(p["C"], s)


@pytest.mark.parametrize(("kind", "options"), VARIANTS, ids=VARIANT_IDS)
def test_step_follows_the_published_equation(kind: str, options: dict) -> None:
    model = randomize(build(kind, inputs=2, **options))
    z, s = states(E, BATCH, M), states(E, BATCH, 2, seed=2)
    torch.testing.assert_close(model.step(z, s), reference_step(model, z, s), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kind", "options"), VARIANTS, ids=VARIANT_IDS)
def test_jacobian_matches_autograd(kind: str, options: dict) -> None:
    model = randomize(build(kind, **options), seed=5)
    z = states(E, BATCH, M, seed=6)
    full = torch.autograd.functional.jacobian(lambda v: model.step(v), z)  # (E, B, M, E, B, M)
    expected = torch.stack([torch.stack([full[e, b, :, e, b, :] for b in range(BATCH)]) for e in range(E)])
    torch.testing.assert_close(model.jacobian(z), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kind", "options"), VARIANTS, ids=VARIANT_IDS)
def test_affine_map_of_the_region_reproduces_the_step(kind: str, options: dict) -> None:
    model = randomize(build(kind, inputs=2, **options), seed=7)
    z, s = states(E, BATCH, M, seed=8), states(E, BATCH, 2, seed=9)
    pattern = model.pattern(z)
    assert pattern.dtype == torch.bool
    assert pattern.shape == (E, BATCH, model.pattern_size)
    matrix, offset = model.affine(pattern, s)
    torch.testing.assert_close(mv_batched(matrix, z) + offset, model.step(z, s), rtol=1e-12, atol=1e-12)
    # The region's matrix is the Jacobian there.
    torch.testing.assert_close(matrix, model.jacobian(z), rtol=0, atol=0)


def mv_batched(matrix: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ebij,ebj->ebi", matrix, z)


def test_patterns_name_the_published_regions() -> None:
    z = states(E, BATCH, M, seed=10)
    alrnn = randomize(build("alrnn"))
    assert torch.equal(alrnn.pattern(z), z[..., M - 2 :] > 0)
    plrnn = randomize(build("plrnn"))
    assert torch.equal(plrnn.pattern(z), z > 0)
    clipped = randomize(build("clipped-shplrnn"))
    w2z = mv(clipped.W2.detach(), z)
    assert torch.equal(clipped.pattern(z), torch.cat((w2z + clipped.h2.detach()[:, None] > 0, w2z > 0), -1))
    dend = randomize(build("dendplrnn"))
    expected = (z[..., None] > dend.H.detach()[:, None]).flatten(-2)  # index m * B + b
    assert torch.equal(dend.pattern(z), expected)


def test_jacobian_accepts_extra_batch_dims() -> None:
    model = randomize(build("shplrnn"))
    z = states(E, 4, 3, M, seed=11)
    assert model.jacobian(z).shape == (E, 4, 3, M, M)
    torch.testing.assert_close(model.jacobian(z)[:, 1], model.jacobian(z[:, 1]), rtol=0, atol=0)


ROUND_TRIP_CASES = [
    ("plrnn", {"mean_centering": True}),
    ("shplrnn", {"inputs": 2}),
    ("clipped-shplrnn", {"observation": "affine", "obs_bias": True}),
    ("alrnn", {"observation": "affine"}),
    ("dendplrnn", {"inputs": 1, "data_range": (-2.0, 3.0)}),
]


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize(("kind", "options"), ROUND_TRIP_CASES, ids=[k for k, _ in ROUND_TRIP_CASES])
def test_dataset_round_trip_is_exact(kind: str, options: dict, dtype: torch.dtype) -> None:
    model = build(kind, dtype=dtype, **options)
    ds = model.to_dataset()
    assert ds.attrs["model_kind"] == kind
    assert ds.attrs["model_schema_version"] == SCHEMA_VERSION
    assert ds["seed"].values.tolist() == [3, 4]
    assert all(ds[name].dims[0] == "member" for name in ds.data_vars)
    restored = from_dataset(ds)
    assert type(restored) is type(model) and restored.config == model.config and restored.seeds == model.seeds
    for name, value in model.parameter_tensors().items():
        other = restored.parameter_tensors()[name]
        assert other.dtype == dtype and torch.equal(other, value), name
    z = states(E, BATCH, M).to(dtype)
    s = states(E, BATCH, model.config.inputs).to(dtype) if model.config.inputs else None
    assert torch.equal(restored.step(z, s), model.step(z, s))


def test_dataset_names_dims_and_does_not_alias_parameters() -> None:
    model = build("shplrnn", inputs=2)
    ds = model.to_dataset()
    assert ds["W1"].dims == ("member", "latent", "hidden")
    assert ds["W2"].dims == ("member", "hidden", "latent_in")
    assert ds["C"].dims == ("member", "latent", "input")
    assert ds["L"].dims == ("member", "unobserved", "obs")
    before = ds["A"].values.copy()
    with torch.no_grad():
        model.A.add_(1.0)
    assert (ds["A"].values == before).all()


def test_dataset_round_trip_through_zarr(tmp_path) -> None:
    model = randomize(build("dendplrnn", dtype=torch.float32, observation="affine", obs_bias=True))
    path = tmp_path / "params.zarr"
    model.to_dataset().to_zarr(path, consolidated=False)
    restored = from_dataset(xr.open_zarr(path, consolidated=False).load())
    z = states(E, BATCH, M).float()
    assert torch.equal(restored.step(z), model.step(z))


def test_from_dataset_rejects_foreign_data() -> None:
    ds = build("alrnn").to_dataset()
    with pytest.raises(ValueError, match="model_schema_version"):
        from_dataset(ds.assign_attrs(model_schema_version=99))
    with pytest.raises(ValueError, match=r"missing \['W'\]"):
        from_dataset(ds.drop_vars("W"))
    with pytest.raises(ValueError, match="unknown model kind 'transformer'"):
        from_dataset(ds.assign_attrs(model_kind="transformer"))  # gru is a zoo family now (dsr.zoo)


@pytest.mark.parametrize("kind", list(SIZES))
def test_ensemble_member_equals_single_model_with_its_seed(kind: str) -> None:
    options = {"inputs": 2, "observation": "affine", "obs_bias": True}
    ensemble = build(kind, seeds=[11, 22, 33], data_range=(-1.0, 1.0), **options)
    single = build(kind, seeds=[22], data_range=(-1.0, 1.0), **options)
    assert ensemble.ensemble == 3 and ensemble.seeds == (11, 22, 33)
    for name, value in ensemble.parameter_tensors().items():
        assert torch.equal(value[1], single.parameter_tensors()[name][0]), name
    # Members are independent draws, not copies.
    assert not torch.equal(ensemble.A[0], ensemble.A[1])


def test_seed_sources() -> None:
    from_int = build("alrnn", seeds=7, ensemble=3)
    assert from_int.seeds == (7, 8, 9)
    a = build("alrnn", seeds=None, ensemble=3, generator=torch.Generator().manual_seed(5))
    b = build("alrnn", seeds=None, ensemble=3, generator=torch.Generator().manual_seed(5))
    assert a.seeds == b.seeds and torch.equal(a.W, b.W)
    c = build("alrnn", seeds=[a.seeds[2]])
    assert torch.equal(a.W[2], c.W[0])


def test_members_do_not_depend_on_dtype() -> None:
    low, high = build("clipped-shplrnn", dtype=torch.float32), build("clipped-shplrnn", dtype=F64)
    for name, value in low.parameter_tensors().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, high.parameter_tensors()[name].float()), name


def test_default_dtype_is_float32_and_float64_conversion_works() -> None:
    model = make_model("plrnn", N, M, seeds=[0])
    assert model.A.dtype == torch.float32
    model = model.to(F64)
    z = states(1, BATCH, M)
    assert model.step(z).dtype == F64 and model.jacobian(z).dtype == F64


def test_initialisations_follow_the_published_schemes() -> None:
    plrnn = build("plrnn")
    k = torch.diag_embed(plrnn.A.detach()) + plrnn.W.detach()  # Talathi–Vartak K = diag(A) + W
    torch.testing.assert_close(k, k.mT)
    torch.testing.assert_close(torch.linalg.eigvalsh(k)[:, -1], torch.ones(E, dtype=F64))
    assert (plrnn.A > 0).all() and (plrnn.A <= 1).all() and (plrnn.h == 0).all()
    sh, clipped = build("shplrnn"), build("clipped-shplrnn")
    assert (sh.h2 == 0).all() and (sh.h1 == 0).all()
    bound = 1 / 7**0.5
    assert (clipped.h2 != 0).all() and (clipped.h2.abs() <= bound).all() and (clipped.W1.abs() <= bound).all()
    assert (clipped.W2.abs() <= 1 / M**0.5).all()
    alrnn = make_model("alrnn", N, 40, relus=2, seeds=[0], dtype=F64)
    assert 0.008 < alrnn.W.std().item() < 0.012 and (alrnn.h == 0).all()
    dend = build("dendplrnn", data_range=(-2.0, 3.0))
    assert (dend.H >= -2).all() and (dend.H <= 3).all() and (dend.alpha.abs() <= 0.5).all()
    affine = build("alrnn", observation="affine", obs_bias=True)
    assert (affine.observation.b == 0).all() and affine.observation.B.shape == (E, N, M)


def test_plrnn_w_diagonal_gets_no_gradient() -> None:
    model = build("dendplrnn")
    model.step(states(E, BATCH, M)).square().sum().backward()
    assert (torch.diagonal(model.W.grad, dim1=-2, dim2=-1) == 0).all()
    assert model.W.grad.abs().sum() > 0


def test_external_inputs_add_c_times_s() -> None:
    model = randomize(build("alrnn", inputs=2))
    z, s = states(E, BATCH, M), states(E, BATCH, 2, seed=3)
    torch.testing.assert_close(model.step(z, s) - model.step(z, torch.zeros_like(s)), mv(model.C.detach(), s))
    with pytest.raises(ValueError, match="has 2 external inputs"):
        model.step(z)
    with pytest.raises(ValueError, match="has no external inputs"):
        build("alrnn").step(z, s)


def test_identity_observation_and_forcing() -> None:
    model = randomize(build("shplrnn"))
    z, x = states(E, BATCH, M), states(E, BATCH, N, seed=4)
    assert torch.equal(model.observe(z), z[..., :N])
    forced = model.force(z, x, 1.0)  # partial forcing: replace the first N units, keep the rest
    assert torch.equal(forced[..., :N], x) and torch.equal(forced[..., N:], z[..., N:])
    full = model.force(z, x, 1.0, partial=False)  # forcing signal [x; 0]
    assert torch.equal(full[..., N:], torch.zeros_like(z[..., N:]))
    mixed = model.force(z, x, 0.25)
    torch.testing.assert_close(mixed[..., :N], 0.75 * z[..., :N] + 0.25 * x)
    per_member = model.force(z, x, torch.tensor([0.0, 1.0], dtype=F64))
    assert torch.equal(per_member[0], z[0]) and torch.equal(per_member[1, ..., :N], x[1])
    start = model.initial_state(x)  # [x; L x]
    assert torch.equal(start[..., :N], x)
    torch.testing.assert_close(start[..., N:], mv(model.observation.L.detach(), x))


def test_affine_forcing_with_alpha_one_reproduces_the_data() -> None:
    model = randomize(build("clipped-shplrnn", observation="affine", obs_bias=True))
    z, x = states(E, BATCH, M), states(E, BATCH, N, seed=4)
    torch.testing.assert_close(model.observe(model.force(z, x, 1.0)), x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(model.observe(model.initial_state(x)), x, rtol=1e-10, atol=1e-10)
    # Forcing signals are data: no gradient flows into B through them.
    assert not model.forcing_signal(x).requires_grad
    observation = model.observation
    torch.testing.assert_close(model.observe(z), mv(observation.B.detach(), z) + observation.b.detach()[:, None])


def test_interpolate_leaves_units_beyond_the_signal_free() -> None:
    z, zhat = states(E, BATCH, M), states(E, BATCH, 2, seed=3)
    out = interpolate(z, zhat, 0.5)
    torch.testing.assert_close(out[..., :2], 0.5 * (z[..., :2] + zhat))
    assert torch.equal(out[..., 2:], z[..., 2:])


def test_generate_iterates_the_step() -> None:
    model = randomize(build("alrnn", inputs=1), seed=2)
    z0, s = 0.3 * states(E, BATCH, M), states(E, BATCH, 4, 1, seed=5)
    trajectory = model.generate(4, z0=z0, s=s)
    assert trajectory.shape == (E, BATCH, 4, M)
    assert torch.equal(trajectory[..., 0, :], z0)
    for t in range(1, 4):
        assert torch.equal(trajectory[..., t, :], model.step(trajectory[..., t - 1, :], s[..., t, :]))
    x0 = states(E, BATCH, N, seed=6)
    from_data = model.generate(2, x0=x0, s=s[..., :2, :])
    assert torch.equal(from_data[..., 0, :], model.initial_state(x0))
    with pytest.raises(ValueError, match="exactly one initial condition"):
        model.generate(3, z0=z0, x0=x0, s=s[..., :3, :])


BAD_ARGUMENTS = [
    (("lstm", 3, 6), {}, "unknown model kind 'lstm'; choose one of: plrnn, shplrnn, clipped-shplrnn, alrnn, dendplrnn"),
    (("plrnn", 0, 6), {}, "n_obs must be a positive integer"),
    (("plrnn", 3, -2), {}, "latent must be a positive integer"),
    (("plrnn", 5, 3), {}, r"latent \(3\) is smaller than n_obs \(5\)"),
    (("alrnn", 3, 6), {}, "alrnn needs relus"),
    (("alrnn", 3, 6), {"relus": 0}, "alrnn needs relus"),
    (("alrnn", 3, 6), {"relus": 7}, r"relus \(7\) exceeds latent \(6\)"),
    (("shplrnn", 3, 6), {"hidden": -1}, "hidden must be a positive integer"),
    (("shplrnn", 3, 6), {"hidden": 2.5}, "hidden must be a positive integer"),
    (("dendplrnn", 3, 6), {}, "dendplrnn needs bases"),
    (("plrnn", 3, 6), {"hidden": 4}, r"hidden \(.*\) is not used by plrnn"),
    (("alrnn", 3, 6), {"relus": 2, "mean_centering": True}, "mean_centering is not available for alrnn"),
    (("plrnn", 3, 6), {"inputs": -1}, "inputs must be a non-negative integer"),
    (("plrnn", 3, 6), {"observation": "linear"}, "unknown observation model 'linear'; choose one of: identity, affine"),
    (("plrnn", 3, 6), {"obs_bias": True}, "obs_bias applies only to the affine observation model"),
    (("plrnn", 3, 6), {"ensemble": 0}, "ensemble must be a positive integer"),
    (("plrnn", 3, 6), {"ensemble": 3, "seeds": [1, 2]}, "got 2 seeds for ensemble=3"),
    (("plrnn", 3, 6), {"seeds": [1], "generator": torch.Generator()}, "both seeds and generator given"),
    (("plrnn", 3, 6), {"seeds": [-1]}, "seed -1 is not an integer"),
    (("dendplrnn", 3, 6), {"bases": 2, "data_range": (1.0, 1.0)}, "data_range must be finite"),
    (("plrnn", 3, 6), {"dtype": torch.int64}, "dtype must be a floating-point dtype"),
]


@pytest.mark.parametrize(("args", "kwargs", "message"), BAD_ARGUMENTS, ids=[m[:30] for *_, m in BAD_ARGUMENTS])
def test_bad_arguments_raise_one_line_messages_with_a_fix(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        make_model(*args, **kwargs)
    text = str(error.value)
    assert "\n" not in text
    # "<problem>; <what to do>"
    assert re.search(r"; (pass|drop|choose|raise|use|build)\b", text), text


def test_registry_names() -> None:
    assert list(MODELS) == ["plrnn", "shplrnn", "clipped-shplrnn", "alrnn", "dendplrnn"]
    assert all(MODELS[kind].kind == kind for kind in MODELS)


@pytest.mark.parametrize(("kind", "options"), VARIANTS, ids=VARIANT_IDS)
def test_fast_free_run_through_the_numba_face_equals_generate(kind: str, options: dict) -> None:
    """Evaluation's free runs go through the Numba face; over a short horizon they equal torch's generate."""
    from dsr.evaluation import latent_run

    model = randomize(build(kind, seeds=[0, 1], **options), seed=4)
    z0 = states(2, M, seed=5)
    expected = model.generate(12, z0=z0)[:, 4:]
    assert torch.all(torch.isfinite(expected))
    torch.testing.assert_close(latent_run(model, z0, 8, transient=4), expected, rtol=1e-10, atol=1e-10)


def test_free_run_with_inputs_drives_the_torch_model() -> None:
    from dsr.evaluation import latent_run

    model = randomize(build("alrnn", inputs=2, seeds=[0]), seed=2)
    z0 = torch.zeros(1, model.latent, dtype=F64)
    s = torch.randn(1, 12, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(latent_run(model, z0, 8, transient=4, s=s), model.generate(12, z0=z0, s=s)[:, 4:])


@pytest.mark.parametrize("threads", [1, 2])
def test_free_runs_of_the_members_use_the_kernels_threads(threads: int) -> None:
    """Evaluation steps the members on ``dsr.training.fused.threads()`` threads: one in a sweep worker with
    one core, not one per core of the machine."""
    import threading

    from dsr.evaluation import _per_member
    from dsr.training import fused

    model = randomize(build("alrnn", seeds=[0, 1, 2, 3]), seed=2)
    used = set()

    def run(e: int, face: object) -> np.ndarray:
        used.add(threading.get_ident())
        time.sleep(0.05)  # every pool thread gets a member
        return np.zeros(1)

    before = fused.threads()
    fused.set_threads(threads)
    try:
        assert _per_member(run, model).shape == (4, 1)
    finally:
        fused.set_threads(before)
    assert len(used) == threads
