"""Symbolic codes of piecewise-linear models: the sequence of linear regions an orbit visits.

The symbol of a state is its region pattern (AL-RNN: the P ReLU bits; shPLRNN: the hidden
pattern; see `pwl`). Following ALRNN-DSR (Brenner et al., NeurIPS 2024; reference note
models_training_metrics.md §4.4): regions are relabelled 0, 1, ... by visit frequency (most
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


@dataclass(frozen=True)
class SymbolicCode:
    """The symbolic description of one trajectory's region sequence (see the module docstring).

    ``labels`` (T,) region labels (0 = most visited); ``patterns`` (R, n_bits) the pattern of
    each label; ``frequencies`` (R,) fractions of time; ``transitions`` (R, R) counts between
    successive distinct regions and ``probabilities`` its row-normalised form; ``episodes`` (R,)
    and ``dwell`` (R,) the number and mean length of visits; ``block_entropies`` h_0, h_1, ...
    """

    labels: np.ndarray
    patterns: np.ndarray
    frequencies: np.ndarray
    transitions: np.ndarray
    probabilities: np.ndarray
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
        """Estimated entropy rate (nats per step): the last well-sampled conditional block entropy."""
        return float(self.block_entropies[-1]) if self.block_entropies.size else 0.0

    def mediators(self) -> list[int]:
        """Labels of the articulation regions of the undirected transition graph (ascending)."""
        return articulation_points(self.transitions > 0)


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
    transitions = np.zeros((regions, regions), dtype=np.int64)
    np.add.at(transitions, (visits[:-1], visits[1:]), 1)
    episodes = np.bincount(visits, minlength=regions)
    dwell = np.bincount(visits, weights=runs, minlength=regions) / np.maximum(episodes, 1)
    leaving = transitions.sum(axis=1, keepdims=True)
    probabilities = np.divide(transitions, leaving, out=np.zeros(transitions.shape), where=leaving > 0)
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


def articulation_points(adjacency: ArrayLike) -> list[int]:
    """Vertices whose removal disconnects their connected component; edges are read as undirected
    and self-loops are ignored."""
    adj = np.asarray(adjacency, dtype=bool)
    adj = (adj | adj.T) & ~np.eye(len(adj), dtype=bool)
    before = _components(adj)
    result = []
    for v in range(len(adj)):
        keep = np.flatnonzero(np.arange(len(adj)) != v)
        # A vertex with neighbours splits its component iff the count rises without it.
        if adj[v].any() and _components(adj[np.ix_(keep, keep)]) > before:
            result.append(v)
    return result


def _components(adj: np.ndarray) -> int:
    seen = np.zeros(len(adj), dtype=bool)
    count = 0
    for start in range(len(adj)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            v = stack.pop()
            for w in np.flatnonzero(adj[v] & ~seen):
                seen[w] = True
                stack.append(w)
    return count
