"""Kaplan–Yorke and correlation dimensions (`dsr.analysis.dimensions`).

Reference values: (D_KY Lorenz 2.0621 from
Sprott's spectrum; D2 Lorenz 2.05 ± 0.01, Hénon 1.21 ± 0.01 by Grassberger & Procaccia 1983, with
the estimator-dependent windows [2.0, 2.1] and [1.15, 1.30] of FractalDimensions.jl's tests) and
the FractalDimensions.jl Kaplan–Yorke conventions (Datseris et al., Chaos 33, 2023).
"""

from __future__ import annotations

import numpy as np
import pytest

import dsr.systems as systems
from dsr.analysis import dimensions, lyapunov


def test_kaplan_yorke_of_lorenz_from_computed_spectrum():
    spectrum = lyapunov.lyapunov_spectrum(systems.get("lorenz63"), steps=50_000, dt=0.01, initial_conditions=2)
    assert dimensions.kaplan_yorke(spectrum.exponents) == pytest.approx(2.06, abs=0.01)


@pytest.mark.parametrize(
    ("spectrum", "expected"),
    [
        ([0.9056, 0.0, -14.5723], 2.0 + 0.9056 / 14.5723),
        ([-14.5723, 0.9056, 0.0], 2.0 + 0.9056 / 14.5723),  # order does not matter
        ([1.0, -1.0, -1.0], 2.0),
        ([1.0, 1.0, 1.0], 3.0),
        ([1.0, 1.0, -0.5], 3.0),
        ([-1.0, -1.0, -1.0], 0.0),
        ([0.5, -np.inf], 1.0),  # a superstable direction
    ],
)
def test_kaplan_yorke_conventions(spectrum, expected):
    assert dimensions.kaplan_yorke(spectrum) == pytest.approx(expected)


@pytest.mark.parametrize("spectrum", [[], [0.1, np.nan], [np.inf, -1.0]])
def test_kaplan_yorke_rejects_bad_spectra(spectrum):
    with pytest.raises(ValueError, match="non-empty spectrum without NaN"):
        dimensions.kaplan_yorke(spectrum)


def test_correlation_dimension_of_lorenz():
    x = systems.get("lorenz63").trajectory(10_000, transient=1_000)
    d2 = dimensions.correlation_dimension(x, theiler=10)
    assert 2.0 <= d2.dimension <= 2.1
    low, high = d2.fit_range
    assert 0 < low < high
    assert high / low >= 10 ** 1.25 * 0.99  # the fit spans at least the minimum width
    assert d2.points == 10_000 and d2.theiler == 10
    assert np.all(np.diff(d2.correlation_sum) >= 0) and d2.correlation_sum[-1] <= 1.0
    # Inside the fitted range the local slopes form the plateau the estimate comes from.
    inside = (d2.radii[:-1] >= low) & (d2.radii[1:] <= high)
    np.testing.assert_allclose(d2.local_slopes[inside], d2.dimension, rtol=0.15)


def test_correlation_dimension_of_henon():
    x = systems.get("henon").trajectory(10_000, transient=100)
    d2 = dimensions.correlation_dimension(x, theiler=1)
    assert 1.15 <= d2.dimension <= 1.30


def test_correlation_dimension_of_a_uniform_square():
    x = np.random.default_rng(0).uniform(size=(5_000, 2))
    assert dimensions.correlation_dimension(x, theiler=0).dimension == pytest.approx(2.0, abs=0.1)


def test_long_series_is_strided_and_theiler_counts_original_steps():
    x = systems.get("henon").trajectory(20_000, transient=100)
    d2 = dimensions.correlation_dimension(x, theiler=1, max_points=5_000)
    assert d2.points == 5_000
    assert 1.1 <= d2.dimension <= 1.35
    # A window as long as the series leaves no pairs.
    with pytest.raises(ValueError, match="no pairs outside the Theiler window"):
        dimensions.correlation_dimension(x[:50], theiler=100)


def test_a_fixed_point_has_dimension_zero():
    d2 = dimensions.correlation_dimension(np.ones((100, 3)))
    assert d2.dimension == 0.0 and np.isnan(d2.fit_range[0])


@pytest.mark.parametrize(
    ("x", "options", "message"),
    [
        (np.zeros((5, 2)), {}, r"x must have shape \(T, d\) with T >= 10"),
        (np.zeros((20, 2, 2)), {}, r"x must have shape \(T, d\)"),
        (np.full((20, 2), np.nan), {}, "x contains NaN or inf"),
        (np.random.default_rng(0).random((20, 2)), {"theiler": -1}, "need theiler >= 0"),
        (np.random.default_rng(0).random((20, 2)), {"n_radii": 2}, "n_radii >= 4"),
    ],
)
def test_correlation_dimension_bad_input(x, options, message):
    with pytest.raises(ValueError, match=message) as err:
        dimensions.correlation_dimension(x, **options)
    assert "\n" not in str(err.value)
