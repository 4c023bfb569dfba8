"""Parallel-in-time Newton solvers (dsr.parallel): scans, trajectories, pattern stopping, adjoint gradients,
fallback, generation, training through the fit, and bad options."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import dsr
from dsr import runstore
from dsr.models import make_model
from dsr.parallel import Forcing, NewtonFallbackWarning, generate, solve
from dsr.parallel.adjoint import rollout
from dsr.parallel.cells import CellModel
from dsr.parallel.scan import compose, solve_linear, solve_sequential
from dsr.parallel.training import newton_member_losses
from dsr.kinds import KINDS as PLRNN_KINDS
from dsr.training.config import FitConfig
from dsr.training.loss import member_losses
from dsr.zoo import make_zoo_model
from tests.conftest import TINY as TRAINING_TINY
from tests.conftest import assert_one_line_error, randomize

F64 = torch.float64
KINDS = tuple(PLRNN_KINDS)  # the PLRNN family (the zoo's recurrent models are tested below through cells)
SIZES = {"shplrnn": {"hidden": 6}, "clipped-shplrnn": {"hidden": 6}, "alrnn": {"relus": 2}, "dendplrnn": {"bases": 3}}
E, S, T, N, M = 2, 3, 60, 2, 4


def _model(kind: str, **options):
    return make_model(kind, N, M, ensemble=E, seeds=3, dtype=F64, **(SIZES.get(kind, {}) | options))


def _forcings(steps: int = T) -> dict[str, Forcing | None]:
    """Every forcing mode: free run, GTF with one α per member, sparse TF every 7 steps."""
    gen = torch.Generator().manual_seed(1)
    signal = torch.randn(E, S, steps, N, generator=gen, dtype=F64)
    gtf = torch.tensor([0.2, 0.5], dtype=F64).reshape(E, 1, 1, 1).expand(E, 1, steps, 1)
    stf = torch.tensor([1.0 if t % 7 == 0 else 0.0 for t in range(1, steps + 1)], dtype=F64).reshape(1, 1, steps, 1)
    return {"free": None, "gtf": Forcing(signal, gtf), "stf": Forcing(signal, stf)}


def _loop(model, z0: torch.Tensor, steps: int, forcing: Forcing | None, s: torch.Tensor | None = None) -> torch.Tensor:
    """The sequential reference, written out: step, then GTF on the first D units (as the training rollout)."""
    z, out = z0, []
    with torch.no_grad():
        for t in range(steps):
            z = model.step(z, None if s is None else s[..., t, :])
            if forcing is not None:
                d, a = forcing.signal.shape[-1], forcing.alpha[..., t, :]
                z = torch.cat(((1 - a) * z[..., :d] + a * forcing.signal[..., t, :], z[..., d:]), dim=-1)
            out.append(z)
    return torch.stack(out, dim=-2)


# --- the scan ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 2, 7, 64, 101])
@pytest.mark.parametrize("dense", [True, False])
def test_scan_equals_the_loop_forward_and_reverse(steps: int, dense: bool) -> None:
    gen = torch.Generator().manual_seed(steps)
    shape = (3, steps, 4, 4) if dense else (3, steps, 4)
    A, b, z0 = 0.25 * torch.randn(shape, generator=gen, dtype=F64), torch.randn(3, steps, 4, generator=gen, dtype=F64), torch.randn(3, 4, generator=gen, dtype=F64)
    for reverse in (False, True):
        assert torch.allclose(solve_linear(A, b, z0, reverse), solve_sequential(A, b, z0, reverse), atol=1e-12, rtol=0)
    prefix_A, prefix_b = compose(A, b)
    assert torch.allclose(prefix_b[:, -1], solve_sequential(A, b)[:, -1], atol=1e-12, rtol=0)
    product = torch.eye(4, dtype=F64) if dense else torch.ones(4, dtype=F64)
    for t in range(steps):
        product = A[:, t] @ product if dense else A[:, t] * product
    assert torch.allclose(prefix_A[:, -1], product, atol=1e-12, rtol=0)


def test_scan_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="fits neither"):
        solve_linear(torch.zeros(5, 3, 2), torch.zeros(5, 3))


# --- trajectories -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["free", "gtf", "stf"])
def test_newton_equals_the_sequential_loop_for_every_plrnn_kind(kind: str, mode: str) -> None:
    model = _model(kind)
    z0 = torch.randn(E, S, M, generator=torch.Generator().manual_seed(2), dtype=F64)
    forcing = _forcings()[mode]
    reference = _loop(model, z0, T, forcing)
    for solver in ("pwl", "deer", "quasi", "elk"):
        result = solve(model, z0, T, forcing=forcing, solver=solver, max_iter=200)
        assert result.converged and result.fallback is None, (solver, result.fallback)
        assert (result.states - reference).abs().max() < 1e-10, solver
        assert result.residuals[-1] <= 1e-12 * max(1.0, float(reference.abs().max()))


def test_mean_centred_plrnn_and_inputs() -> None:
    model = _model("plrnn", mean_centering=True, inputs=2)
    gen = torch.Generator().manual_seed(4)
    z0, s = torch.randn(E, S, M, generator=gen, dtype=F64), torch.randn(E, S, T, 2, generator=gen, dtype=F64)
    forcing = _forcings()["gtf"]
    result = solve(model, z0, T, s=s, forcing=forcing)
    assert result.converged and (result.states - _loop(model, z0, T, forcing, s)).abs().max() < 1e-10


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("mode", ["free", "gtf", "stf"])
def test_newton_equals_the_sequential_loop_for_lstm_and_gru(cell: str, mode: str) -> None:
    torch.manual_seed(5)
    inner = torch.nn.LSTMCell(3, 2) if cell == "lstm" else torch.nn.GRUCell(3, 4)
    model = CellModel(inner.double())
    gen = torch.Generator().manual_seed(6)
    z0, s = torch.randn(E, S, model.latent, generator=gen, dtype=F64), torch.randn(E, S, T, 3, generator=gen, dtype=F64)
    forcing = _forcings()[mode]
    reference = _loop(model, z0, T, forcing, s)
    for solver in ("deer", "quasi", "elk"):
        result = solve(model, z0, T, s=s, forcing=forcing, solver=solver, max_iter=200)
        assert result.converged and (result.states - reference).abs().max() < 1e-10, solver
    assert solve(model, z0, T, s=s, forcing=forcing).solver == "deer"  # auto: not piecewise linear


def test_cell_jacobian_is_the_derivative_of_its_step() -> None:
    torch.manual_seed(7)
    model = CellModel(torch.nn.LSTMCell(2, 3).double())
    z, s = torch.randn(4, 6, dtype=F64), torch.randn(4, 2, dtype=F64)
    numeric = torch.autograd.functional.jacobian(lambda v: model.step(v.unsqueeze(0), s[1:2])[0], z[1])
    assert torch.allclose(model.jacobian(z, s)[1], numeric, atol=1e-12)
    with pytest.raises(ValueError, match="GRUCell or torch.nn.LSTMCell"):
        CellModel(torch.nn.RNNCell(2, 3))


# --- the zoo's cells with diagonal recurrent weights (ParaRNN style, dsr.zoo.pararnn) -------------------


PARARNN = ("pararnn-gru", "pararnn-lstm")


def _zoo(kind: str):
    """A float64 zoo model on the N = 2 observed units of ``_forcings`` (M = N + 3), parameters drawn at random."""
    return randomize(make_zoo_model(kind, N, ensemble=E, seeds=3, dtype=F64, hidden=3), seed=21)


@pytest.mark.parametrize("kind", PARARNN)
@pytest.mark.parametrize("mode", ["free", "gtf", "stf"])
def test_newton_equals_the_sequential_loop_for_the_diagonal_zoo_cells(kind: str, mode: str) -> None:
    model = _zoo(kind)
    z0 = torch.randn(E, S, model.latent, generator=torch.Generator().manual_seed(22), dtype=F64)
    forcing = _forcings()[mode]
    reference = _loop(model, z0, T, forcing)
    assert solve(model, z0, 5).solver == "quasi"  # auto: the family's diagonal solver
    for solver in ("quasi", "deer"):
        # Every Newton step makes one more time step exact, so T steps always suffice (ELK's Prop. 1).
        result = solve(model, z0, T, forcing=forcing, solver=solver, max_iter=T)
        assert result.converged and (result.states - reference).abs().max() < 1e-10, solver


@pytest.mark.parametrize("kind", [*PARARNN, "gru"])
def test_quasi_newton_is_exact_newton_for_diagonal_cells_under_full_forcing(kind: str) -> None:
    """The cells' own Jacobian ∂q'/∂q is diagonal; with the observed units fully forced (α = 1) the step's
    Jacobian has no other entries that a Newton step uses, so the quasi solver's iterates are DEER's. Under GTF
    with α < 1 the read-out's feedback couples the units: quasi is then a quasi-Newton method (more steps).
    The zoo's ``gru`` (dense recurrent weights) is the control: quasi differs from DEER even at α = 1."""
    model = _zoo(kind)
    z = model.generate(4, x0=torch.randn(E, S, N, generator=torch.Generator().manual_seed(23), dtype=F64))[..., -1, :]
    cell = model.jacobian(z)[..., N:, N:]
    off_diagonal = (cell - torch.diag_embed(torch.diagonal(cell, dim1=-2, dim2=-1))).abs().max()
    z0 = torch.randn(E, S, model.latent, generator=torch.Generator().manual_seed(24), dtype=F64)
    signal = _forcings()["gtf"].signal
    full = Forcing(signal, torch.ones(T, 1, dtype=F64))
    deer, quasi = (solve(model, z0, T, forcing=full, solver=solver, max_iter=T, sweeps=0) for solver in ("deer", "quasi"))
    assert deer.converged and quasi.converged
    if kind == "gru":
        assert off_diagonal > 0.1 and quasi.iterations > deer.iterations
        return
    assert off_diagonal == 0
    assert quasi.iterations == deer.iterations and (quasi.states - deer.states).abs().max() < 1e-12
    for a, b in zip(quasi.residuals, deer.residuals, strict=True):
        assert abs(a - b) <= 1e-9 * max(1.0, b)
    gtf = Forcing(signal, torch.full((T, 1), 0.1, dtype=F64))
    deer, quasi = (solve(model, z0, T, forcing=gtf, solver=solver, max_iter=T) for solver in ("deer", "quasi"))
    assert deer.converged and quasi.converged and quasi.iterations > deer.iterations


@pytest.mark.parametrize("kind", PARARNN)
def test_adjoint_gradients_of_the_diagonal_zoo_cells_equal_autograd_through_the_loop(kind: str) -> None:
    model = _zoo(kind)
    x = torch.randn(E, 4, 31, N, generator=torch.Generator().manual_seed(25), dtype=F64)
    params = [p for p in model.parameters() if p.requires_grad]
    schedules = {"gtf": [torch.tensor([0.1, 0.4], dtype=F64)] * 30, "stf": [1.0 if t % 8 == 0 else 0.0 for t in range(1, 31)]}
    for alphas in schedules.values():
        reference = member_losses(model, x, alphas, kernel="autograd")
        expected = torch.autograd.grad(reference.sum(), params)
        loss = newton_member_losses(model, x, alphas, solver="quasi", max_iter=30)
        got = torch.autograd.grad(loss.sum(), params)
        assert (loss - reference).abs().max() < 1e-12
        for g, e in zip(got, expected, strict=True):
            assert (g - e).abs().max() < 1e-10


# --- pwl: the integer stopping test ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clipped-shplrnn", "alrnn", "dendplrnn"])
@pytest.mark.parametrize("init", ["default", "bad"])
def test_pwl_stops_exactly_when_the_pattern_is_unchanged(kind: str, init: str) -> None:
    model = _model(kind)
    z0 = torch.randn(E, S, M, generator=torch.Generator().manual_seed(8), dtype=F64)
    forcing = _forcings()["gtf"]
    guess = None if init == "default" else 25.0 * torch.randn(E, S, T, M, generator=torch.Generator().manual_seed(9), dtype=F64)
    result = solve(model, z0, T, forcing=forcing, solver="pwl", init=guess)
    assert result.converged
    # One pattern comparison per Newton step; the first unchanged pattern ends the solve.
    assert len(result.pattern_changes) == result.iterations
    assert result.pattern_changes[-1] == 0 and all(c > 0 for c in result.pattern_changes[:-1])
    assert (result.states - _loop(model, z0, T, forcing)).abs().max() < 1e-12
    # One step fewer: the pattern still changed there, so the solve cannot have ended earlier.
    with pytest.warns(NewtonFallbackWarning, match="not converged"):
        short = solve(model, z0, T, forcing=forcing, solver="pwl", init=guess, max_iter=result.iterations - 1)
    assert not short.converged and short.pattern_changes == result.pattern_changes[:-1]


@pytest.mark.parametrize("solver", ["pwl", "deer"])
def test_jacobi_sweeps_refine_the_guess_and_are_counted_apart(solver: str) -> None:
    model = _model("clipped-shplrnn")
    z0 = torch.randn(E, S, M, generator=torch.Generator().manual_seed(16), dtype=F64)
    forcing = _forcings()["gtf"]
    reference = _loop(model, z0, T, forcing)
    for sweeps in (0, 1, 3):
        result = solve(model, z0, T, forcing=forcing, solver=solver, sweeps=sweeps)
        assert result.converged and result.sweeps == sweeps and (result.states - reference).abs().max() < 1e-10
    # T sweeps are the sequential loop run in parallel: the guess is the trajectory, so DEER takes no Newton step.
    exact = solve(model, z0, T, forcing=forcing, solver=solver, sweeps=T)
    assert exact.iterations == (0 if solver == "deer" else 1) and exact.residuals[0] <= 1e-12
    # T − 1 sweeps leave the last step inexact: the guess's residual is not yet zero.
    assert solve(model, z0, T, forcing=forcing, solver=solver, sweeps=T - 1).residuals[0] > 1e-12


# --- fallback ---------------------------------------------------------------------------------------


def _tent_map():
    """An AL-RNN (M = 1, P = 1) that is the tent map z' = 1 − 1.9|z| = 1 + 1.9 z − 3.8 [z]_+ (λ = ln 1.9 > 0)."""
    model = make_model("alrnn", 1, 1, relus=1, seeds=0, dtype=F64)
    with torch.no_grad():
        model.A.fill_(1.9)
        model.W.fill_(-3.8)
        model.h.fill_(1.0)
    return model


@pytest.mark.parametrize("solver", ["pwl", "deer", "elk"])
def test_chaotic_free_run_falls_back_to_the_sequential_result(solver: str) -> None:
    model = _tent_map()
    z0 = torch.tensor([[0.123]], dtype=F64)
    with pytest.warns(NewtonFallbackWarning, match="fell back to the sequential loop"):
        result = solve(model, z0, 400, solver=solver, max_iter=10)
    assert not result.converged and result.fallback
    assert torch.equal(result.states, _loop(model, z0, 400, None))
    assert result.states.std() > 0.3  # chaotic, not collapsed onto a fixed point
    # Forced strongly enough (α > 1 − 1/1.9), the same map contracts and Newton converges.
    signal = torch.zeros(1, 400, 1, dtype=F64)
    forced = Forcing(signal, torch.full((1, 400, 1), 0.6, dtype=F64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NewtonFallbackWarning)
        assert solve(model, z0, 400, forcing=forced, solver=solver, max_iter=30).converged


# --- gradients --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("observation", ["identity", "affine"])
def test_adjoint_gradients_equal_autograd_through_the_loop(kind: str, observation: str) -> None:
    model = make_model(kind, 3, 5, ensemble=E, seeds=11, dtype=F64, inputs=2, observation=observation, **SIZES.get(kind, {}))
    gen = torch.Generator().manual_seed(12)
    x, s = torch.randn(E, 4, 31, 3, generator=gen, dtype=F64), torch.randn(E, 4, 31, 2, generator=gen, dtype=F64)
    params = list(model.parameters())
    schedules = {
        "gtf": [torch.tensor([0.1, 0.4], dtype=F64)] * 30,
        "stf": [1.0 if t % 8 == 0 else 0.0 for t in range(1, 31)],
    }
    for alphas in schedules.values():
        reference = member_losses(model, x, alphas, s, kernel="autograd")
        expected = torch.autograd.grad(reference.sum(), params)
        loss = newton_member_losses(model, x, alphas, s)
        got = torch.autograd.grad(loss.sum(), params)
        assert (loss - reference).abs().max() < 1e-12
        for g, e in zip(got, expected, strict=True):
            assert (g - e).abs().max() < 1e-10


def test_adjoint_gradients_of_a_gru_rollout() -> None:
    torch.manual_seed(13)
    model = CellModel(torch.nn.GRUCell(2, 3).double())
    gen = torch.Generator().manual_seed(14)
    z0 = torch.randn(4, 3, generator=gen, dtype=F64, requires_grad=True)
    s = torch.randn(4, 40, 2, generator=gen, dtype=F64, requires_grad=True)
    forcing = Forcing(torch.randn(4, 40, 1, generator=gen, dtype=F64), torch.full((40, 1), 0.3, dtype=F64))
    weights = torch.randn(4, 40, 3, generator=gen, dtype=F64)
    inputs = [z0, s, *model.parameters()]
    states, result = rollout(model, z0, 40, s=s, forcing=forcing)
    got = torch.autograd.grad((weights * states).sum(), inputs)
    z, out = z0, []
    for t in range(40):
        z = model.step(z, s[:, t])
        z = torch.cat((0.7 * z[:, :1] + 0.3 * forcing.signal[:, t], z[:, 1:]), dim=-1)
        out.append(z)
    expected = torch.autograd.grad((weights * torch.stack(out, dim=1)).sum(), inputs)
    assert result.converged
    for g, e in zip(got, expected, strict=True):
        assert (g - e).abs().max() < 1e-10


# --- generation --------------------------------------------------------------------------------------


def test_generate_by_newton_equals_the_sequential_generate() -> None:
    model = _model("alrnn", inputs=1)
    gen = torch.Generator().manual_seed(15)
    z0, s = torch.randn(E, S, M, generator=gen, dtype=F64), torch.randn(E, S, T, 1, generator=gen, dtype=F64)
    sequential = model.generate(T, z0=z0, s=s)
    newton = model.generate(T, z0=z0, s=s, method="newton")
    assert newton.shape == sequential.shape and (newton - sequential).abs().max() < 1e-10
    result = generate(model, T, z0, s=s, solver="deer")
    assert result.converged and torch.equal(result.states[..., 0, :], z0)
    with pytest.raises(ValueError, match="choose sequential or newton"):
        model.generate(T, z0=z0, method="parallel")


# --- bad options --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"solver": "newton"}, "unknown Newton solver 'newton'; choose one of"),
        ({"max_iter": -1}, "max_iter must be a whole number >= 0"),
        ({"tol": 0.0}, "tolerance tol must be > 0"),
        ({"damping": 1.0}, "damping must lie in [0, 1)"),
        ({"sweeps": -1}, "number of Jacobi sweeps must be a whole number >= 0"),
    ],
)
def test_bad_solver_options_are_one_line_errors(options: dict, fragment: str) -> None:
    model = _model("alrnn")
    with pytest.raises(ValueError) as err:
        solve(model, torch.zeros(E, M, dtype=F64), 5, **options)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_pwl_solver_needs_a_piecewise_linear_model() -> None:
    model = CellModel(torch.nn.GRUCell(1, 2).double())
    with pytest.raises(ValueError, match="needs a piecewise-linear model"):
        solve(model, torch.zeros(2, dtype=F64), 5, solver="pwl")


# --- training and run stores ----------------------------------------------------------------------------


TINY = TRAINING_TINY | dict(epochs=2, sequence_length=30, eval_every=2, ensemble=2)


@pytest.mark.parametrize("forcing", ["agtf", "stf"])
def test_fit_with_time_parallel_newton_equals_the_autograd_fit(lorenz_store: Path, tmp_path: Path, forcing: str) -> None:
    options = TINY | {"forcing": forcing, "tau": 8 if forcing == "stf" else None}
    reference = dsr.fit(lorenz_store, FitConfig(**options, kernel="autograd"), out=tmp_path, name="ref")
    newton = dsr.fit(lorenz_store, FitConfig(**options, time_parallel="newton"), out=tmp_path, name="newton")
    a, b = (runstore.read_group(path, "params/last") for path in (reference, newton))
    for name in a.data_vars:
        assert abs(a[name].values - b[name].values).max() < 1e-10, name
    run = dsr.load_run(newton)
    assert run.config.time_parallel == "newton" and run.attrs["kernel"] == "autograd"
    # Generation through the run: a short free run converges and equals the compiled loop.
    z0 = run.trajectory["z"].values[-1]
    assert abs(run.generate(30, z0=z0, method="newton") - run.generate(30, z0=z0)).max() < 1e-6
    with pytest.raises(dsr.DsrError, match="sequential or newton"):
        run.generate(30, method="scan")


@pytest.mark.parametrize("kind", PARARNN)
def test_fit_of_a_diagonal_zoo_cell_by_quasi_newton_equals_the_sequential_fit_and_resumes(
    kind: str, lorenz_store: Path, tmp_path: Path
) -> None:
    """``dsr fit --model pararnn-* --time-parallel newton --newton-solver quasi``: the same parameters as the
    sequential autograd fit (GTF α = 0.1, the zoo's recipe), and Ctrl-C after epoch 1 then resume gives them too."""
    from tests.conftest import interrupt_after, read_params

    options = {k: v for k, v in TINY.items() if k != "hidden"} | {"model": kind, "model_options": {"hidden": 4}, "forcing": "gtf"}
    reference = dsr.fit(lorenz_store, FitConfig(**options), out=tmp_path, name="ref")
    config = FitConfig(**options, time_parallel="newton", newton_solver="quasi")
    newton = dsr.fit(lorenz_store, config, out=tmp_path, name="newton")
    with pytest.raises(KeyboardInterrupt):
        dsr.fit(lorenz_store, config, out=tmp_path, name="cut", progress=interrupt_after(1))
    resumed = dsr.resume(tmp_path / "cut.zarr")
    a, b, c = (read_params(path) for path in (reference, newton, resumed))
    for name in a.data_vars:
        assert abs(a[name].values - b[name].values).max() < 1e-10, name
        assert abs(b[name].values - c[name].values).max() == 0, name
    assert dsr.load_run(newton).config.newton_solver == "quasi"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--time-parallel", "newton", "--kernel", "fused"], "runs on the autograd path, not --kernel fused"),
        (["--time-parallel", "newton", "--newton-solver", "bogus"], "newton_solver"),
        (["--time-parallel", "newton", "--newton-max-iter", "-1"], "newton_max_iter"),
        (["--newton-solver", "deer"], "applies only with --time-parallel newton"),
        (["--time-parallel", "always"], "time_parallel"),
    ],
)
def test_bad_time_parallel_options_through_the_cli(lorenz_store: Path, tmp_path: Path, run_cli, args: list[str], fragment: str) -> None:
    assert_one_line_error(run_cli("fit", lorenz_store, "--out", tmp_path, "--name", "x", "--quiet", *args), fragment)
    assert not (tmp_path / "x.zarr").exists()
