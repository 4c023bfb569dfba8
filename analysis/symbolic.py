"""Symbolic codes of piecewise-linear models: the sequence of linear regions an orbit visits.

The symbol of a state is its region pattern (AL-RNN: the P ReLU bits; shPLRNN: the hidden
pattern; see `pwl`). Following ALRNN-DSR (Brenner et al., NeurIPS 2024; its
``evaluate.jl`` and ``alrnn_python/linear_region_functions.py``): regions are relabelled 0, 1, ... by visit frequency (most
visited first); the sequence is compressed to episodes (maximal runs in one region); transitions
are counted between successive distinct regions, and P(j | i) is the fraction of episodes in i
that are followed by one in j. The dwell time of a region is the mean length of its episodes.

Entropy rate: the conditional block entropies h_n = H_{n+1} − H_n, n = 0, 1, ... (nats per step;
H_n the plug-in Shannon entropy of the length-n blocks, H_0 = 0) decrease to the entropy rate of the symbol
sequence (Cover & Thomas, Elements of Information Theory, 2nd ed., Thm 4.2.1); the last h_n
whose blocks are well sampled is the estimate (for a generating partition it approaches the
Kolmogorov–Sinai entropy, at most the sum of the positive Lyapunov exponents, Pesin).

The topology summary names the transition graph's articulation regions: regions whose removal
disconnects the (undirected) graph, i.e. that mediate every passage between the others, like
the central region between the two lobe regions of an AL-RNN trained on Lorenz-63.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse


@dataclass(frozen=True)
class SymbolicCode:
    """The symbolic description of one trajectory's region sequence (see the module docstring).

    ``labels`` (T,) region labels (0 = most visited); ``patterns`` (R, n_bits) the pattern of
    each label; ``frequencies`` (R,) fractions of time; ``transitions`` (R, R) counts between
    successive distinct regions and ``probabilities`` its row-normalised form, both sparse
    (``scipy.sparse.csr_array``: a wide shPLRNN visits ~10⁴ regions, whose dense R × R matrices
    would take gigabytes); ``episodes`` (R,) and ``dwell`` (R,) the number and mean length of
    visits; ``block_entropies`` h_0, h_1, ...
    """

    labels: np.ndarray
    patterns: np.ndarray
    frequencies: np.ndarray
    transitions: sparse.csr_array
    probabilities: sparse.csr_array
    episodes: np.ndarray
    dwell: np.ndarray
    block_entropies: np.ndarray
    possible: int | None

    @property
    def used(self) -> int:
        """Number of distinct regions visited."""
        return int(self.patterns.shape[0])

    @property
    def entropy_rate(self) -> float:
        """Estimated entropy rate (nats per step): the last well-sampled conditional block entropy.

        NaN when not even single symbols are well sampled (more than a tenth as many regions as steps).
        """
        return float(self.block_entropies[-1]) if self.block_entropies.size else float("nan")

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The observed transitions as arrays (from, to, count, probability), ordered by (from, to)."""
        t, p = self.transitions, self.probabilities
        sources = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
        return sources, t.indices.copy(), t.data.copy(), p.data.copy()

    def mediators(self) -> list[int]:
        """Labels of the articulation regions of the undirected transition graph (ascending)."""
        return articulation_points(self.transitions)


def symbolic_code(patterns: ArrayLike, possible: int | None = None, max_block: int = 8) -> SymbolicCode:
    """The symbolic code of the region patterns (T, n_bits) of consecutive states.

    ``possible`` is the number of regions the model has (for "used of possible"); block entropies
    are computed for block lengths up to ``max_block`` while the number of distinct blocks stays
    below a tenth of the blocks counted. Raises ValueError for an empty or non-2-D input.
    """
    bits = np.asarray(patterns)
    if bits.ndim != 2 or bits.shape[0] == 0:
        raise ValueError(f"patterns must have shape (T, n_bits) with T >= 1, got {bits.shape}")
    unique, inverse, counts = np.unique(bits.astype(np.uint8), axis=0, return_inverse=True, return_counts=True)
    # Most visited first; ties by pattern, so the labelling is deterministic.
    order = np.lexsort((np.arange(len(counts)), -counts))
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    labels = relabel[inverse.ravel()]
    regions = len(order)
    starts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1]
    runs = np.diff(np.r_[starts, len(labels)])
    visits = labels[starts]
    # Repeated (from, to) pairs are summed into counts; rows and columns come out sorted.
    ones = np.ones(len(visits) - 1, dtype=np.int64)
    transitions = sparse.csr_array((ones, (visits[:-1], visits[1:])), shape=(regions, regions))
    transitions.sum_duplicates()
    episodes = np.bincount(visits, minlength=regions)
    dwell = np.bincount(visits, weights=runs, minlength=regions) / np.maximum(episodes, 1)
    leaving = np.repeat(transitions.sum(axis=1), np.diff(transitions.indptr))
    probabilities = sparse.csr_array((transitions.data / leaving, transitions.indices, transitions.indptr), shape=transitions.shape)
    return SymbolicCode(
        labels=labels,
        patterns=unique[order],
        frequencies=counts[order] / len(labels),
        transitions=transitions,
        probabilities=probabilities,
        episodes=episodes,
        dwell=dwell,
        block_entropies=_conditional_block_entropies(labels, max_block),
        possible=possible,
    )


def _block_entropy(labels: np.ndarray, n: int, base: int) -> tuple[float, int]:
    """Plug-in entropy (nats) of the length-n blocks and their number of distinct values."""
    codes = np.zeros(len(labels) - n + 1, dtype=np.int64)
    for i in range(n):
        codes = codes * base + labels[i : len(labels) - n + 1 + i]
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum()), len(counts)


def _conditional_block_entropies(labels: np.ndarray, max_block: int) -> np.ndarray:
    base = int(labels.max()) + 1
    entropies = [0.0]
    for n in range(1, max_block + 2):
        # Block codes must fit int64, and there must be many more blocks than block values.
        if n * np.log(base) > 62 * np.log(2) or len(labels) - n + 1 < 1:
            break
        h, distinct = _block_entropy(labels, n, base)
        if distinct * 10 > len(labels) - n + 1:
            break
        entropies.append(h)
    return np.diff(entropies)


def articulation_points(adjacency: ArrayLike | sparse.sparray) -> list[int]:
    """Vertices whose removal disconnects their connected component (ascending); nonzero entries of
    the dense or sparse ``adjacency`` are read as undirected edges, self-loops are ignored.

    Hopcroft–Tarjan lowpoints by one iterative depth-first search, O(V + E) (Hopcroft & Tarjan,
    Commun. ACM 16, 372 (1973)): a non-root vertex u is an articulation point iff some DFS child v
    has low(v) ≥ disc(u); the root iff it has two or more DFS children.
    """
    coo = sparse.coo_array(adjacency)
    n = coo.shape[0]
    keep = (coo.data != 0) & (coo.row != coo.col)
    rows, cols = coo.row[keep], coo.col[keep]
    both = sparse.csr_array((np.ones(2 * len(rows), dtype=bool), (np.r_[rows, cols], np.r_[cols, rows])), shape=(n, n))
    indptr, neighbours = both.indptr, both.indices
    disc = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    cut = np.zeros(n, dtype=bool)
    clock = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = clock
        clock += 1
        children = 0
        stack = [[root, int(indptr[root])]]  # (vertex, position of its next neighbour)
        while stack:
            frame = stack[-1]
            v, i = frame
            if i < indptr[v + 1]:
                frame[1] += 1
                w = neighbours[i]
                if disc[w] < 0:
                    parent[w] = v
                    disc[w] = low[w] = clock
                    clock += 1
                    children += v == root
                    stack.append([w, int(indptr[w])])
                elif w != parent[v]:
                    low[v] = min(low[v], disc[w])
                continue
            stack.pop()
            if stack:
                u = stack[-1][0]
                low[u] = min(low[u], low[v])
                if u != root and low[v] >= disc[u]:
                    cut[u] = True
        cut[root] = children > 1
    return np.flatnonzero(cut).tolist()
