"""Fixed points and k-cycles of piecewise-linear models, exact or by SCYFI.

For each order k = 1..K, `find_cycles` solves the cycle equation (see `scyfi`) either for every
region sequence (exhaustive, exact: used while the number of sequences, about n^k / k for n
candidate regions, stays within ``max_sequences``) or by the SCYFI heuristic beyond that
(Eisenmann et al., NeurIPS 2023, and its code DurstewitzLab/SCYFI). Only real
cycles (the orbit visits exactly the assumed regions) are cycles of the model; `region_fixed_points`
gives the fixed point of each region's affine map with its real/virtual label.

Each cycle carries the eigenvalues of the Jacobian product Π M_i along the orbit, its stability
type (`stability.classify`) and its region sequence. Duplicates are removed exactly: the cycle
equation of a region sequence has one solution, so exhaustive search meets each cycle once, and
SCYFI compares a new orbit with the known ones up to cyclic shifts within a tolerance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linprog

from . import scyfi
from .linalg import solve
from .pwl import PWLModel
from .stability import classify

METHODS = ("auto", "exhaustive", "scyfi")


@dataclass(frozen=True)
class Cycle:
    """A k-cycle (k = 1: fixed point) z_1 → ... → z_k → z_1 of a piecewise-linear model.

    ``points`` (k, M) in latent coordinates, ``regions`` (k, n_bits) the pattern of each point,
    ``eigenvalues`` (M,) of M_k ⋯ M_1, ``real`` whether the orbit visits exactly ``regions``.
    """

    points: np.ndarray
    regions: np.ndarray
    eigenvalues: np.ndarray
    real: bool
    stable: bool
    type: str

    @property
    def order(self) -> int:
        return int(self.points.shape[0])

    @property
    def max_abs_eigenvalue(self) -> float:
        return float(np.max(np.abs(self.eigenvalues)))


@dataclass(frozen=True)
class OrderReport:
    """How one order was searched: method, sequences solved, cycles found, seconds."""

    order: int
    method: str
    solved: int
    found: int
    seconds: float


@dataclass(frozen=True)
class CycleSearch:
    """Result of `find_cycles`: the real cycles (by order) and a report per order."""

    cycles: list[Cycle]
    orders: list[OrderReport]
    settings: dict = field(default_factory=dict)

    def of_order(self, k: int) -> list[Cycle]:
        return [c for c in self.cycles if c.order == k]


def make_cycle(model: PWLModel, points: np.ndarray, regions: np.ndarray) -> Cycle:
    """Label the orbit ``points`` assumed to visit ``regions``: product eigenvalues, real, type."""
    product = np.eye(model.dim)
    for bits in regions:
        product = model.affine(bits)[0] @ product
    eigenvalues = np.linalg.eigvals(product)
    real = bool(np.array_equal(model.pattern(points), regions))
    stable, kind = classify(eigenvalues, discrete=True)
    return Cycle(points, regions.astype(np.uint8), eigenvalues, real, stable, kind)


def region_fixed_points(model: PWLModel, regions: ArrayLike) -> list[Cycle | None]:
    """For each region pattern (n, n_bits): the fixed point z* = (I − M)⁻¹ c of its affine map
    z ↦ M z + c, labelled real if z* lies in that region and virtual otherwise; None where
    I − M is singular (no isolated fixed point)."""
    regions = np.atleast_2d(np.asarray(regions, dtype=np.uint8))
    out: list[Cycle | None] = []
    for bits in regions:
        matrix, offset = model.affine(bits)
        point, ok = solve(np.eye(model.dim) - matrix, offset)
        out.append(make_cycle(model, point[None], bits[None]) if ok else None)
    return out


def realizable_patterns(model: PWLModel, limit: int = 1 << 14) -> np.ndarray:
    """All region patterns of the model that contain an open set of states, (n, n_bits).

    With U = I every candidate is a region. Otherwise (shPLRNN, mean-centred PLRNN) each of the
    at most ``limit`` candidates is kept iff the linear programme max s subject to
    ±(U_k z − t_j) ≥ s for its bits has s > 0, i.e. its cell of the hyperplane arrangement is
    non-empty. Raises ValueError if there are more candidates than ``limit``.
    """
    count = model.candidate_count()
    if count > limit:
        raise ValueError(f"{count} candidate regions exceed the enumeration limit {limit}")
    candidates = model.candidate_patterns()
    if model.identity_preactivation:
        return candidates
    _, l, nb, _, _, _, u, _, _, unit, thr, _ = model.parts()
    rows = u[unit.astype(np.int64)]  # the bits' hyperplane normals (nb, M)
    cost = np.r_[np.zeros(model.dim), -1.0]
    bounds = [(None, None)] * model.dim + [(None, 1.0)]
    keep = []
    for bits in candidates:
        sign = np.where(bits == 1, -1.0, 1.0)[:, None]  # on: −(U z − t) + s ≤ 0; off: (U z − t) + s ≤ 0
        res = linprog(cost, A_ub=np.c_[sign * rows, np.ones(nb)], b_ub=(sign[:, 0] * thr), bounds=bounds, method="highs")
        keep.append(res.status == 0 and -res.fun > 1e-9)
    return candidates[np.asarray(keep, dtype=bool)]


def scyfi_limits(k: int) -> tuple[int, int]:
    """SCYFI's default (outer, inner) loop limits for order k (DurstewitzLab/SCYFI ``src/scyfi_algo/scyfi_algo.jl``)."""
    outer = 10 if k < 8 else 40 if k < 30 else 100
    inner = 20 if k < 3 else 60 if k < 6 else 300 if k < 8 else 1080 if k < 20 else 1115
    return outer, inner


def find_cycles(
    model: PWLModel,
    max_order: int,
    *,
    method: str = "auto",
    max_sequences: int = 200_000,
    outer: int | None = None,
    inner: int | None = None,
    pool_points: int = 100_000,
    pool_scale: float = 10.0,
    states: ArrayLike | None = None,
    seed: int = 0,
    tol: float = 1e-8,
) -> CycleSearch:
    """Real fixed points and cycles of orders 1..``max_order`` (see the module docstring).

    ``method``: "exhaustive" (raises ValueError if the regions cannot be enumerated), "scyfi", or
    "auto" (exhaustive for an order while about n^k / k ≤ ``max_sequences``, else SCYFI).
    SCYFI options: ``outer``/``inner`` loop limits (default `scyfi_limits`); for models whose
    regions are not products of unit intervals (shPLRNN, mean-centred PLRNN) random regions are
    drawn from the patterns of ``pool_points`` uniform points in [−pool_scale, pool_scale]^M and
    of ``states`` (e.g. a trajectory); ``seed`` fixes the draws. ``tol`` is the relative
    tolerance of the return to z_1 and of duplicate orbits.
    """
    if int(max_order) != max_order or max_order < 1:
        raise ValueError(f"the cycle order must be an integer >= 1, got {max_order}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    candidates = _enumerable_regions(model, method, int(max_order), max_sequences)
    pool, units, ranks, options = _random_region_source(model, pool_points, pool_scale, states, seed)
    cycles: list[Cycle] = []
    reports: list[OrderReport] = []
    for k in range(1, int(max_order) + 1):
        start = time.perf_counter()
        exact = candidates is not None and (method == "exhaustive" or len(candidates) ** k / k <= max_sequences)
        if exact:
            points, seqs, solved = scyfi.exhaustive(model.param_array, k, candidates, tol)
        else:
            default_outer, default_inner = scyfi_limits(k)
            points, seqs, solved = scyfi.scyfi(
                model.param_array, k, pool, units, ranks, options,
                outer or default_outer, inner or default_inner, seed + k, tol,
            )
        found = [make_cycle(model, *_canonical(pts, seq)) for pts, seq in zip(points, seqs)]
        found.sort(key=lambda c: c.regions.tobytes())
        cycles += found
        reports.append(OrderReport(k, "exhaustive" if exact else "scyfi", int(solved), len(found), time.perf_counter() - start))
    settings = {"max_order": int(max_order), "method": method, "max_sequences": max_sequences, "seed": seed, "tol": tol}
    return CycleSearch(cycles, reports, settings)


def _enumerable_regions(model: PWLModel, method: str, max_order: int, max_sequences: int) -> np.ndarray | None:
    """The regions exhaustive search runs over, or None where they cannot be enumerated.

    Unrealizable candidates never give real cycles, so the candidates serve as they are while
    every order stays affordable; otherwise the linear programmes of `realizable_patterns`
    thin them out first.
    """
    if method == "scyfi":
        return None
    try:
        if model.candidate_count() ** max_order / max_order <= max_sequences:
            return model.candidate_patterns()
        return realizable_patterns(model)
    except ValueError:
        if method == "exhaustive":
            raise ValueError(
                f"exhaustive search needs the regions enumerated, but this model has {model.candidate_count()} "
                "candidates; use method='scyfi' or 'auto'"
            ) from None
        return None


def _random_region_source(
    model: PWLModel, pool_points: int, pool_scale: float, states: ArrayLike | None, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pool, units, ranks, options) for `scyfi.scyfi`: a pattern pool (non-identity U), or per-bit
    units and threshold ranks with the number of intervals per unit (U = I, uniform draws)."""
    unit_options = model.unit_options()
    units = np.zeros(model.pattern_size, dtype=np.int64)
    ranks = np.zeros(model.pattern_size, dtype=np.int64)
    for k, opts in enumerate(unit_options):
        order = opts[-1]  # all bits of unit k, sorted by threshold
        units[order] = k
        ranks[order] = np.arange(len(order))
    options = np.array([len(o) for o in unit_options], dtype=np.int64)
    if model.identity_preactivation:
        return np.zeros((0, model.pattern_size), dtype=np.uint8), units, ranks, options
    rng = np.random.default_rng(seed)
    points = rng.uniform(-pool_scale, pool_scale, (int(pool_points), model.dim))
    if states is not None:
        points = np.concatenate([points, np.asarray(states, dtype=np.float64).reshape(-1, model.dim)])
    pool = np.unique(model.pattern(np.ascontiguousarray(points)), axis=0)
    return np.ascontiguousarray(pool), units, ranks, options


def _canonical(points: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the orbit so that its region sequence is the least rotation (bytewise)."""
    k = len(regions)
    shift = min(range(k), key=lambda s: np.roll(regions, -s, axis=0).tobytes())
    return np.roll(points, -shift, axis=0), np.roll(regions, -shift, axis=0)
