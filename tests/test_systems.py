"""Tests of the benchmark systems library `dsr.systems`.

Reference values: Sprott ("Lyapunov exponent and dimension of the Lorenz attractor"; Chaos and
Time-Series Analysis, OUP 2003), Grassberger & Procaccia (Physica D 9, 1983), exact trace identities and fixed points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dsr.systems as systems

ALL = systems.names()
FLOWS = [n for n in ALL if systems.get(n).kind == "flow"]
MAPS = [n for n in ALL if systems.get(n).kind == "map"]


def _states_on_attractor(sys: systems.System, k: int, seed: int) -> np.ndarray:
    """``k`` states picked at random from a trajectory after a transient."""
    traj = sys.trajectory(2000, transient=1000)
    rng = np.random.default_rng(seed)
    return traj[rng.choice(len(traj), size=k, replace=False)]


def _finite_difference_jacobian(func, x: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = rel * (1.0 + abs(x[j]))
        cols.append((func(x + e) - func(x - e)) / (2.0 * e[j]))
    return np.stack(cols, axis=1)


def _perturbed_params(sys: systems.System) -> dict[str, float]:
    # Distinct factors per parameter, so equal defaults (Rössler a = b) become different
    # and a parameter read from the wrong slot of p shows up; integer parameters stay.
    return {
        k: v if isinstance(v, int) else v * (1.0 + 0.07 * (i + 1))
        for i, (k, v) in enumerate(sys.params.items())
    }


# --- registry -------------------------------------------------------------------
def test_registry_lists_all_systems_sorted():
    expected = {
        "lorenz63", "rossler", "lorenz96", "chua", "chua_pwl", "duffing", "duffing_forced", "thomas",
        "hindmarsh_rose", "mackey_glass", "henon", "logistic", "lozi", "ikeda", "tent",
    }
    assert set(ALL) == expected
    assert ALL == sorted(ALL)


def test_unknown_system_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown system 'lorenz'; choose one of: .*lorenz63.*rossler"):
        systems.get("lorenz")


def test_unknown_parameter_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) r for system 'lorenz63'.*sigma, rho, beta"):
        systems.get("lorenz63", r=28.0)


@pytest.mark.parametrize(("name", "key", "value"), [("lorenz96", "N", 4.5), ("lorenz96", "N", 3), ("mackey_glass", "M", 1)])
def test_integer_parameters_are_validated(name, key, value):
    with pytest.raises(ValueError, match=f"parameter {key} .* must be an integer"):
        systems.get(name, **{key: value})


def test_dimension_follows_integer_parameters():
    l96 = systems.get("lorenz96", N=7)
    assert l96.dim == 7 and l96.params["N"] == 7 and l96.x0.shape == (7,)
    assert l96.variables == tuple(f"x{i}" for i in range(7))
    mg = systems.get("mackey_glass", M=10)
    assert mg.dim == 11 and mg.jacobian(mg.x0).shape == (11, 11)


def test_parameters_resolve_and_invariants_only_at_defaults():
    lorenz = systems.get("lorenz63", rho=30)
    assert lorenz.params == {"sigma": 10.0, "rho": 30.0, "beta": 8.0 / 3.0}
    assert lorenz.default_params["rho"] == 28.0
    np.testing.assert_array_equal(lorenz.param_array, [10.0, 30.0, 8.0 / 3.0])
    assert lorenz.invariants == {}
    inv = systems.get("lorenz63").invariants
    assert inv["lyapunov_spectrum"] == (0.9056, 0.0, -14.5723)
    assert inv["max_lyapunov_exponent"] == 0.9056
    assert "Sprott" in inv["source"]


@pytest.mark.parametrize("name", ALL)
def test_metadata_is_consistent(name):
    sys = systems.get(name)
    assert sys.name == name and sys.kind in ("flow", "map")
    assert len(sys.variables) == sys.dim == sys.x0.shape[0]
    assert list(sys.params) == list(sys.default_params)
    assert sys.description and sys.reference
    assert (sys.default_dt is None) == (sys.kind == "map")
    assert hasattr(sys, "rhs") == hasattr(sys, "reference_trajectory") == (sys.kind == "flow")
    assert hasattr(sys, "map") == (sys.kind == "map")


@pytest.mark.parametrize("name", [n for n in ALL if "lyapunov_spectrum" in systems.get(n).invariants])
def test_published_kaplan_yorke_matches_published_spectrum(name):
    inv = systems.get(name).invariants
    assert inv["source"]
    spectrum = np.asarray(inv["lyapunov_spectrum"])
    assert np.all(np.diff(spectrum) <= 0)
    if "kaplan_yorke_dimension" in inv:
        sums = np.cumsum(spectrum)
        j = int(np.sum(sums >= 0))
        assert inv["kaplan_yorke_dimension"] == pytest.approx(j + sums[j - 1] / abs(spectrum[j]), abs=2e-4)


# --- Jacobians ------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("perturb", [False, True], ids=["default", "perturbed"])
def test_jacobian_matches_central_differences(name, perturb):
    sys = systems.get(name)
    states = _states_on_attractor(sys, 5, seed=1)
    if perturb:
        sys = systems.get(name, **_perturbed_params(sys))
    func = sys.rhs if sys.kind == "flow" else sys.map
    for x in states:
        jac = sys.jacobian(x)
        assert jac.shape == (sys.dim, sys.dim)
        scale = max(1.0, np.abs(jac).max())
        np.testing.assert_allclose(jac, _finite_difference_jacobian(func, x), rtol=1e-6, atol=1e-6 * scale)


# --- fixed points and their eigenvalues --------------------------------------------
def _sorted_eigenvalues(sys, x):
    return np.sort_complex(np.linalg.eigvals(sys.jacobian(x)))


def test_lorenz_fixed_points_and_eigenvalues():
    lorenz = systems.get("lorenz63")
    q = math.sqrt(8.0 / 3.0 * 27.0)
    assert q == pytest.approx(8.4853, abs=1e-4)
    for c in ([q, q, 27.0], [-q, -q, 27.0]):
        np.testing.assert_allclose(lorenz.rhs(c), 0.0, atol=1e-12)
        np.testing.assert_allclose(
            _sorted_eigenvalues(lorenz, c), np.sort_complex([-13.8546, 0.0940 - 10.1945j, 0.0940 + 10.1945j]), atol=1e-4
        )
    np.testing.assert_allclose(_sorted_eigenvalues(lorenz, np.zeros(3)), [-22.8277, -8.0 / 3.0, 11.8277], atol=1e-4)


def test_rossler_fixed_points_and_eigenvalues():
    rossler = systems.get("rossler")
    a, b, c = 0.2, 0.2, 5.7
    expected = {
        -1: ([0.007026, -0.035131, 0.035131], [-5.687, 0.097 - 0.995j, 0.097 + 0.995j]),
        +1: ([5.692974, -28.464869, 28.464869], [-5.428j, 5.428j, 0.193]),
    }
    for sign, (point, eigenvalues) in expected.items():
        x = (c + sign * math.sqrt(c * c - 4.0 * a * b)) / 2.0
        fixed_point = np.array([x, -x / a, x / a])
        np.testing.assert_allclose(rossler.rhs(fixed_point), 0.0, atol=1e-12)
        np.testing.assert_allclose(fixed_point, point, atol=1e-6)
        np.testing.assert_allclose(_sorted_eigenvalues(rossler, fixed_point), np.sort_complex(eigenvalues), atol=1e-3)


def test_henon_fixed_points_and_eigenvalues():
    henon = systems.get("henon")
    expected = {
        0.63135448: [-1.92374, 0.15595],
        -1.13135448: [-0.09203, 3.25982],
    }
    for x, eigenvalues in expected.items():
        point = np.array([x, 0.3 * x])
        np.testing.assert_allclose(henon.map(point), point, atol=1e-8)
        np.testing.assert_allclose(_sorted_eigenvalues(henon, point), eigenvalues, atol=1e-5)


# --- exact divergence identities -------------------------------------------------
def test_lorenz_trace_is_constant():
    for params in ({}, {"sigma": 16.0, "rho": 45.92, "beta": 4.0}):
        lorenz = systems.get("lorenz63", **params)
        p = lorenz.params
        for x in np.random.default_rng(2).normal(0.0, 20.0, size=(10, 3)):
            assert np.trace(lorenz.jacobian(x)) == pytest.approx(-(p["sigma"] + 1.0 + p["beta"]), rel=1e-14)


@pytest.mark.parametrize("n", [40, 7])
def test_lorenz96_trace_is_minus_n(n):
    l96 = systems.get("lorenz96", N=n)
    for x in np.random.default_rng(3).normal(0.0, 5.0, size=(10, n)):
        assert np.trace(l96.jacobian(x)) == pytest.approx(-n, rel=1e-14)


@pytest.mark.parametrize(("name", "log_det"), [("henon", math.log(0.3)), ("lozi", math.log(0.5)), ("ikeda", 2 * math.log(0.9))])
def test_map_log_determinant_is_constant(name, log_det):
    sys = systems.get(name)
    for x in _states_on_attractor(sys, 10, seed=4):
        assert math.log(abs(np.linalg.det(sys.jacobian(x)))) == pytest.approx(log_det, abs=1e-12)


# --- integration ------------------------------------------------------------------
def test_rk4_matches_dop853_on_lorenz():
    lorenz = systems.get("lorenz63")
    x0 = lorenz.trajectory(1, transient=500)[0]
    fixed = lorenz.trajectory(1001, dt=0.001, x0=x0)
    reference = lorenz.reference_trajectory(1001, dt=0.001, x0=x0)
    assert reference.shape == fixed.shape == (1001, 3)
    np.testing.assert_array_equal(fixed[0], x0)
    assert np.abs(fixed - reference).max() < 1e-6


def test_rk4_is_fourth_order():
    lorenz = systems.get("lorenz63")
    x0 = lorenz.trajectory(1, transient=500)[0]
    exact = lorenz.reference_trajectory(2, dt=1.0, x0=x0)[-1]
    errors = [np.abs(lorenz.trajectory(int(round(1 / dt)) + 1, dt=dt, x0=x0)[-1] - exact).max() for dt in (0.01, 0.005)]
    assert 13.0 < errors[0] / errors[1] < 19.0


@pytest.mark.parametrize("name", FLOWS)
def test_rk4_matches_dop853_at_default_dt(name):
    sys = systems.get(name)
    x0 = sys.trajectory(1, transient=1000)[0]
    steps = int(round(1.0 / sys.default_dt)) + 1
    fixed, reference = sys.trajectory(steps, x0=x0), sys.reference_trajectory(steps, x0=x0)
    # One time unit at the default step: RK4 error well below the attractor scale
    # (the piecewise-linear Chua diode limits the order at its kinks).
    assert np.abs(fixed - reference).max() < 1e-3 * np.abs(reference).max()


def test_mackey_glass_matches_method_of_steps():
    """The Chebyshev history buffer reproduces an independent Heun method-of-steps solution."""
    mg = systems.get("mackey_glass")
    tau, beta, gamma, n, m = 17.0, 0.2, 0.1, 10.0, 20
    h, t_start, t_span = 0.005, 200.0, 60.0
    lag, steps = int(round(tau / h)), int(round((t_start + t_span) / h))
    x = np.full(lag + steps + 1, 1.2)  # x[i] = x((i - lag) h), constant history on [-τ, 0]

    def rate(now, delayed):
        return beta * delayed / (1.0 + delayed**n) - gamma * now

    for i in range(lag, lag + steps):
        slope = rate(x[i], x[i - lag])
        predictor = x[i] + h * slope
        x[i + 1] = x[i] + 0.5 * h * (slope + rate(predictor, x[i + 1 - lag]))
    # Start the buffer from the smooth history segment on the attractor at t_start:
    # u_j = x(t_start + θ_j) at the Chebyshev extrema θ_j of [-τ, 0].
    theta = 0.5 * tau * (np.cos(np.pi * np.arange(m + 1) / m) - 1.0)
    times = h * (np.arange(x.size) - lag)
    buffer = mg.trajectory(601, x0=np.interp(t_start + theta, times, x))  # dt 0.1 = 20 h
    start = int(round(t_start / h))
    assert np.abs(buffer[:, 0] - x[lag + start :: 20][:601]).max() < 1e-5
    # The last buffer entry is the delayed value x(t - τ).
    assert np.abs(buffer[:, -1] - x[start::20][:601]).max() < 1e-5


@pytest.mark.parametrize("name", ALL)
def test_trajectories_stay_finite_and_bounded(name):
    sys = systems.get(name)
    traj = sys.trajectory(5000)
    assert traj.shape == (5000, sys.dim)
    np.testing.assert_array_equal(traj[0], sys.x0)
    assert np.isfinite(traj).all() and np.abs(traj).max() < 1e3


@pytest.mark.parametrize("name", ALL)
def test_batch_equals_single_trajectories(name):
    sys = systems.get(name)
    x0s = sys.sample_initial_conditions(3, np.random.default_rng(5))
    batch = sys.trajectory(50, x0=x0s, transient=7)
    assert batch.shape == (3, 50, sys.dim)
    for x0, rows in zip(x0s, batch):
        np.testing.assert_array_equal(rows, sys.trajectory(50, x0=x0, transient=7))


@pytest.mark.parametrize("name", ["lorenz63", "henon"])
def test_transient_is_discarded(name):
    sys = systems.get(name)
    np.testing.assert_array_equal(sys.trajectory(10, transient=3), sys.trajectory(13)[3:])


def test_map_trajectory_iterates_the_map():
    henon = systems.get("henon")
    traj = henon.trajectory(4)
    for before, after in zip(traj[:-1], traj[1:]):
        np.testing.assert_array_equal(henon.map(before), after)
    with pytest.raises(ValueError, match="takes no dt"):
        henon.trajectory(4, dt=0.1)


@pytest.mark.parametrize("name", ALL)
def test_sample_initial_conditions_are_distinct_and_reproducible(name):
    sys = systems.get(name)
    x0s = sys.sample_initial_conditions(4, np.random.default_rng(6))
    assert x0s.shape == (4, sys.dim) and np.isfinite(x0s).all()
    assert len({tuple(row) for row in x0s}) == 4
    np.testing.assert_array_equal(x0s, sys.sample_initial_conditions(4, np.random.default_rng(6)))


def test_state_shape_is_checked():
    lorenz = systems.get("lorenz63")
    with pytest.raises(ValueError, match=r"expected a state of shape \(3,\)"):
        lorenz.rhs(np.zeros(4))
    with pytest.raises(ValueError, match=r"\(3,\) or \(K, 3\)"):
        lorenz.trajectory(5, x0=np.zeros((2, 2)))


def test_numba_functions_take_the_parameter_array():
    sys = systems.get("rossler", c=4.0)
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(sys.numba_rhs(x, sys.param_array), sys.rhs(x))
    np.testing.assert_array_equal(sys.numba_jacobian(x, sys.param_array), sys.jacobian(x))
