"""Symbolic codes of PWL models (`dsr.analysis.symbolic`).

The topology to recognise is the published AL-RNN finding for Lorenz-63 with P = 2 (reference
note models_training_metrics.md §4.3): 3 of 4 regions used, one per lobe and a central one that
mediates every lobe switch. Entropy rates: ln 2 for fair coin flips, 0 for a periodic sequence.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
import pytest

from dsr.analysis import cycles, pwl, symbolic

LOBE_A, CENTRE, LOBE_B = (1, 0), (1, 1), (0, 1)


def lobe_switching_patterns(seed: int = 0, visits: int = 3000) -> np.ndarray:
    """Dwell in a lobe, pass the centre, go to either lobe: the Lorenz AL-RNN's itinerary."""
    rng = np.random.default_rng(seed)
    rows, region = [], LOBE_A
    for _ in range(visits):
        rows += [region] * int(rng.integers(3, 30))
        region = CENTRE if region != CENTRE else (LOBE_A if rng.random() < 0.5 else LOBE_B)
    return np.array(rows, dtype=np.uint8)


@pytest.fixture(scope="module")
def code() -> symbolic.SymbolicCode:
    return symbolic.symbolic_code(lobe_switching_patterns(), possible=4)


def test_regions_used_and_relabelled_by_frequency(code):
    assert code.used == 3 and code.possible == 4
    assert tuple(code.patterns[0]) == CENTRE  # visited between every two lobe visits
    assert np.all(np.diff(code.frequencies) <= 0)
    assert code.frequencies.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(code.patterns[code.labels], lobe_switching_patterns())


def test_transitions_pass_through_the_centre(code):
    t = code.transitions.toarray()
    assert t[1, 2] == t[2, 1] == 0  # never lobe to lobe
    assert np.all(np.diag(t) == 0)
    assert t.sum() == code.episodes.sum() - 1
    np.testing.assert_allclose(code.probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(code.probabilities.toarray()[1:, 0], 1.0)
    assert code.mediators() == [0]
    sources, targets, counts, probabilities = code.edges()
    assert np.array_equal(t[sources, targets], counts) and counts.sum() == t.sum() and np.all(counts > 0)
    np.testing.assert_allclose(probabilities, counts / t.sum(axis=1)[sources])


def test_dwell_times_and_episodes(code):
    assert np.all((code.dwell >= 3) & (code.dwell < 30))
    lengths = np.diff(np.r_[0, np.flatnonzero(np.diff(code.labels)) + 1, len(code.labels)])
    assert code.episodes.sum() == len(lengths)
    assert (code.dwell * code.episodes).sum() == pytest.approx(len(code.labels))


def test_entropy_rate_of_coin_flips_and_of_a_cycle():
    flips = np.random.default_rng(1).integers(0, 2, (200_000, 1)).astype(np.uint8)
    assert symbolic.symbolic_code(flips).entropy_rate == pytest.approx(math.log(2), abs=0.01)
    cycle = np.tile(np.array([[0], [1], [1]], dtype=np.uint8), (1000, 1))
    periodic = symbolic.symbolic_code(cycle)
    assert periodic.entropy_rate == pytest.approx(0.0, abs=1e-9)
    assert periodic.block_entropies[0] == pytest.approx(-(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3)))


def test_a_single_region_has_no_transitions():
    still = symbolic.symbolic_code(np.ones((50, 2), dtype=np.uint8))
    assert still.used == 1 and still.transitions.toarray().tolist() == [[0]] and still.entropy_rate == 0.0
    assert still.dwell.tolist() == [50.0] and still.mediators() == []


def test_entropy_rate_is_nan_when_regions_are_too_many_for_the_series():
    visited_once = np.unpackbits(np.arange(200, dtype=np.uint8)[:, None], axis=1)
    assert math.isnan(symbolic.symbolic_code(visited_once).entropy_rate)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([(0, 1), (1, 2)], [1]),  # path: the middle vertex
        ([(0, 1), (1, 2), (2, 0)], []),  # triangle: none
        ([(0, 1), (1, 2), (2, 0), (2, 3)], [2]),  # a pendant vertex hangs on 2
        ([(0, 1), (2, 3)], []),  # two components, no cut vertex
    ],
)
def test_articulation_points(edges, expected):
    adj = np.zeros((4, 4), dtype=bool)
    for a, b in edges:
        adj[a, b] = True
    assert symbolic.articulation_points(adj) == expected


def test_symbolic_code_of_a_model_trajectory_with_region_fixed_points():
    rng = np.random.default_rng(2)
    m = 4
    model = pwl.from_params("alrnn", {"A": rng.uniform(0.2, 0.8, m), "W": rng.standard_normal((m, m)), "h": rng.standard_normal(m)}, relus=2)
    orbit = model.trajectory(2_000, rng.standard_normal(m), transient=100)
    code = symbolic.symbolic_code(model.pattern(orbit), possible=model.possible_regions())
    assert code.possible == 4 and 1 <= code.used <= 4
    for bits, fp in zip(code.patterns, cycles.region_fixed_points(model, code.patterns)):
        matrix, offset = model.affine(bits)
        np.testing.assert_allclose(matrix @ fp.points[0] + offset, fp.points[0], atol=1e-10)
        assert fp.real == bool(np.array_equal(model.pattern(fp.points[0]), bits))


@pytest.mark.parametrize("patterns", [np.zeros((0, 2)), np.zeros(5)])
def test_bad_patterns(patterns):
    with pytest.raises(ValueError, match=r"patterns must have shape \(T, n_bits\)"):
        symbolic.symbolic_code(patterns)


def _articulation_points_by_removal(adjacency: np.ndarray) -> list[int]:
    """The definition, by brute force: v is one iff removing it raises its graph's component count."""
    from scipy.sparse.csgraph import connected_components

    adj = (adjacency | adjacency.T) & ~np.eye(len(adjacency), dtype=bool)
    before = connected_components(adj, directed=False)[0]
    found = []
    for v in range(len(adj)):
        keep = np.flatnonzero(np.arange(len(adj)) != v)
        # Removing an isolated vertex lowers the count by one; any other vertex splits iff it rises.
        if adj[v].any() and connected_components(adj[np.ix_(keep, keep)], directed=False)[0] > before:
            found.append(v)
    return found


@pytest.mark.parametrize("seed", range(40))
def test_articulation_points_match_their_definition_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 25))
    adjacency = rng.random((n, n)) < rng.uniform(0.02, 0.3)
    expected = _articulation_points_by_removal(adjacency)
    assert symbolic.articulation_points(adjacency) == expected
    assert symbolic.articulation_points(sparse.csr_array(adjacency.astype(np.int64) * 3)) == expected


def test_a_long_chain_of_ten_thousand_regions_is_cut_at_every_inner_region():
    """Wide shPLRNNs visit ~10^4 regions: the graph stays sparse and the search linear (no recursion limit)."""
    n = 10_000
    chain = sparse.csr_array((np.ones(n - 1), (np.arange(n - 1), np.arange(1, n))), shape=(n, n))
    assert symbolic.articulation_points(chain) == list(range(1, n - 1))
