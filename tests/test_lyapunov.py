"""Lyapunov spectra (`dsr.analysis.lyapunov`) against published values and exact identities.

Reference values: Sprott (Chaos and Time-Series Analysis, OUP 2003: the Lorenz and Rössler
spectra, Hénon, logistic r = 4, Lorenz-96 N = 40, F = 8) and the trace identities Σλ = −(σ+1+β)
(Lorenz), Σλ = ln b (Hénon), Σλ = −N (Lorenz-96).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dsr.systems as systems
from dsr.analysis import lyapunov, pwl


@pytest.fixture(scope="module")
def lorenz_spectrum() -> lyapunov.LyapunovResult:
    # T = 1000 time units from two starts: λ1 to ~0.5 %, the zero exponent to ~1e-3.
    return lyapunov.lyapunov_spectrum(systems.get("lorenz63"), steps=100_000, dt=0.01, initial_conditions=2)


def test_lorenz_spectrum_matches_sprott(lorenz_spectrum):
    lam = lorenz_spectrum.exponents
    assert lorenz_spectrum.unit == "per time unit"
    assert lam[0] == pytest.approx(0.9056, rel=0.02)
    assert abs(lam[1]) < 0.01
    assert lam[2] == pytest.approx(-14.5723, rel=0.01)
    assert lam.sum() == pytest.approx(-(10.0 + 1.0 + 8.0 / 3.0), abs=1e-3)


def test_result_carries_convergence_record(lorenz_spectrum):
    r = lorenz_spectrum
    assert r.per_initial_condition.shape == (2, 3)
    assert r.running.shape[:2] == (2, len(r.times)) and r.running.shape[2] == 3
    np.testing.assert_allclose(r.running[:, -1], r.per_initial_condition, rtol=1e-12)
    assert r.times[-1] == pytest.approx(1000.0)
    assert np.all(np.diff(r.times) > 0)
    assert np.all(r.drift < 0.05) and np.all(r.spread >= 0)
    assert r.settings["initial_conditions"] == 2 and r.settings["dt"] == 0.01


def test_rossler_largest_exponent():
    r = lyapunov.max_lyapunov(systems.get("rossler"), steps=200_000, dt=0.05, transient=2_000, initial_conditions=2)
    assert r.exponents.shape == (1,)
    assert r.exponents[0] == pytest.approx(0.0714, rel=0.05)


def test_henon_spectrum_and_area_contraction():
    r = lyapunov.lyapunov_spectrum(systems.get("henon"), steps=200_000, initial_conditions=2)
    assert r.unit == "per step"
    np.testing.assert_allclose(r.exponents, [0.4192, -1.6232], rtol=0.005)
    assert r.exponents.sum() == pytest.approx(math.log(0.3), abs=1e-10)


def test_logistic_map_at_r4_is_ln2():
    r = lyapunov.lyapunov_spectrum(systems.get("logistic"), steps=1_000_000, initial_conditions=2)
    assert r.exponents[0] == pytest.approx(math.log(2.0), abs=1e-3)


def test_lorenz96_largest_exponent_and_trace():
    l96 = systems.get("lorenz96")
    top = lyapunov.max_lyapunov(l96, steps=50_000, transient=2_000, initial_conditions=2)
    assert top.exponents[0] == pytest.approx(1.70, rel=0.03)
    # The divergence is −N everywhere, so the full sum converges within a few time units.
    full = lyapunov.lyapunov_spectrum(l96, steps=1_000, transient=200)
    assert full.exponents.shape == (40,)
    assert full.exponents.sum() == pytest.approx(-40.0, abs=1e-2)


def test_partial_spectrum_leading_exponent_equals_full():
    # Gram–Schmidt leaves the first vector independent of the others: λ1 is the same bit for bit.
    henon = systems.get("henon")
    x0 = henon.sample_initial_conditions(1, np.random.default_rng(3))
    full = lyapunov.lyapunov_spectrum(henon, x0, steps=5_000)
    one = lyapunov.max_lyapunov(henon, x0, steps=5_000)
    assert one.exponents[0] == pytest.approx(full.exponents[0], abs=1e-12)


def test_reorthonormalisation_interval_does_not_change_the_result():
    henon = systems.get("henon")
    x0 = henon.sample_initial_conditions(1, np.random.default_rng(4))
    every = lyapunov.lyapunov_spectrum(henon, x0, steps=10_000)
    sparse = lyapunov.lyapunov_spectrum(henon, x0, steps=10_000, interval=5)
    assert sparse.interval == 5 and sparse.steps == 10_000
    np.testing.assert_allclose(sparse.exponents, every.exponents, atol=1e-9)


def test_model_spectrum_of_a_linear_map_is_log_abs_a():
    # A PLRNN with W = 0 is z' = A ⊙ z + h: exponents ln|A_i| exactly, per step or per time unit.
    a = np.array([0.9, -0.5, 0.2])
    model = pwl.from_params("plrnn", {"A": a, "W": np.zeros((3, 3)), "h": np.array([0.1, 0.2, 0.3])})
    per_step = lyapunov.lyapunov_spectrum(model, np.zeros(3), steps=200, transient=0)
    np.testing.assert_allclose(np.sort(per_step.exponents), np.sort(np.log(np.abs(a))), atol=1e-12)
    per_time = lyapunov.lyapunov_spectrum(model, np.zeros(3), steps=200, transient=0, dt=0.01)
    assert per_time.unit == "per time unit"
    np.testing.assert_allclose(per_time.exponents, per_step.exponents / 0.01, rtol=1e-12)


def test_model_spectrum_matches_a_numpy_qr_loop():
    rng = np.random.default_rng(0)
    m = 5
    params = {"A": rng.uniform(0.3, 0.9, m), "W": 0.6 * rng.standard_normal((m, m)), "h": 0.3 * rng.standard_normal(m)}
    model = pwl.from_params("alrnn", params, relus=3)
    z0 = 0.5 * rng.standard_normal(m)
    ours = lyapunov.lyapunov_spectrum(model, z0, steps=300, transient=0)
    z, q, total = z0.copy(), np.eye(m), np.zeros(m)
    for _ in range(300):
        q, r = np.linalg.qr(model.jacobian(z) @ q)
        total += np.log(np.abs(np.diag(r)))
        z = model.step(z)
    np.testing.assert_allclose(ours.exponents, total / 300, atol=1e-10)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_exponents": 0}, "n_exponents must be in 1..2"),
        ({"n_exponents": 3}, "n_exponents must be in 1..2"),
        ({"steps": 0}, "need steps >= 1"),
        ({"interval": 0}, "interval >= 1"),
        ({"transient": -1}, "transient >= 0"),
        ({"records": 0}, "records >= 1"),
        ({"dt": 0.0}, "dt must be positive"),
        ({"initial_conditions": 0}, "initial_conditions must be >= 1"),
        ({"x0": np.zeros(3)}, r"x0 must have shape \(2,\) or \(K, 2\)"),
        ({"x0": np.array([np.nan, 0.0])}, "x0 contains NaN"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message) as err:
        lyapunov.lyapunov_spectrum(systems.get("henon"), **options)
    assert "\n" not in str(err.value)
