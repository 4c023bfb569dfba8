"""The model zoo (``dsr.zoo``): each family's step, Jacobian, generation, storage and closed-form fits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from dsr import runstore
from dsr.simulate import simulate
from dsr.training.loss import member_losses
from dsr.zoo import ZOO, from_dataset, make_zoo_model
from dsr.zoo.esn import ridge
from dsr.zoo.lyapunov import lyapunov_spectrum

F64 = torch.float64
# Small sizes keep the tests fast; the equations do not depend on them.
SMALL = {
    "rnn": {"hidden": 6}, "lstm": {"hidden": 5}, "gru": {"hidden": 5}, "pararnn-gru": {"hidden": 5}, "pararnn-lstm": {"hidden": 5},
    "lru": {"layers": 2, "width": 4, "state": 3}, "s4d": {"layers": 2, "width": 3, "state": 2},
    "aaren": {"layers": 2, "width": 4, "heads": 2}, "esn": {"reservoir": 12}, "node": {"hidden": 8, "augment": 2},
    "sindy": {}, "parrot": {"context": 40},
}
GRADIENT = [k for k in ZOO if ZOO[k].fitted_by == "gradient"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Torch's tiny operations here run ~30x slower on two OpenMP threads of a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomized(kind: str, ensemble: int = 2, seed: int = 0) -> torch.nn.Module:
    """A float64 model whose parameters are moved off their initialisation (zero read-outs, library
    coefficients and contexts would make the Jacobian trivially simple)."""
    model = make_zoo_model(kind, 3, ensemble=ensemble, seeds=seed, dtype=F64, **SMALL[kind])
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=F64))
    return model


def states(model: torch.nn.Module, batch: int = 4) -> torch.Tensor:
    """States reached by a few steps from data-inferred starts: generic points of the state space."""
    x = torch.randn(model.ensemble, batch, model.n_obs, generator=torch.Generator().manual_seed(1), dtype=F64)
    return model.generate(3, x0=x)[..., -1, :]


@pytest.mark.parametrize("kind", list(ZOO))
def test_jacobian_matches_finite_differences(kind: str) -> None:
    model = randomized(kind)
    z = states(model)
    with torch.no_grad():
        jac = model.jacobian(z)
        eps = 1e-6
        eye = torch.eye(z.shape[-1], dtype=F64)
        columns = [(model.step(z + eps * e) - model.step(z - eps * e)) / (2 * eps) for e in eye]
    numeric = torch.stack(columns, dim=-1)
    assert jac.shape == (*z.shape, z.shape[-1])
    torch.testing.assert_close(jac, numeric, atol=1e-7, rtol=1e-6)
    if kind != "parrot":  # the parrot's map is locally constant: its zero Jacobian is the point
        assert jac.abs().max() > 1e-3


@pytest.mark.parametrize("kind", list(ZOO))
def test_generate_shapes_and_start(kind: str) -> None:
    model = randomized(kind, ensemble=3)
    x = torch.randn(3, 2, 5, 3, dtype=F64)
    run = model.generate(6, x0=x)
    assert run.shape == (3, 2, 5, 6, model.latent)
    torch.testing.assert_close(run[..., 0, :], model.initial_state(x))
    torch.testing.assert_close(model.observe(run[..., 0, :]), x)
    torch.testing.assert_close(run[..., 1, :], model.step(run[..., 0, :]))


@pytest.mark.parametrize("kind", list(ZOO))
def test_run_store_round_trip(kind: str, tmp_path) -> None:
    model = randomized(kind)
    path = runstore.create(tmp_path / "run.zarr", {"config": {}})
    runstore.write_group(path, f"{runstore.PARAMS}/best", model.to_dataset())
    back = from_dataset(runstore.read_group(path, f"{runstore.PARAMS}/best"))
    assert type(back) is type(model) and back.seeds == model.seeds and back.options == model.options
    xr.testing.assert_identical(back.to_dataset(), model.to_dataset())
    z = states(model)
    assert torch.equal(back.step(z), model.step(z))


@pytest.mark.parametrize("kind", ["lstm", "lru", "node"])
def test_members_are_independent_models(kind: str) -> None:
    pair = make_zoo_model(kind, 3, seeds=[5, 9], dtype=F64, **SMALL[kind])
    single = make_zoo_model(kind, 3, seeds=[9], dtype=F64, **SMALL[kind])
    z = torch.randn(2, 4, pair.latent, dtype=F64)
    torch.testing.assert_close(pair.step(z)[1:], single.step(z[1:]))


def lorenz(steps: int, dt: float = 0.01, standardize: bool = True, trials: int = 1) -> np.ndarray:
    return simulate("lorenz63", steps, dt=dt, seed=0, trials=trials, standardize=standardize)["x"].values


SCRIPTED = [k for k in ZOO if ZOO[k].scripted]


def generate_run(model, z0: torch.Tensor, steps: int, transient: int = 0, s=None) -> torch.Tensor:
    """Evaluation's free run the straightforward way: ``generate``, one eager step after another."""
    with torch.no_grad():
        return model.generate(transient + steps, z0=z0)[:, transient:]


def generate_predictions(model, starts: np.ndarray, k: int, inputs) -> np.ndarray:
    """Evaluation's k-step predictions the straightforward way: ``generate`` from every start at once."""
    with torch.no_grad():
        x = torch.as_tensor(starts, dtype=F64).expand(model.ensemble, *starts.shape)
        return model.observe(model.generate(k + 1, x0=x)[:, :, -1]).numpy()


@pytest.mark.parametrize("kind", SCRIPTED)
def test_fast_evaluation_equals_generate(kind: str, monkeypatch) -> None:
    """The free runs of evaluation (one frozen TorchScript loop) and its predictions (batches of starts
    stepped k times) give the metrics that ``generate`` gives, transient and several batches included."""
    from dsr import evaluation
    from dsr.data import TimeSeries

    model = randomized(kind)
    z0 = states(model)[:, 0]
    torch.testing.assert_close(evaluation.latent_run(model, z0, 50, 30), generate_run(model, z0, 50, 30), rtol=1e-12, atol=1e-12)
    test = TimeSeries(values=lorenz(400, trials=2), dt=0.01, variables=("x", "y", "z"))
    monkeypatch.setattr(evaluation, "PREDICTION_VALUES", 100 * model.ensemble * model.latent)  # 4 batches per trial
    fast = evaluation.evaluate(model, test, max_steps=300, pe_steps=7)
    monkeypatch.setattr(evaluation, "latent_run", generate_run)
    monkeypatch.setattr(evaluation, "_predictions", generate_predictions)
    slow = evaluation.evaluate(model, test, max_steps=300, pe_steps=7)
    assert np.all(np.isfinite(slow["pe"]))
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", GRADIENT)
def test_tiny_teacher_forced_fit_lowers_the_loss(kind: str) -> None:
    """A few Adam steps on the one-step loss under GTF in observation space (α = 0.1) lower it: the
    gradients reach the parameters through the forced rollout."""
    data = torch.as_tensor(lorenz(400), dtype=torch.float32)
    windows = torch.stack([data[s : s + 21] for s in range(0, 320, 40)]).expand(2, -1, -1, -1)
    model = make_zoo_model(kind, 3, ensemble=2, seeds=0, **SMALL[kind], **({"dt": 0.01} if kind == "node" else {}))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    alphas = [0.1] * 20

    def loss() -> torch.Tensor:
        return member_losses(model, windows, alphas, kernel="autograd")

    first = loss().detach()
    for _ in range(30):
        optimizer.zero_grad()
        loss().sum().backward()
        optimizer.step()
    assert torch.all(loss().detach() < 0.9 * first)


def test_esn_readout_is_the_ridge_solution() -> None:
    """W_out, b_out equal numpy.linalg.lstsq of the ridge problem, stated as least squares on [Φ; √β I]."""
    data = torch.as_tensor(lorenz(600), dtype=F64)[None]
    beta, washout = 1e-3, 50
    model = make_zoo_model("esn", 3, ensemble=2, seeds=3, dtype=F64, reservoir=20, ridge=beta, washout=washout)
    model.fit_closed_form(data)
    # Reservoir states under full teacher forcing, through the model's own step from r = 0.
    z = torch.cat((data[:, 0], torch.zeros(1, 20, dtype=F64)), dim=-1).expand(2, -1)
    reservoir = []
    with torch.no_grad():
        for t in range(1, data.shape[1]):
            z = model.step(torch.cat((data[:, t - 1].expand(2, -1), z[:, 3:]), dim=-1))
            reservoir.append(z[:, 3:])
    r = torch.stack(reservoir, dim=1)[:, washout:].numpy()  # r_t for t = washout+1 ..
    targets = data[0, washout + 1 :].numpy()
    for e in range(2):
        phi = np.hstack([r[e], np.ones((len(r[e]), 1))])
        stacked = np.vstack([phi, np.sqrt(beta) * np.eye(phi.shape[1])])
        solution = np.linalg.lstsq(stacked, np.vstack([targets, np.zeros((phi.shape[1], 3))]), rcond=None)[0]
        np.testing.assert_allclose(model.Wout[e].detach().numpy(), solution[:-1].T, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(model.bout[e].detach().numpy(), solution[-1], rtol=1e-6, atol=1e-8)
    assert model.Wout.abs().max() > 0.01


def test_ridge_against_lstsq() -> None:
    gen = np.random.default_rng(0)
    features, targets = gen.normal(size=(50, 6)), gen.normal(size=(50, 2))
    stacked = np.vstack([features, np.sqrt(0.5) * np.eye(6)])
    expected = np.linalg.lstsq(stacked, np.vstack([targets, np.zeros((6, 2))]), rcond=None)[0].T
    np.testing.assert_allclose(ridge(torch.as_tensor(features), torch.as_tensor(targets), 0.5).numpy(), expected, rtol=1e-10)


def test_sindy_recovers_lorenz_coefficients() -> None:
    """Clean Lorenz-63 (σ = 10, ρ = 28, β = 8/3): every coefficient within 1 %, every other term zero."""
    dt = 0.002
    data = torch.as_tensor(lorenz(5000, dt=dt, standardize=False), dtype=F64)[None]
    model = make_zoo_model("sindy", 3, ensemble=1, seeds=0, dtype=F64, dt=dt)
    model.fit_closed_form(data)
    true = np.zeros((10, 3))  # features 1, x, y, z, x², xy, xz, y², yz, z²
    true[1, 0], true[2, 0] = -10, 10
    true[1, 1], true[2, 1], true[6, 1] = 28, -1, -1
    true[3, 2], true[5, 2] = -8 / 3, 1
    xi = model.Xi[0].detach().numpy()
    np.testing.assert_array_equal(xi != 0, true != 0)
    np.testing.assert_allclose(xi[true != 0], true[true != 0], rtol=0.01)


def test_parrot_reproduces_a_periodic_series_exactly() -> None:
    period = np.stack([np.sin(np.linspace(0, 2 * np.pi, 37, endpoint=False)), np.cos(np.linspace(0, 2 * np.pi, 37, endpoint=False))], -1)
    series = torch.as_tensor(np.tile(period, (6, 1)))[None]  # (1, T, 2)
    model = make_zoo_model("parrot", 2, ensemble=2, seeds=0, dtype=F64, context=series.shape[1] - 1)
    model.fit_closed_form(series)
    start = series[0, 5].expand(2, 2)
    with torch.no_grad():
        run = model.observe(model.generate(300, x0=start))
    expected = np.tile(period, (10, 1))[5 : 5 + 300]
    assert np.array_equal(run[0].numpy(), expected) and np.array_equal(run[1].numpy(), expected)


def test_unknown_family_and_foreign_option_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown model family 'transformer'; choose one of: rnn, lstm") as err:
        make_zoo_model("transformer", 3)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"model lstm does not take option 'spectral_radius'; it takes: hidden") as err:
        make_zoo_model("lstm", 3, spectral_radius=0.9)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="option hidden of gru must be an integer"):
        make_zoo_model("gru", 3, hidden=2.5)
    with pytest.raises(ValueError, match="takes no external inputs"):
        make_zoo_model("rnn", 3).step(torch.zeros(1, 3 + 32), torch.zeros(1, 1))


def test_lyapunov_spectrum_of_sindy_lorenz() -> None:
    """SINDy's Lorenz-63 from clean data: the exponents sum to the divergence −(σ + 1 + β) = −13.67 (constant
    for Lorenz, so a short run gives it), the third near it (λ1 ≈ 0.9, λ2 = 0 need long runs)."""
    dt = 0.002
    data = torch.as_tensor(lorenz(5000, dt=dt, standardize=False), dtype=F64)[None]
    model = make_zoo_model("sindy", 3, ensemble=1, seeds=0, dtype=F64, dt=dt)
    model.fit_closed_form(data)
    result = lyapunov_spectrum(model, data[:, -2:], steps=600, transient=0, n_exponents=3, dt=dt)[0]
    exponents = result.exponents
    assert result.per_initial_condition.shape == (2, 3) and result.running.shape[0] == 2
    np.testing.assert_allclose(result.running[:, -1], result.per_initial_condition)
    assert exponents.sum() == pytest.approx(-(10 + 1 + 8 / 3), rel=0.02)
    assert exponents[2] < -10 < exponents[1]


# ----- through dsr fit: the same data handling, protocol and run store as the PLRNN family ----------------

ZOO_TINY = dict(epochs=2, batches_per_epoch=3, batch_size=4, sequence_length=20, eval_every=1, eval_steps=400, dtype="float64",
                ensemble=1, checkpoint_seconds=0.0)
FIT_OPTIONS = {"esn": {"reservoir": 20, "washout": 20}, **{k: v for k, v in SMALL.items() if k not in ("esn", "parrot")}}


@pytest.mark.parametrize("kind", list(ZOO))
def test_tiny_fit_of_each_family(kind: str, lorenz_store, tmp_path) -> None:
    import dsr
    from dsr.run import evaluate_run
    from dsr.training.config import FitConfig

    path = dsr.fit(lorenz_store, FitConfig(model=kind, model_options=FIT_OPTIONS.get(kind, {}), **ZOO_TINY), out=tmp_path, name=kind)
    run = dsr.load_run(path)
    assert run.status == "finished" and all(np.isfinite(v) for v in run.attrs["final_metrics"].values())
    assert type(run.model) is ZOO[kind] and "pattern" not in run.trajectory
    history = run.history
    assert history.sizes["epoch"] == (2 if ZOO[kind].fitted_by == "gradient" else 1)
    assert run.config.forcing == "gtf"  # the zoo's recurrent families train under GTF, not aGTF
    rows = evaluate_run(path, steps=200)["rows"]
    assert {r["checkpoint"] for r in rows} == {"best", "last"}


@pytest.mark.parametrize("kind", GRADIENT)
def test_zoo_fit_resumes_exactly(kind: str, lorenz_store, tmp_path) -> None:
    """A fit of every gradient-trained family stopped by Ctrl-C after epoch 1 and resumed equals the uninterrupted fit."""
    import dsr
    from dsr.training.config import FitConfig
    from tests.conftest import interrupt_after, read_params

    config = FitConfig(model=kind, model_options=FIT_OPTIONS[kind], **ZOO_TINY)
    whole = dsr.fit(lorenz_store, config, out=tmp_path, name="whole")
    with pytest.raises(KeyboardInterrupt):
        dsr.fit(lorenz_store, config, out=tmp_path, name="cut", progress=interrupt_after(1))
    cut = dsr.resume(tmp_path / "cut.zarr")
    for checkpoint in ("best", "last"):
        xr.testing.assert_identical(read_params(cut, checkpoint), read_params(whole, checkpoint))


def test_time_budget_stops_training_with_a_final_evaluation(lorenz_store, tmp_path) -> None:
    import dsr
    from dsr.training.config import FitConfig

    config = FitConfig(model="gru", model_options={"hidden": 5}, **{**ZOO_TINY, "epochs": 1000, "eval_every": 50}, time_budget=1e-4)
    run = dsr.load_run(dsr.fit(lorenz_store, config, out=tmp_path, name="budget"))
    assert run.status == "finished" and run.history.sizes["epoch"] == 1 and bool(run.history["evaluated"].values[-1])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "esn", "hidden": 50}, "hidden is a PLRNN-family option, not used by esn"),
        ({"model": "lstm", "model_options": {"spectral_radius": 0.9}}, "model lstm does not take option 'spectral_radius'"),
        ({"model": "alrnn", "model_options": {"hidden": 3}}, "model_options are for the zoo's families"),
    ],
)
def test_fit_refuses_options_a_family_does_not_take(options: dict, message: str, lorenz_store, tmp_path) -> None:
    import dsr
    from dsr.errors import DsrError
    from dsr.training.config import resolve_config

    with pytest.raises(DsrError, match=message) as err:
        dsr.fit(lorenz_store, resolve_config(None, **options, **ZOO_TINY), out=tmp_path, name="refused")
    assert "\n" not in str(err.value)


def test_config_lists_every_zoo_family() -> None:
    from dsr.training.config import ZOO_KINDS

    assert set(ZOO_KINDS) == set(ZOO)


@pytest.mark.parametrize("kind", ["gru", "parrot"])
def test_analyze_a_zoo_run(kind: str, lorenz_store, tmp_path) -> None:
    """dsr analyze: spectrum from the step's derivatives, dimensions, and the PWL-only analyses skipped with the reason."""
    import dsr
    from dsr.run_analysis import Settings, analyze
    from dsr.training.config import FitConfig

    path = dsr.fit(lorenz_store, FitConfig(model=kind, model_options=FIT_OPTIONS.get(kind, {}), **ZOO_TINY), out=tmp_path, name=kind)
    report = analyze(path, settings=Settings(steps=200, transient=20, initial_conditions=2, trajectory_steps=2000))
    notes = " ".join(report["model"]["notes"])
    assert "not piecewise linear" in notes and report["model"]["cycles"] == []
    assert report["groups"] == ["analysis/lyapunov", "analysis/dimensions"]
    if kind == "parrot":
        assert report["model"]["lyapunov"] is None and "piecewise constant" in notes
    else:
        exponents = report["model"]["lyapunov"]["exponents"]
        assert len(exponents) == 4 and np.all(np.isfinite(exponents)) and report["truth"] is not None
