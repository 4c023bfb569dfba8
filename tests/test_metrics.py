"""Tests of dsr.analysis.metrics: D_stsp (binned and GMM), D_H and PE(n).

Expected values come from a separate Python port of GTF-shPLRNN's Julia measures (Hess et al., ICML 2023)
on the published Lorenz-63 data, and from the values this implementation gives on a Lorenz-63 run generated here.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from dsr.analysis import metrics

REFERENCE_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reference"


# Not cached: a cache entry records the module name, which differs with the pytest rootdir.
@numba.njit
def lorenz63_rk4(x0: np.ndarray, steps: int, dt: float) -> np.ndarray:
    """RK4 of Lorenz-63 (σ=10, ρ=28, β=8/3) from each row of x0 (B, 3): states 1..steps.

    Returns shape (B, steps, 3); used both to make data and as an exact predictor for PE.
    """
    out = np.empty((x0.shape[0], steps, 3))
    k = np.empty((4, 3))
    for b in range(x0.shape[0]):
        x = x0[b].copy()
        for i in range(steps):
            for j in range(4):
                y = x if j == 0 else x + (0.5 * dt if j < 3 else dt) * k[j - 1]
                k[j, 0] = 10.0 * (y[1] - y[0])
                k[j, 1] = y[0] * (28.0 - y[2]) - y[1]
                k[j, 2] = y[0] * y[1] - 8.0 / 3.0 * y[2]
            x = x + dt / 6.0 * (k[0] + 2.0 * k[1] + 2.0 * k[2] + k[3])
            out[b, i] = x
    return out


@pytest.fixture(scope="module")
def lorenz() -> np.ndarray:
    """200 000 standardised Lorenz-63 steps (dt 0.01) after a 1 000-step transient."""
    run = lorenz63_rk4(np.array([[1.0, 1.0, 1.0]]), 201_000, 0.01)[0, 1000:]
    return (run - run.mean(axis=0)) / run.std(axis=0)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """100 000 i.i.d. N(0, I) points in 3 dimensions."""
    return np.random.default_rng(1).standard_normal((100_000, 3))


def test_identical_series_give_zero(lorenz: np.ndarray) -> None:
    x = lorenz[:100_000]
    assert metrics.state_space_divergence(x, x) == 0.0
    assert metrics.state_space_divergence(x, x, method="gmm") == 0.0
    assert metrics.hellinger_distance(x, x) == 0.0


def test_lorenz_against_noise(lorenz: np.ndarray, noise: np.ndarray) -> None:
    # §3.6: Lorenz-63 test set vs i.i.d. N(0, 1): D_stsp 3.38, D_H 0.875 (here: 3.71, 0.877).
    assert metrics.state_space_divergence(lorenz[:100_000], noise) > 3.0
    assert metrics.hellinger_distance(lorenz[:100_000], noise) == pytest.approx(0.875, abs=0.01)


def test_two_windows_of_one_run(lorenz: np.ndarray) -> None:
    # The floor a perfect model reaches with 10^5 steps (§3.6: clean train vs test 0.028 and
    # D_H 0.055; here 0.047 and 0.047).
    first, second = lorenz[:100_000], lorenz[100_000:]
    d_stsp = metrics.state_space_divergence(first, second)
    assert 0.02 < d_stsp < 0.1
    assert metrics.hellinger_distance(first, second) == pytest.approx(0.05, abs=0.015)


@pytest.mark.skipif(
    not (REFERENCE_DATA / "lorenz63_test.npy").exists()
    or not (REFERENCE_DATA / "lorenz63_noisy_train.npy").exists(),
    reason="reference Lorenz-63 files not available",
)
def test_reference_calibration() -> None:
    # §3.6: GTF Lorenz-63 test (ground truth) vs noisy train: D_stsp 0.119, D_H 0.070.
    test = np.load(REFERENCE_DATA / "lorenz63_test.npy")
    train = np.load(REFERENCE_DATA / "lorenz63_noisy_train.npy")
    assert metrics.state_space_divergence(test, train) == pytest.approx(0.119, abs=0.01)
    assert metrics.hellinger_distance(test, train) == pytest.approx(0.070, abs=0.01)
    # The README's length effect: two 10 000-step windows of the test set give 1.96.
    assert metrics.state_space_divergence(test[:10_000], test[10_000:20_000]) == pytest.approx(
        1.96, abs=0.05
    )


def _dense_divergence(x_true: np.ndarray, x_gen: np.ndarray, n_bins: int, alpha: float) -> float:
    """The reference's dense definition, written directly with np.histogramdd."""
    sigma = x_true.std(axis=0, ddof=1)
    box = list(zip(x_true.min(axis=0) - 0.1 * sigma, x_true.max(axis=0) + 0.1 * sigma))
    c_true = np.histogramdd(x_true, bins=n_bins, range=box)[0].ravel()
    c_gen = np.histogramdd(x_gen, bins=n_bins, range=box)[0].ravel()
    p = (c_true + alpha) / (c_true.sum() + alpha * c_true.size)
    q = (c_gen + alpha) / (c_gen.sum() + alpha * c_gen.size)
    return float(np.sum(p * np.log(p / q)))


@pytest.mark.parametrize("n_bins", [5, 12])
def test_sparse_histogram_matches_dense_definition(n_bins: int) -> None:
    rng = np.random.default_rng(3)
    x_true = rng.standard_normal((5000, 3))
    # Shifted and wider: many generated points fall outside the box and must be dropped.
    x_gen = 0.5 + 1.5 * rng.standard_normal((3000, 3))
    expected = _dense_divergence(x_true, x_gen, n_bins, 1e-5)
    got = metrics.binned_state_space_divergence(x_true, x_gen, n_bins)
    assert got == pytest.approx(expected, rel=1e-10)


def test_binned_edge_cases(lorenz: np.ndarray) -> None:
    x = lorenz[:10_000]
    assert np.isnan(metrics.binned_state_space_divergence(x, x + 100.0))
    # NaN/inf generated points fall outside the box like any other outlier.
    gen = lorenz[10_000:20_000].copy()
    expected = metrics.binned_state_space_divergence(x, gen[100:])
    gen[:50] = np.nan
    gen[50:100] = np.inf
    assert metrics.binned_state_space_divergence(x, gen) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="pool trials"):
        metrics.state_space_divergence(x[None], x[None])


def test_binned_is_sparse(lorenz: np.ndarray) -> None:
    first = lorenz[:100_000]
    # 30^6 = 7.3e8 cells: a dense histogram pair would need 11 GB.
    delay6 = np.concatenate([first, np.roll(first, 10, axis=0)], axis=1)
    assert metrics.binned_state_space_divergence(delay6, delay6) == 0.0
    assert metrics.binned_state_space_divergence(delay6, delay6[::-1] + 0.5) > 1.0


def test_auto_selects_bins_up_to_five_dimensions(lorenz: np.ndarray) -> None:
    x, y = lorenz[:20_000], lorenz[20_000:40_000]
    assert metrics.state_space_divergence(x, y) == metrics.binned_state_space_divergence(x, y)
    x6 = np.concatenate([x, x ** 2], axis=1)
    y6 = np.concatenate([y, y ** 2], axis=1)
    assert metrics.state_space_divergence(x6, y6) == metrics.gmm_state_space_divergence(x6, y6)


def test_gmm_orders_distributions(lorenz: np.ndarray, noise: np.ndarray) -> None:
    same = metrics.gmm_state_space_divergence(lorenz[:10_000], lorenz[100_000:110_000])
    different = metrics.gmm_state_space_divergence(lorenz[:10_000], noise[:10_000])
    assert 0.0 < same < 0.05
    assert different > 5 * same


def _gaussian_kl(var_p: float, var_q: float, shift: float, n_dim: int) -> float:
    """KL(N(0, var_p I) ‖ N(shift · 1, var_q I)) in n_dim dimensions."""
    return n_dim / 2 * (var_p / var_q - 1 + np.log(var_q / var_p) + shift**2 / var_q)


@pytest.mark.parametrize(("shift", "scale"), [(1.0, 1.0), (0.0, 2.0)])
def test_both_estimators_recover_the_kl_of_two_gaussians(shift: float, scale: float) -> None:
    # The GMM estimates the KL of both distributions convolved with its N(0, σ²I) components.
    rng = np.random.default_rng(5)
    p = rng.standard_normal((100_000, 2))
    q = scale * rng.standard_normal((100_000, 2)) + shift
    binned = metrics.binned_state_space_divergence(p, q)
    assert binned == pytest.approx(_gaussian_kl(1, scale**2, shift, 2), rel=0.2)
    for var in (1.0, 0.03):
        expected = _gaussian_kl(1 + var, scale**2 + var, shift, 2)
        assert metrics.gmm_state_space_divergence(p, q, var) == pytest.approx(expected, rel=0.2)


def test_gmm_agrees_with_bins_in_order_of_magnitude(lorenz: np.ndarray, noise: np.ndarray) -> None:
    # With σ² = 0.03 a component is about as wide as a 30-bin cell of the standardised attractor
    # (range ≈ 4.5σ / 30 ≈ 0.15); measured: binned 7.1, GMM 1.5.
    binned = metrics.binned_state_space_divergence(lorenz[:10_000], noise[:10_000])
    gmm = metrics.gmm_state_space_divergence(lorenz[:10_000], noise[:10_000], scaling=0.03)
    assert 0.1 < gmm / binned < 10


def test_gmm_is_reproducible_and_validates(lorenz: np.ndarray) -> None:
    x, y = lorenz[:5000], lorenz[50_000:55_000]
    assert metrics.gmm_state_space_divergence(x, y, seed=7) == metrics.gmm_state_space_divergence(
        x, y, seed=7
    )
    gen = y.copy()
    gen[0] = np.nan
    assert np.isnan(metrics.gmm_state_space_divergence(x, gen))
    with pytest.raises(ValueError):
        metrics.gmm_state_space_divergence(x, y, scaling=0.0)


def test_power_spectrum_of_a_sine() -> None:
    t = np.arange(4096)
    x = np.column_stack([3.0 + 2.0 * np.sin(2 * np.pi * 100 * t / 4096), np.cos(t * 0.3)])
    ps = metrics.smoothed_power_spectrum(x, smoothing_sigma=2.0)
    assert ps.shape == (2049, 2)
    np.testing.assert_allclose(ps.sum(axis=0), 1.0)
    assert np.argmax(ps[:, 0]) == 100


def test_hellinger_ignores_scale_and_offset(lorenz: np.ndarray) -> None:
    x, y = lorenz[:20_000], lorenz[20_000:40_000]
    assert metrics.hellinger_distance(x, 5.0 * y - 2.0) == pytest.approx(
        metrics.hellinger_distance(x, y), rel=1e-9
    )
    with pytest.raises(ValueError, match="same length"):
        metrics.hellinger_distance(x, y[:-1])


def test_hellinger_averages_over_variables(lorenz: np.ndarray, noise: np.ndarray) -> None:
    x = lorenz[:20_000]
    one_bad = x.copy()
    one_bad[:, 1] = noise[:20_000, 1]
    single = metrics.hellinger_distance(x[:, 1], noise[:20_000, 1])
    assert metrics.hellinger_distance(x, one_bad) == pytest.approx(single / 3, rel=1e-12)


def _flow_predictor(offset_per_step: np.ndarray) -> metrics.Predictor:
    """Exact Lorenz-63 predictions plus k · offset_per_step at step k."""

    def predict(x0: np.ndarray, n: int) -> np.ndarray:
        steps = np.arange(1, n + 1)[None, :, None]
        return lorenz63_rk4(x0, n, 0.01) + steps * offset_per_step

    return predict


@pytest.fixture(scope="module")
def short_run() -> np.ndarray:
    """2 000 unstandardised Lorenz-63 states, so the predictor's RK4 reproduces them exactly."""
    return lorenz63_rk4(np.array([[1.0, 1.0, 1.0]]), 2000, 0.01)[0]


def test_prediction_error_of_a_perfect_predictor_is_zero(short_run: np.ndarray) -> None:
    assert metrics.prediction_error(short_run, _flow_predictor(np.zeros(3)), 20) < 1e-20


def test_prediction_error_scores_step_n_only(short_run: np.ndarray) -> None:
    offset = np.array([0.1, -0.2, 0.3])
    predict = _flow_predictor(offset)
    # Error grows as k · offset, so PE(n) = n² · mean(offset²); an average over steps would be less.
    assert metrics.prediction_error(short_run, predict, 20) == pytest.approx(
        400 * np.mean(offset ** 2), rel=1e-9
    )
    curve = metrics.prediction_error_curve(short_run, predict(short_run[:-20], 20))
    np.testing.assert_allclose(curve, np.arange(1, 21) ** 2 * np.mean(offset ** 2), rtol=1e-9)


def test_prediction_error_uses_every_point_as_initial_condition(short_run: np.ndarray) -> None:
    seen: list[np.ndarray] = []

    def constant_offset(x0: np.ndarray, n: int) -> np.ndarray:
        seen.append(x0)
        return lorenz63_rk4(x0, n, 0.01) + 0.5

    assert metrics.prediction_error(short_run, constant_offset, 5) == pytest.approx(0.25)
    np.testing.assert_array_equal(seen[0], short_run[:-5])
    with pytest.raises(ValueError):
        metrics.prediction_error_curve(short_run, np.zeros((len(short_run), 5, 3)))


def _direct_log_mean_kernel(samples: np.ndarray, centres: np.ndarray, inv_two_var: float) -> np.ndarray:
    """The definition with explicit differences, every distance formed: the reference for the BLAS form."""
    from scipy.special import logsumexp

    squared = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    return logsumexp(-inv_two_var * squared, axis=1) - np.log(centres.shape[0])


@pytest.mark.parametrize("n_dim", [6, 40])
def test_gmm_kernel_equals_the_definition(n_dim: int) -> None:
    rng = np.random.default_rng(n_dim)
    samples = rng.standard_normal((300, n_dim))
    centres = 1.5 * rng.standard_normal((700, n_dim)) + 0.3
    for inv_two_var in (0.5, 16.7):  # σ² = 1 and 0.03: far samples test the log-sum-exp about the nearest centre
        np.testing.assert_allclose(
            metrics._log_mean_kernel(samples, centres, inv_two_var), _direct_log_mean_kernel(samples, centres, inv_two_var), rtol=1e-12, atol=1e-10
        )
    # A diverged run: infinite centres (and one whose squared norm overflows) add nothing but count in T.
    diverged = centres.copy()
    diverged[3], diverged[5, 0] = np.inf, 1e200
    expected = _direct_log_mean_kernel(samples, centres[[t for t in range(700) if t not in (3, 5)]], 0.5) + np.log(698 / 700)
    np.testing.assert_allclose(metrics._log_mean_kernel(samples, diverged, 0.5), expected, rtol=1e-12)


def test_divergences_of_an_ensemble_equal_one_at_a_time(lorenz: np.ndarray) -> None:
    truth = lorenz[:3000]
    six = lambda x: np.concatenate([x, x**2], axis=1)  # noqa: E731 - above BINNED_MAX_DIM: the GMM
    members = [lorenz[10_000 * e : 10_000 * e + 3000] * (1 + 0.1 * e) for e in range(1, 4)]
    for transform in (lambda x: x, six):
        together = metrics.state_space_divergences(transform(truth), [transform(m) for m in members])
        alone = [metrics.state_space_divergence(transform(truth), transform(m)) for m in members]
        assert list(together) == alone
    together = metrics.hellinger_distances(truth, members)
    assert list(together) == [metrics.hellinger_distance(truth, m) for m in members]
