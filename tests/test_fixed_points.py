"""Fixed points and cycles: SCYFI and exhaustive search on PWL models, Newton on smooth systems.

Fixtures: the SCYFI test suite (DurstewitzLab/SCYFI test/convPLRNN_tests.jl and
test/shPLRNN_tests.jl; Eisenmann et al., NeurIPS 2023): a 2-D PLRNN with a single
fixed point ≈ (0.3649, −22.261), the variant a1 = 0.8377689 with exactly two 16-cycles (max
|eigenvalue| 0.519 and 1.610) and no cycles of orders 2–15, and an shPLRNN (M = 2, L = 10) with
exactly one fixed point ≈ (−0.03, 0.40). Smooth systems: the Lorenz and
Hénon equilibria and their eigenvalues in closed form.
"""

from __future__ import annotations

import numpy as np
import pytest

import dsr.systems as systems
from dsr.analysis import cycles, fixed_points, pwl
from dsr.analysis.stability import classify

_W = np.array([[0.0, -0.6437499999999996], [0.52505308, 0.0]])
_H = np.array([0.37298253000000087, -0.97931491])
_SHALLOW = {
    "A": [1.4799836250879086, -1.6945099980546405],
    "W1": [
        [0.8900829721936014, 0.24766868576521212, 0.2554263710950393, -0.5771080679179108, -2.129379740761085,
         0.031728042646673976, -0.7740703525170001, 0.04768259094291391, 0.6792959504153095, -1.7781119769858111],
        [0.6297279024943379, 0.5586975133684497, -0.18842627535543358, 0.7152028558426154, 2.238266026927219,
         1.0163441695005024, 0.6115773461504028, 1.8513040760318145, 0.5127750227966122, -2.337416929726536],
    ],
    "W2": [
        [-0.7543485848832211, 0.857424094861255], [-0.12981333832339487, 0.9290731862819631],
        [0.06164740828503748, -1.6206522735934827], [0.1856635717214527, 0.23370129970278428],
        [1.4788242336217083, -1.4604870389877311], [-0.04197765409809221, 0.364736070574788],
        [0.04390077093273831, -0.6840588607748522], [0.34236696876785494, -0.6110477480680268],
        [0.11164936136447304, 0.2509392315579666], [0.9314203111545968, 0.18253806886914628],
    ],
    "h1": [0.18005923664630755, 0.42057092737475477],
    "h2": [-0.017897789466083707, 1.014731429962641, -0.3431368102401408, -2.3065949842414866, -0.7738820872835147,
           0.009176181040445722, 0.6395596355828497, -0.3762485593614053, -0.12524612444111408, 0.25769322230050085],
}


def scyfi_plrnn(a1: float) -> pwl.PWLModel:
    return pwl.from_params("plrnn", {"A": np.array([a1, 0.96461297]), "W": _W, "h": _H})


@pytest.mark.parametrize("method", ["exhaustive", "scyfi"])
def test_scyfi_fixture_single_fixed_point(method):
    found = cycles.find_cycles(scyfi_plrnn(-0.022231099999999948), 1, method=method)
    assert len(found.cycles) == 1
    fp = found.cycles[0]
    np.testing.assert_allclose(fp.points[0], [0.3649, -22.261], atol=1e-3)
    np.testing.assert_allclose(np.sort(fp.eigenvalues.real), [-0.0222311, 0.96461297], atol=1e-8)
    assert fp.real and fp.stable and fp.type == "stable node"
    assert found.orders[0].method == method


def test_scyfi_fixture_two_16_cycles_and_nothing_below():
    found = cycles.find_cycles(scyfi_plrnn(0.8377689000000008), 16, method="scyfi")
    orders = [c.order for c in found.cycles]
    assert orders.count(1) == 1
    assert not any(2 <= k <= 15 for k in orders)
    sixteen = found.of_order(16)
    assert len(sixteen) == 2
    np.testing.assert_allclose(sorted(c.max_abs_eigenvalue for c in sixteen), [0.519, 1.610], atol=1e-3)
    assert sorted(c.stable for c in sixteen) == [False, True]
    assert [r.order for r in found.orders] == list(range(1, 17))


@pytest.mark.parametrize("method", ["exhaustive", "scyfi"])
def test_shplrnn_fixture_single_fixed_point(method):
    model = pwl.from_params("shplrnn", _SHALLOW)
    found = cycles.find_cycles(model, 1, method=method)
    assert [c.order for c in found.cycles] == [1]
    np.testing.assert_allclose(found.cycles[0].points[0], [-0.03, 0.40], atol=0.01)


def test_shplrnn_regions_are_the_nonempty_cells():
    model = pwl.from_params("shplrnn", _SHALLOW)
    regions = cycles.realizable_patterns(model)
    assert 0 < len(regions) < model.candidate_count() == 1024
    assert len(regions) <= model.possible_regions()
    # Every pattern seen on random states is among them.
    seen = np.unique(model.pattern(np.random.default_rng(0).uniform(-10, 10, (20_000, 2))), axis=0)
    assert {r.tobytes() for r in seen} <= {r.tobytes() for r in regions}


def _random_model(kind: str, seed: int) -> pwl.PWLModel:
    rng = np.random.default_rng(seed)
    m = 3
    if kind in ("shplrnn", "clipped-shplrnn"):
        l = 3
        params = {"A": rng.uniform(-0.9, 0.9, m), "W1": rng.standard_normal((m, l)), "W2": rng.standard_normal((l, m)),
                  "h1": rng.standard_normal(m), "h2": rng.standard_normal(l)}
        return pwl.from_params(kind, params)
    params = {"A": rng.uniform(-0.9, 0.9, m), "W": 1.2 * rng.standard_normal((m, m)), "h": rng.standard_normal(m)}
    if kind == "dendplrnn":
        params |= {"alpha": rng.standard_normal(2), "H": rng.standard_normal((m, 2))}
    return pwl.from_params(kind, params, relus=2, mean_centering=kind == "plrnn" and seed % 2 == 1)


def _keys(search: cycles.CycleSearch) -> set[tuple[int, bytes]]:
    return {(c.order, c.regions.tobytes()) for c in search.cycles}


# Seeds whose random model has cycles of order 2 or 3 besides fixed points (odd PLRNN seeds are
# mean-centred).
RICH_SEEDS = {"plrnn": (32, 33), "alrnn": (7, 39), "shplrnn": (8, 17), "clipped-shplrnn": (12, 14), "dendplrnn": (0, 12)}


@pytest.mark.parametrize(("kind", "seed"), [(kind, seed) for kind, seeds in RICH_SEEDS.items() for seed in seeds])
def test_scyfi_equals_exhaustive_search_on_small_random_models(kind, seed):
    model = _random_model(kind, seed)
    exact = cycles.find_cycles(model, 3, method="exhaustive")
    assert any(c.order > 1 for c in exact.cycles)
    heuristic = cycles.find_cycles(model, 3, method="scyfi", outer=30, inner=100, seed=seed)
    assert _keys(heuristic) == _keys(exact)
    for a, b in zip(sorted(exact.cycles, key=lambda c: (c.order, c.regions.tobytes())),
                    sorted(heuristic.cycles, key=lambda c: (c.order, c.regions.tobytes()))):
        np.testing.assert_allclose(a.points, b.points, atol=1e-9)
    # Exact de-duplication: no two reported orbits coincide up to a cyclic shift.
    assert len(_keys(exact)) == len(exact.cycles)


@pytest.mark.parametrize("kind", list(RICH_SEEDS))
def test_reported_cycles_are_real_orbits_in_their_regions(kind):
    for seed in RICH_SEEDS[kind]:
        model = _random_model(kind, seed)
        for cycle in cycles.find_cycles(model, 3).cycles:
            assert cycle.real
            z = cycle.points[0]
            for i in range(cycle.order):
                np.testing.assert_array_equal(model.pattern(cycle.points[i]), cycle.regions[i])
                z = model.step(z)
            assert np.max(np.abs(z - cycle.points[0])) <= 1e-8 * (1 + np.max(np.abs(z)))
            if cycle.order == 1:
                assert np.max(np.abs(model.step(cycle.points[0]) - cycle.points[0])) <= 1e-8


def test_region_fixed_points_are_labelled_real_or_virtual():
    # 1-D ReLU map z' = 0.5 z − 2 [z]_+ − 1: region 0 (z ≤ 0) has z* = −1 / 0.5 = −2 (real); region 1
    # (z > 0, slope −1.5) has z* = −1 / 2.5 = −0.4, outside its region (virtual).
    model = pwl.from_params("alrnn", {"A": [0.5], "W": [[-2.0]], "h": [-1.0]}, relus=1)
    virtual, real = cycles.region_fixed_points(model, [[1], [0]])
    assert real.real and real.points[0, 0] == pytest.approx(-2.0)
    assert not virtual.real and virtual.points[0, 0] == pytest.approx(-0.4)
    assert real.type == "stable node" and virtual.type == "unstable node"
    # A region whose map has the eigenvalue 1 has no isolated fixed point.
    flat = pwl.from_params("alrnn", {"A": [1.0], "W": [[0.5]], "h": [0.0]}, relus=1)
    assert cycles.region_fixed_points(flat, [[0]]) == [None]


def test_auto_switches_from_exhaustive_to_scyfi():
    found = cycles.find_cycles(_random_model("alrnn", 0), 3, max_sequences=8)
    assert [o.method for o in found.orders] == ["exhaustive", "exhaustive", "scyfi"]
    assert all(o.solved > 0 for o in found.orders)


def test_lorenz_equilibria_and_eigenvalues():
    points = fixed_points.find_fixed_points(systems.get("lorenz63"))
    assert len(points) == 3
    c = np.sqrt(8.0 / 3.0 * 27.0)
    np.testing.assert_allclose([p.point for p in points], [[-c, -c, 27.0], [0, 0, 0], [c, c, 27.0]], atol=1e-8)
    np.testing.assert_allclose(np.sort(points[1].eigenvalues.real), [-22.8277, -2.6667, 11.8277], atol=1e-4)
    for lobe in (points[0], points[2]):
        eig = lobe.eigenvalues[np.argsort(lobe.eigenvalues.imag)]
        np.testing.assert_allclose(eig, [0.0940 - 10.1945j, -13.8546, 0.0940 + 10.1945j], atol=1e-4)
        assert lobe.type == "saddle" and not lobe.stable


def test_henon_fixed_points():
    points = fixed_points.find_fixed_points(systems.get("henon"))
    np.testing.assert_allclose([p.point for p in points], [[-1.13135448, -0.33940634], [0.63135448, 0.18940634]], atol=1e-8)
    np.testing.assert_allclose(np.sort(points[0].eigenvalues.real), [-0.09203, 3.25982], atol=1e-5)
    np.testing.assert_allclose(np.sort(points[1].eigenvalues.real), [-1.92374, 0.15595], atol=1e-5)


def test_stable_equilibria_of_the_duffing_oscillator():
    points = fixed_points.find_fixed_points(systems.get("duffing"))
    assert [p.type for p in points] == ["stable spiral", "saddle", "stable spiral"]


@pytest.mark.parametrize(
    ("eigenvalues", "discrete", "expected"),
    [
        ([0.5, -0.2], True, (True, "stable node")),
        ([0.5 + 0.5j, 0.5 - 0.5j], True, (True, "stable spiral")),
        ([2.0, -3.0], True, (False, "unstable node")),
        ([0.5, 2.0], True, (False, "saddle")),
        ([1.0, 0.5], True, (False, "non-hyperbolic")),
        ([-1.0, -2.0], False, (True, "stable node")),
        ([0.1 + 1j, 0.1 - 1j], False, (False, "unstable spiral")),
        ([np.nan, 0.0], False, (False, "undetermined")),
    ],
)
def test_stability_types(eigenvalues, discrete, expected):
    assert classify(eigenvalues, discrete) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: cycles.find_cycles(m, 0), "cycle order must be an integer >= 1"),
        (lambda m: cycles.find_cycles(m, 1.5), "cycle order must be an integer >= 1"),
        (lambda m: cycles.find_cycles(m, 1, method="newton"), "unknown method 'newton'"),
        (lambda m: cycles.realizable_patterns(m, limit=2), "4 candidate regions exceed the enumeration limit 2"),
        (lambda m: m.affine([1]), "a region pattern has 2 bits"),
        (lambda m: m.step([0.0]), r"expected a state of shape \(3,\)"),
        (lambda m: m.trajectory(0, np.zeros(3)), "need steps >= 1"),
    ],
)
def test_bad_cycle_requests(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call(_random_model("alrnn", 0))
    assert "\n" not in str(err.value)


def test_exhaustive_refuses_models_with_too_many_regions():
    rng = np.random.default_rng(0)
    m = 20  # 2^20 candidate patterns: beyond both max_sequences and the enumeration limit
    big = pwl.from_params("plrnn", {"A": np.full(m, 0.5), "W": 0.1 * rng.standard_normal((m, m)), "h": np.zeros(m)}, mean_centering=True)
    with pytest.raises(ValueError, match="exhaustive search needs the regions enumerated"):
        cycles.find_cycles(big, 1, method="exhaustive")


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("lstm", {}, "unknown model kind 'lstm'"),
        ("plrnn", {"A": [0.5]}, "plrnn parameters lack W, h"),
        ("plrnn", {"A": [0.5, 0.5], "W": np.zeros((3, 3)), "h": [0.0, 0.0]}, r"W must be \(2, 2\)"),
        ("alrnn", {"A": [0.5], "W": [[0.0]], "h": [0.0]}, "relus must be in 0..1"),
        ("shplrnn", {"A": [0.5], "W1": np.zeros((1, 2)), "W2": np.zeros((3, 1)), "h1": [0.0], "h2": [0.0, 0.0]}, "W1 must be"),
        ("dendplrnn", {"A": [0.5], "W": [[0.0]], "h": [0.0], "alpha": [1.0, 1.0], "H": [[0.0]]}, r"H must be \(1, 2\)"),
    ],
)
def test_bad_model_parameters(kind, params, message):
    with pytest.raises(ValueError, match=message):
        pwl.from_params(kind, params, relus=2 if kind == "alrnn" else 0)


def test_newton_rejects_bad_starts():
    with pytest.raises(ValueError, match=r"starts must have shape \(K, 3\)"):
        fixed_points.find_fixed_points(systems.get("lorenz63"), np.zeros((2, 2)))
