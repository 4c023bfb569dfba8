"""Numba kernels that find k-cycles of a piecewise-linear model (normal form of `pwl`).

Cycle equation (SCYFI ``src/utilities/helpers.jl``; Eisenmann, Monfared, Göring &
Durstewitz, "Bifurcations and loss jumps in RNN training", NeurIPS 2023): if the orbit
z_1 → ... → z_k → z_1 visits the regions π_1, ..., π_k with affine maps z ↦ M_i z + c_i, then

    z_1 = Π z_1 + b,   Π = M_k ⋯ M_1,   b = Σ_j M_k ⋯ M_{j+1} c_j,

a linear system. Its solution is a real cycle iff the orbit started at it visits exactly
π_1..π_k (and then returns to z_1); otherwise it is virtual.

Two searches use it. ``exhaustive`` solves the equation for every region sequence that is a
Lyndon word over the candidate regions (one rotation per cycle, no repetitions of shorter
sequences: each real cycle is found exactly once), enumerated with Duval's algorithm (J.-P.
Duval, Theor. Comput. Sci. 60, 255 (1988)). ``scyfi`` is the SCYFI heuristic: start from a
random sequence; when the solution's own sequence differs, solve for that one next; when they
agree, keep the cycle if no known orbit equals it up to a cyclic shift (within a tolerance) and
draw a fresh random sequence. Both loop counters are
reset by every new cycle, and the search ends after ``outer`` random restarts in a row with
``inner`` iterations each found nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from .linalg import matmul_t_into, matvec_into, solve
from .pwl import bits_into, preactivation_into, region_into, step_into, unpack

_VEC = types.float64[::1]
_MAT = types.float64[:, ::1]
_PTS = types.float64[:, :, ::1]
_SEQS = types.uint8[:, :, ::1]


@njit(cache=True)
def _cycle_point(mats, offs):
    """Solution z_1 of the cycle equation for the sequence of affine maps (mats[i], offs[i])."""
    m = offs.shape[1]
    # The product is kept transposed, (M_i ⋯ M_1)ᵀ, so that each update is a product with
    # contiguous rows: (M_{i+1} Π)ᵀ = Πᵀ M_{i+1}ᵀ.
    prod_t, nxt = np.eye(m), np.empty((m, m))
    b, b_next = np.zeros(m), np.empty(m)
    for i in range(offs.shape[0]):
        matmul_t_into(prod_t, mats[i], nxt)
        prod_t, nxt = nxt, prod_t
        matvec_into(mats[i], b, b_next)
        b, b_next = b_next + offs[i], b
    return solve(np.eye(m) - prod_t.T, b)


@njit(cache=True)
def _follow(z1, k, parts, points, visited):
    """Iterate k steps from z1, recording states and patterns; return the closing error ‖z_{k+1} − z_1‖∞."""
    l = parts[1]
    pre, phi = np.empty(l), np.empty(l)
    z, nxt = z1.copy(), np.empty_like(z1)
    for i in range(k):
        points[i] = z
        preactivation_into(z, parts, pre)
        bits_into(pre, parts, visited[i])
        step_into(z, pre, parts, phi, nxt)
        z, nxt = nxt, z
    return np.max(np.abs(z - z1))


@njit(cache=True)
def _primitive(seq):
    """Whether the sequence of patterns is not a repetition of a shorter one."""
    k = seq.shape[0]
    for d in range(1, k):
        if k % d == 0:
            repeated = True
            for i in range(d, k):
                if not np.array_equal(seq[i], seq[i - d]):
                    repeated = False
                    break
            if repeated:
                return False
    return True


@njit(cache=True)
def _same_orbit(a, b, tol):
    """Whether two k-point orbits coincide up to a cyclic shift, within tol (1 + max |z|) per entry."""
    k = a.shape[0]
    bound = tol * (1.0 + np.max(np.abs(a)))
    for shift in range(k):
        same = True
        for i in range(k):
            if np.max(np.abs(a[i] - b[(i + shift) % k])) > bound:
                same = False
                break
        if same:
            return True
    return False


@njit(cache=True)
def _sequence_key(seq):
    """A rotation-invariant integer of a region sequence (the sum of its patterns' hashes).

    The same orbit always has the same key, so only orbits with equal keys need the full
    comparison; keys are a filter, never the criterion.
    """
    key = 0
    for i in range(seq.shape[0]):
        h = 0
        for j in range(seq.shape[1]):
            h = (h * 31 + seq[i, j] + 1) % 2305843009213693951  # 2^61 − 1
        key = (key + h) % 2305843009213693951
    return key


@njit(cache=True)
def _grow(points, seqs, count):
    if count < points.shape[0]:
        return points, seqs
    bigger_points = np.empty((2 * points.shape[0], points.shape[1], points.shape[2]))
    bigger_seqs = np.empty((2 * seqs.shape[0], seqs.shape[1], seqs.shape[2]), dtype=np.uint8)
    bigger_points[:count] = points[:count]
    bigger_seqs[:count] = seqs[:count]
    return bigger_points, bigger_seqs


@njit(cache=True)
def _consistent(z1, seq, parts, points, visited, tol):
    """Whether z1 is a real cycle for seq: it visits exactly seq and returns to itself."""
    err = _follow(z1, seq.shape[0], parts, points, visited)
    for i in range(seq.shape[0]):
        if not np.array_equal(visited[i], seq[i]):
            return False
    return err <= tol * (1.0 + np.max(np.abs(z1)))


@njit(types.Tuple((_PTS, _SEQS, types.int64))(_VEC, types.int64, types.uint8[:, ::1], types.float64), cache=True)
def exhaustive(p, k, candidates, tol):
    """Every real k-cycle whose regions are among ``candidates`` (n, n_bits), each once.

    Returns (points (count, k, M), region sequences (count, k, n_bits), sequences solved).
    """
    n, nb = candidates.shape
    parts = unpack(p)
    m, l = parts[0], parts[1]
    g, c = np.empty(l), np.empty(l)
    mats = np.empty((n, m, m))
    offs = np.empty((n, m))
    for i in range(n):
        region_into(candidates[i], parts, g, c, mats[i], offs[i])
    found_points = np.empty((8, k, m))
    found_seqs = np.empty((8, k, nb), dtype=np.uint8)
    count = 0
    solved = 0
    seq_mats = np.empty((k, m, m))
    seq_offs = np.empty((k, m))
    seq = np.empty((k, nb), dtype=np.uint8)
    points = np.empty((k, m))
    visited = np.empty((k, nb), dtype=np.uint8)
    word = np.full(k, -1, dtype=np.int64)
    length = 1
    while length > 0:
        word[length - 1] += 1
        if length == k:
            for i in range(k):
                seq_mats[i] = mats[word[i]]
                seq_offs[i] = offs[word[i]]
                seq[i] = candidates[word[i]]
            z1, ok = _cycle_point(seq_mats, seq_offs)
            solved += 1
            if ok and _consistent(z1, seq, parts, points, visited, tol):
                found_points, found_seqs = _grow(found_points, found_seqs, count)
                found_points[count] = points
                found_seqs[count] = seq
                count += 1
        period = length
        while length < k:
            word[length] = word[length - period]
            length += 1
        while length > 0 and word[length - 1] == n - 1:
            length -= 1
    return found_points[:count].copy(), found_seqs[:count].copy(), solved


@njit(cache=True)
def _random_sequence(seq, pool, units, ranks, options):
    """Fill seq (k, n_bits) with random region patterns: rows of ``pool`` if it has any, else an
    interval drawn uniformly per unit (bit j on iff its threshold rank on its unit is below it)."""
    for i in range(seq.shape[0]):
        if pool.shape[0] > 0:
            seq[i] = pool[np.random.randint(pool.shape[0])]
        else:
            draw = np.empty(options.shape[0], dtype=np.int64)
            for u in range(options.shape[0]):
                draw[u] = np.random.randint(options[u])
            for j in range(seq.shape[1]):
                seq[i, j] = 1 if ranks[j] < draw[units[j]] else 0


@njit(
    types.Tuple((_PTS, _SEQS, types.int64))(
        _VEC, types.int64, types.uint8[:, ::1], types.int64[::1], types.int64[::1], types.int64[::1],
        types.int64, types.int64, types.int64, types.float64,
    ),
    cache=True,
)
def scyfi(p, k, pool, units, ranks, options, outer, inner, seed, tol):
    """Real k-cycles found by the SCYFI heuristic (see the module docstring).

    Random sequences come from ``pool`` (rows = region patterns) or, if it is empty, per unit
    (``units``/``ranks`` of each bit, ``options`` = intervals per unit). Returns (points
    (count, k, M), region sequences (count, k, n_bits), sequences solved).
    """
    np.random.seed(seed)
    parts = unpack(p)
    m, l, nb = parts[0], parts[1], parts[2]
    g, c = np.empty(l), np.empty(l)
    found_points = np.empty((8, k, m))
    found_seqs = np.empty((8, k, nb), dtype=np.uint8)
    count = 0
    solved = 0
    seq = np.empty((k, nb), dtype=np.uint8)
    seq_mats = np.empty((k, m, m))
    seq_offs = np.empty((k, m))
    points = np.empty((k, m))
    visited = np.empty((k, nb), dtype=np.uint8)
    keys = np.empty(8, dtype=np.int64)
    restarts = 0
    while restarts < outer:
        _random_sequence(seq, pool, units, ranks, options)
        tries = 0
        while tries < inner:
            for i in range(k):
                region_into(seq[i], parts, g, c, seq_mats[i], seq_offs[i])
            z1, ok = _cycle_point(seq_mats, seq_offs)
            solved += 1
            if not ok:
                break
            if _consistent(z1, seq, parts, points, visited, tol):
                new = _primitive(seq)
                key = _sequence_key(seq)
                for other in range(count):
                    if new and keys[other] == key and _same_orbit(points, found_points[other], tol):
                        new = False
                if new:
                    if count == keys.shape[0]:
                        keys = np.concatenate((keys, np.empty_like(keys)))
                    keys[count] = key
                    found_points, found_seqs = _grow(found_points, found_seqs, count)
                    found_points[count] = points
                    found_seqs[count] = seq
                    count += 1
                    restarts = 0
                    tries = 0
                _random_sequence(seq, pool, units, ranks, options)
            else:
                seq[:] = visited
            tries += 1
        restarts += 1
    return found_points[:count].copy(), found_seqs[:count].copy(), solved
