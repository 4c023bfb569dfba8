"""`dsr analyze` (dsr.analyze, in dsr/run_analysis/): the two faces of every model kind, the run and system reports,
the run-store groups, and the one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import dsr.systems as systems
from dsr import runstore
from dsr.run_analysis import Settings, analyze, analyze_command, numba_face, print_report
from dsr.errors import DsrError
from dsr.models import make_model

DATA = Path(__file__).resolve().parents[1] / "data" / "lorenz63.zarr"
SMALL = Settings(steps=2_000, transient=100, initial_conditions=2, trajectory_steps=5_000, dimension_points=5_000)
VARIANTS = [
    ("plrnn", {}), ("plrnn", {"mean_centering": True}), ("shplrnn", {"hidden": 7}), ("clipped-shplrnn", {"hidden": 7}),
    ("alrnn", {"relus": 3}), ("dendplrnn", {"bases": 4}), ("alrnn", {"relus": 2, "inputs": 2}),
]


@pytest.mark.parametrize(("kind", "options"), VARIANTS, ids=[f"{k}-{'-'.join(o)}" for k, o in VARIANTS])
def test_torch_and_numba_faces_agree(kind, options):
    """Step, Jacobian, region pattern and region affine map on random parameters and states."""
    model = make_model(kind, 3, 6, dtype=torch.float64, seeds=[1, 2], **options)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.8 * torch.randn(param.shape, generator=gen, dtype=param.dtype))
    ds = model.to_dataset()
    z = 1.5 * torch.randn(2, 40, 6, generator=gen, dtype=torch.float64)
    # The Numba face is the autonomous map: external inputs held at 0.
    s = torch.zeros(2, 40, options["inputs"], dtype=torch.float64) if "inputs" in options else None
    with torch.no_grad():
        steps, jacobians, patterns = model.step(z, s), model.jacobian(z), model.pattern(z)
        matrices, offsets = model.affine(patterns, s)
    for member in range(2):
        face = numba_face(ds, member)
        assert face.dim == 6 and face.pattern_size == patterns.shape[-1]
        states = z[member].numpy()
        np.testing.assert_array_equal(face.pattern(states), patterns[member].numpy().astype(np.uint8))
        for i, state in enumerate(states):
            np.testing.assert_allclose(face.step(state), steps[member, i].numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(face.jacobian(state), jacobians[member, i].numpy(), rtol=1e-12, atol=1e-12)
            jac = np.full((6, 6), np.nan)  # the combined step writes every entry of the Jacobian
            np.testing.assert_allclose(face.numba_step_jacobian(state, face.param_array, jac), steps[member, i].numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(jac, jacobians[member, i].numpy(), rtol=1e-12, atol=1e-12)
            matrix, offset = face.affine(patterns[member, i].numpy())
            np.testing.assert_allclose(matrix, matrices[member, i].numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(offset, offsets[member, i].numpy(), rtol=1e-12, atol=1e-12)
        # k-step predictions from every state: the k-th state of a free run from it (k = 0: the start).
        for k in (0, 3):
            expected = [face.trajectory(k + 1, state)[-1] for state in states]
            np.testing.assert_allclose(face.ahead(states, k), expected, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="session")
def fitted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import dsr
    from dsr.training.config import FitConfig

    config = FitConfig(epochs=1, batches_per_epoch=2, eval_every=1, eval_steps=100, model="alrnn", latent=6, relus=2, device="cpu")
    return dsr.fit(DATA, config, out=tmp_path_factory.mktemp("runs"), name="r")


@pytest.fixture(scope="session")
def run_report(fitted_run: Path) -> dict:
    return analyze(fitted_run, settings=SMALL)


def copy_run(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / run.name
    shutil.copytree(run, target)
    return target


def test_run_report_model_truth_and_comparison(run_report, fitted_run):
    model = run_report["model"]
    assert run_report["kind"] == "run" and run_report["target"] == str(fitted_run)
    assert model["kind"] == "alrnn" and model["latent"] == 6 and model["dt"] == 0.01
    assert len(model["lyapunov"]["exponents"]) == 6 and model["lyapunov"]["unit"] == "per time unit"
    assert model["kaplan_yorke"] is not None and "value" in model["correlation_dimension"]
    assert [o["order"] for o in model["cycle_search"]] == [1, 2]
    for cycle in model["cycles"]:
        assert cycle["real"] and len(cycle["points_data"]) == cycle["order"] and len(cycle["points_data"][0]) == 3
    symbolic = model["symbolic"]
    assert symbolic["possible"] == 4 and 1 <= symbolic["used"] <= 4
    assert all(r["fixed_point"] is None or isinstance(r["fixed_point"]["real"], bool) for r in symbolic["regions"])
    truth = run_report["truth"]
    assert truth["source"] == "system" and truth["name"] == "lorenz63"
    assert truth["lyapunov"]["exponents"][0] == pytest.approx(0.9056, rel=0.15)  # a short run: the order of magnitude
    assert len(truth["fixed_points"]) == 3
    comparison = run_report["comparison"]
    assert comparison["sign_pattern"]["truth"] == "+0-"
    assert comparison["lambda_max"]["truth"] == pytest.approx(max(truth["lyapunov"]["exponents"]))
    assert comparison["fixed_points"]["truth"] == 3
    assert {"kaplan_yorke", "correlation_dimension"} <= comparison.keys()


def test_run_groups_are_written_with_settings(run_report, fitted_run):
    names = runstore.list_groups(fitted_run, runstore.ANALYSIS)
    assert set(names) == {"lyapunov", "dimensions", "cycles", "symbolic", "truth", "comparison"}
    assert run_report["groups"] == [f"analysis/{n}" for n in ("lyapunov", "dimensions", "cycles", "symbolic", "truth", "comparison")]
    lyap = runstore.read_group(fitted_run, "analysis/lyapunov")
    np.testing.assert_allclose(lyap["exponents"].values, run_report["model"]["lyapunov"]["exponents"])
    assert lyap.sizes["truth_exponent"] == 3 and lyap.attrs["steps"] == SMALL.steps and lyap.attrs["model_kind"] == "alrnn"
    cycles = runstore.read_group(fitted_run, "analysis/cycles")
    assert cycles.sizes["cycle"] == len(run_report["model"]["cycles"])
    assert list(cycles["points"].dims) == ["cycle", "step", "variable"]
    symbolic = runstore.read_group(fitted_run, "analysis/symbolic")
    assert symbolic.sizes["time"] == SMALL.trajectory_steps and symbolic.attrs["possible"] == 4
    # The stored transitions are the changes of region along the stored labels.
    labels = symbolic["label"].values
    changes = np.flatnonzero(np.diff(labels))
    assert symbolic["transition_count"].values.sum() == len(changes)
    stored = set(zip(symbolic["transition_from"].values.tolist(), symbolic["transition_to"].values.tolist()))
    assert stored == set(zip(labels[changes].tolist(), labels[changes + 1].tolist()))
    truth = runstore.read_group(fitted_run, "analysis/truth")
    np.testing.assert_allclose(np.abs(truth["fixed_points_data"].values).max(), 27.0, atol=1e-6)
    comparison = runstore.read_group(fitted_run, "analysis/comparison")
    assert "lambda_max_relative_error" in comparison and comparison.attrs["sign_pattern_truth"] == "+0-"


def test_json_output_is_one_object(fitted_run, tmp_path):
    run = copy_run(fitted_run, tmp_path)
    lines: list[str] = []
    analyze_command(str(run), order=1, json_=True, steps=500, trajectory_steps=500, echo=lines.append)
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["settings"]["order"] == 1 and report["settings"]["steps"] == 500


def test_tables_are_printed(run_report, capsys):
    print_report(run_report)
    out = capsys.readouterr().out
    for title in ("Lyapunov spectrum", "Model against ground truth", "Fixed points and cycles", "Symbolic code", "true fixed points"):
        assert title in out


def test_no_write_leaves_the_store_alone(fitted_run, tmp_path):
    run = copy_run(fitted_run, tmp_path)
    for name in runstore.list_groups(run, runstore.ANALYSIS):
        runstore.remove_group(run, f"{runstore.ANALYSIS}/{name}")
    report = analyze(run, order=1, settings=SMALL, write=False)
    assert "groups" not in report and runstore.list_groups(run, runstore.ANALYSIS) == []


def test_truth_from_data_not_simulated(fitted_run, tmp_path):
    from dsr.data import to_dataset
    from dsr.zarrstore import write_dataset

    data = tmp_path / "plain.zarr"
    values = systems.get("lorenz63").trajectory(20_000, transient=500)
    write_dataset(to_dataset(values, 0.01, variables=("x", "y", "z")), data)
    run = copy_run(fitted_run, tmp_path)
    runstore.update_attrs(run, data_path=str(data))
    report = analyze(run, order=1, settings=SMALL, write=False)
    assert report["truth"]["source"] == "data" and report["truth"]["lyapunov"]["source"] == "series"
    assert report["truth"]["lyapunov"]["exponents"][0] == pytest.approx(0.9056, rel=0.1)  # Sprott's λ1, estimated from the series
    assert 1.5 < report["truth"]["correlation_dimension"]["value"] < 2.5
    assert set(report["comparison"]) == {"lambda_max", "sign_pattern", "correlation_dimension"}
    assert report["comparison"]["lambda_max"]["truth"] == report["truth"]["lyapunov"]["exponents"][0]
    written = analyze(run, order=1, settings=SMALL)
    group = runstore.read_group(run, "analysis/lyapunov")
    assert float(group["truth"][0]) == written["truth"]["lyapunov"]["exponents"][0]
    assert group["truth_divergence"].size == group["truth_divergence_time"].size > 20
    assert group.attrs["truth_method"].startswith("Rosenstein")
    runstore.update_attrs(run, data_path=str(tmp_path / "gone.zarr"))
    assert analyze(run, order=1, settings=SMALL, write=False)["truth"] is None


def test_system_report():
    report = analyze("henon", settings=SMALL)
    system = report["system"]
    assert report["kind"] == "system" and system["kind"] == "map"
    np.testing.assert_allclose(system["lyapunov"]["exponents"], [0.4192, -1.6232], rtol=0.05)
    assert len(system["fixed_points"]) == 2 and system["published"]["lyapunov_spectrum"][0] == 0.41922
    assert 1.0 < system["kaplan_yorke"] < 1.5


def test_system_with_parameters_and_tables(capsys):
    lines: list[str] = []
    analyze_command("lorenz63", param=["rho=20"], json_=True, steps=2_000, trajectory_steps=2_000, echo=lines.append)
    system = json.loads(lines[0])["system"]
    assert system["params"]["rho"] == 20.0 and system["published"] == {}
    # Below ρ ≈ 24.74 the two lobe equilibria are stable spirals.
    assert sorted(fp["type"] for fp in system["fixed_points"]) == ["saddle", "stable spiral", "stable spiral"]
    analyze_command("logistic", steps=1_000, trajectory_steps=1_000)
    assert "Lyapunov spectrum" in capsys.readouterr().out


def test_a_diverging_model_is_reported_with_empty_groups(tmp_path, capsys):
    # Linear units expand (A = 1.5); each ReLU unit's two region fixed points lie outside their regions.
    model = make_model("alrnn", 3, 4, relus=2, dtype=torch.float64, seeds=[0])
    with torch.no_grad():
        model.A.fill_(1.5)
        model.W.copy_(torch.diag(torch.tensor([0.0, 0.0, -1.0, -1.0]))[None])
        model.h.fill_(-1.0)
    run = runstore.create(tmp_path / "diverging.zarr", {"dt": 0.01, "variables": ["x", "y", "z"]})
    runstore.write_group(run, "params/best", model.to_dataset())
    report = analyze(run, settings=Settings(steps=100, trajectory_steps=1_000))
    assert report["model"]["lyapunov"] is None and report["model"]["symbolic"] is None
    assert "diverges" in report["model"]["notes"][0] and report["model"]["cycles"] == []
    assert report["truth"] is None and report["comparison"] == {}
    assert runstore.read_group(run, "analysis/cycles").sizes["cycle"] == 0
    print_report(report)
    assert "none found" in capsys.readouterr().out


def _error(call) -> str:
    with pytest.raises(DsrError) as err:
        call()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_bad_targets_and_options(fitted_run, tmp_path):
    assert "neither a run store nor a built-in system" in _error(lambda: analyze("lorenz"))
    assert "smooth system" in _error(lambda: analyze("lorenz63", order=2))
    assert "--order 0 must be at least 1" in _error(lambda: analyze("lorenz63", order=0))
    assert "--order 0 must be at least 1" in _error(lambda: analyze(fitted_run, order=0, write=False))
    assert "unknown parameter(s) nope" in _error(lambda: analyze("henon", params={"nope": 1.0}))
    assert "NAME=NUMBER" in _error(lambda: analyze_command("henon", param=["rho"]))
    assert "drop it for a run store" in _error(lambda: analyze(fitted_run, params={"rho": 28.0}))
    assert "--member 5 is out of range" in _error(lambda: analyze(fitted_run, member=5, write=False))
    assert "no parameters for checkpoint 'epoch7'" in _error(lambda: analyze(fitted_run, checkpoint="epoch7", write=False))
    assert "too short for dimensions" in _error(lambda: analyze("henon", settings=Settings(trajectory_steps=10)))


def test_run_store_without_parameters(tmp_path):
    empty = runstore.create(tmp_path / "empty.zarr", {"dt": 0.01})
    assert "no parameters for checkpoint 'best' (it has: none)" in _error(lambda: analyze(empty))


def test_a_data_store_is_analysed_from_its_series(tmp_path):
    report = analyze(DATA, settings=SMALL)
    assert report["kind"] == "data" and report["data"]["lyapunov"]["unit"] == "per time unit"
    # 5 % observation noise (data/README.md): λ1 still within 10 % of Sprott's 0.9056.
    assert report["data"]["lyapunov"]["exponents"][0] == pytest.approx(0.9056, rel=0.1)
    assert "drop --order" in _error(lambda: analyze(DATA, order=2))
    assert "not a readable Zarr store" in _error(lambda: analyze(tmp_path))


def test_a_model_that_is_not_piecewise_linear(fitted_run, tmp_path):
    run = copy_run(fitted_run, tmp_path)
    params = runstore.read_group(run, "params/best")
    params.attrs["model_kind"] = "transformer"  # (lstm is a zoo family now, analysed by dsr.run_analysis.zoo)
    runstore.write_group(run, "params/best", params)
    assert "model kind 'transformer' is not piecewise linear" in _error(lambda: analyze(run, write=False))
