"""The Numba face of the PLRNN-family models: one normal form for every piecewise-linear kind.

Every kind of ``dsr.kinds`` is the map (its normal form, ``dsr/kinds/normal_form.py``; Hess et al., ICML
2023; Brenner et al., NeurIPS 2024; regions and their affine maps as in Eisenmann et al., NeurIPS 2023)

    z' = A ⊙ z + V φ(U z) + h,

with pre-activation u = U z ∈ R^L, read-out V ∈ R^{M×L}, bias h, and a piecewise-linear φ that
acts unit by unit. Here φ is written with one threshold per pattern bit j: bit j watches hidden
unit k(j) and is on iff u_{k(j)} − t_j > 0, and

    φ_k(u) = ℓ_k u_k + Σ_{j: k(j)=k} w_j [u_k − t_j]_+ .

So in the linear region named by the bit pattern π, φ(u) = g(π) ⊙ u + c(π) with
g_k = ℓ_k + Σ_{j→k} w_j π_j and c_k = −Σ_{j→k} w_j t_j π_j, and the step is the affine map

    z ↦ (diag(A) + V diag(g) U) z + V c + h,

whose matrix is also the Jacobian everywhere in the region. The kinds are (bits in the order of
the torch ``pattern``):

| kind | U | V | ℓ | bit j: unit, threshold t_j, weight w_j |
|---|---|---|---|---|
| plrnn | I (mean-centred: I − 11ᵀ/M) | W, diagonal zeroed | 0 | j, 0, 1 |
| alrnn (P ReLUs) | I | W | 1 on the first M−P units | M−P+j, 0, 1 |
| shplrnn | W₂ | W₁ | 0 | j, −h₂_j, 1 |
| clipped-shplrnn | W₂ | W₁ | 0 | j < L: j, −h₂_j, 1; L+j: j, 0, −1 |
| dendplrnn (B bases) | I | W, diagonal zeroed | 0 | m·B+b: m, H_{mb}, α_b |

External inputs C s are left out: the analysis studies the autonomous map (s = 0).

The model is packed into one float64 vector ``p`` (header M, L, n_bits, U-is-identity, then
A, V, U, h, ℓ, k, t, w), so that its step and Jacobian have the signatures of the
``dsr.systems`` kernels (``VECTOR_FIELD``/``JACOBIAN``) and every tool that takes a system also
takes a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from math import comb

import numpy as np
from numba import njit, types
from numpy.typing import ArrayLike


from .linalg import matvec_into

KINDS = ("plrnn", "alrnn", "shplrnn", "clipped-shplrnn", "dendplrnn")

_VEC = types.float64[::1]
_MAT = types.float64[:, ::1]
_BITS = types.uint8[::1]
_HEADER = 4


# ----- Numba kernels on the packed vector p ---------------------------------------------------------


@njit(cache=True)
def unpack(p):
    """Views (M, L, n_bits, identity, A, V, U, h, ℓ, k, t, w) into the packed parameters ``p``."""
    m, l, nb = int(p[0]), int(p[1]), int(p[2])
    identity = p[3] != 0.0
    o = _HEADER
    a = p[o : o + m]
    o += m
    v = p[o : o + m * l].reshape((m, l))
    o += m * l
    u = p[o : o + l * m].reshape((l, m))
    o += l * m
    h = p[o : o + m]
    o += m
    lin = p[o : o + l]
    o += l
    unit = p[o : o + nb]
    o += nb
    thr = p[o : o + nb]
    o += nb
    wt = p[o : o + nb]
    return m, l, nb, identity, a, v, u, h, lin, unit, thr, wt


# The ``*_into`` kernels take the views of `unpack` (``parts``) and write into caller-owned buffers:
# the cycle searches call them millions of times, where unpacking and allocating each time would
# dominate the cost.


@njit(cache=True)
def preactivation_into(z, parts, pre):
    """pre = U z."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    if identity:
        pre[:] = z
    else:
        matvec_into(u, z, pre)


@njit(cache=True)
def bits_into(pre, parts, bits):
    """bits_j = 1[pre_{k(j)} − t_j > 0]: the region pattern."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    for j in range(nb):
        bits[j] = 1 if pre[int(unit[j])] - thr[j] > 0.0 else 0


@njit(cache=True)
def slopes_into(pre, parts, g):
    """g = ℓ + Σ_{j: bit j on} w_j at unit k(j): the slopes of φ in the region of pre = U z."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    g[:] = lin
    for j in range(nb):
        k = int(unit[j])
        if pre[k] - thr[j] > 0.0:
            g[k] += wt[j]


@njit(cache=True)
def step_into(z, pre, parts, phi, out):
    """out = A ⊙ z + V φ(pre) + h, with pre = U z; phi is workspace (L,)."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    for k in range(l):
        phi[k] = lin[k] * pre[k]
    for j in range(nb):
        # max, not a branch: the bits' signs are data, and mispredicted branches cost most of a step.
        k = int(unit[j])
        phi[k] += wt[j] * max(pre[k] - thr[j], 0.0)
    matvec_into(v, phi, out)
    for i in range(m):
        out[i] += a[i] * z[i] + h[i]


@njit(cache=True)
def matrix_into(g, parts, matrix):
    """matrix = diag(A) + V diag(g) U: the region matrix for slopes g."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    for i in range(m):
        for j in range(m):
            matrix[i, j] = 0.0
        for k in range(l):
            vg = v[i, k] * g[k]
            if vg == 0.0:
                continue
            if identity:
                matrix[i, k] += vg
            else:
                for j in range(m):
                    matrix[i, j] += vg * u[k, j]
        matrix[i, i] += a[i]


@njit(cache=True)
def region_into(bits, parts, g, c, matrix, offset):
    """matrix and offset = V c + h of region ``bits``; g, c workspace (L,)."""
    m, l, nb, identity, a, v, u, h, lin, unit, thr, wt = parts
    g[:] = lin
    c[:] = 0.0
    for j in range(nb):
        if bits[j]:
            k = int(unit[j])
            g[k] += wt[j]
            c[k] -= wt[j] * thr[j]
    matvec_into(v, c, offset)
    offset += h
    matrix_into(g, parts, matrix)


@njit(_VEC(_VEC, _VEC), cache=True)
def step(z, p):
    """z' = A ⊙ z + V φ(U z) + h."""
    parts = unpack(p)
    m, l = parts[0], parts[1]
    pre, phi, out = np.empty(l), np.empty(l), np.empty(m)
    preactivation_into(z, parts, pre)
    step_into(z, pre, parts, phi, out)
    return out


@njit(cache=True, nogil=True)
def trajectory(z0, steps, transient, p):
    """Free run (steps, M) from z0, row 0 the state after ``transient`` steps: ``step`` iterated with
    its buffers allocated once (allocating them at every step took most of the time). Releases the
    GIL (callers run an ensemble's members on threads)."""
    parts = unpack(p)
    m, l = parts[0], parts[1]
    pre, phi, z = np.empty(l), np.empty(l), np.empty(m)
    out = np.empty((steps, m))
    out[0] = z0
    for _ in range(transient):
        z[:] = out[0]
        preactivation_into(z, parts, pre)
        step_into(z, pre, parts, phi, out[0])
    for t in range(1, steps):
        preactivation_into(out[t - 1], parts, pre)
        step_into(out[t - 1], pre, parts, phi, out[t])
    return out


@njit(cache=True, nogil=True)
def ahead(starts, k, p):
    """The state k steps after each start (rows of ``starts``, (B, M)): k-step predictions, (B, M).
    Releases the GIL (callers run an ensemble's members on threads)."""
    parts = unpack(p)
    m, l = parts[0], parts[1]
    pre, phi, z = np.empty(l), np.empty(l), np.empty(m)
    result = np.empty_like(starts)
    for b in range(starts.shape[0]):
        out = result[b]
        out[:] = starts[b]
        for _ in range(k):
            z[:] = out
            preactivation_into(z, parts, pre)
            step_into(z, pre, parts, phi, out)
    return result


@njit(_BITS(_VEC, _VEC), cache=True)
def pattern(z, p):
    """The region's bit pattern π_j = 1[u_{k(j)} − t_j > 0]."""
    parts = unpack(p)
    pre = np.empty(parts[1])
    bits = np.empty(parts[2], dtype=np.uint8)
    preactivation_into(z, parts, pre)
    bits_into(pre, parts, bits)
    return bits


@njit(types.Tuple((_MAT, _VEC))(_BITS, _VEC), cache=True)
def affine(bits, p):
    """(matrix, offset) of the affine map of region ``bits``: z' = matrix z + offset there."""
    parts = unpack(p)
    m, l = parts[0], parts[1]
    matrix, offset = np.empty((m, m)), np.empty(m)
    region_into(bits, parts, np.empty(l), np.empty(l), matrix, offset)
    return matrix, offset


@njit(_MAT(_VEC, _VEC), cache=True)
def jacobian(z, p):
    """∂z'/∂z = diag(A) + V diag(g(π(z))) U: the matrix of z's region."""
    parts = unpack(p)
    m, l = parts[0], parts[1]
    pre, g, matrix = np.empty(l), np.empty(l), np.empty((m, m))
    preactivation_into(z, parts, pre)
    slopes_into(pre, parts, g)
    matrix_into(g, parts, matrix)
    return matrix


@njit(_VEC(_VEC, _VEC, _MAT), cache=True)
def step_jacobian(z, p, jac):
    """z' = A ⊙ z + V φ(U z) + h, with the Jacobian of z's region written into ``jac`` (M, M).

    The ``STEP_JACOBIAN`` of `dsr.systems.integrate`: one unpacking and one pre-activation for
    both, where `step` and `jacobian` each do their own (a third of a tangent step's cost at M = 20).
    """
    parts = unpack(p)
    m, l = parts[0], parts[1]
    pre, phi, g, out = np.empty(l), np.empty(l), np.empty(l), np.empty(m)
    preactivation_into(z, parts, pre)
    slopes_into(pre, parts, g)
    matrix_into(g, parts, jac)
    step_into(z, pre, parts, phi, out)
    return out


@njit(types.uint8[:, ::1](_MAT, _VEC), cache=True)
def patterns(states, p):
    """Bit patterns (T, n_bits) of states (T, M)."""
    nb = int(p[2])
    out = np.empty((states.shape[0], nb), dtype=np.uint8)
    for t in range(states.shape[0]):
        out[t] = pattern(states[t], p)
    return out


# ----- the model object ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PWLModel:
    """One piecewise-linear model in the normal form of the module docstring.

    It has the face of a ``dsr.systems`` map (``kind == "map"``, ``dim``, ``param_array``,
    ``numba_rhs``, ``numba_jacobian``), so the Lyapunov tools take it as they take a system;
    ``model_kind`` names the PLRNN-family kind. Build it with `from_params`.
    """

    model_kind: str
    param_array: np.ndarray

    kind = "map"

    @property
    def numba_rhs(self):
        """The jitted step ``(z, p) -> z'`` (a ``VECTOR_FIELD`` for the systems kernels)."""
        return step

    @property
    def numba_jacobian(self):
        """The jitted Jacobian ``(z, p) -> (M, M)`` (a ``JACOBIAN``)."""
        return jacobian

    @property
    def numba_step_jacobian(self):
        """The jitted ``(z, p, jac_out) -> z'`` that also writes the Jacobian (a ``STEP_JACOBIAN``)."""
        return step_jacobian

    @property
    def dim(self) -> int:
        """Latent dimension M."""
        return int(self.param_array[0])

    @property
    def pattern_size(self) -> int:
        """Number of bits of a region pattern."""
        return int(self.param_array[2])

    @property
    def identity_preactivation(self) -> bool:
        """Whether U = I (the unit-wise kinds but the mean-centred PLRNN)."""
        return bool(self.param_array[3])

    def parts(self) -> tuple:
        """The views (M, L, n_bits, identity, A, V, U, h, ℓ, k, t, w) of the packed parameters."""
        return unpack(self.param_array)

    def step(self, z: ArrayLike) -> np.ndarray:
        """The next state of one state z (M,)."""
        return step(_state(z, self.dim), self.param_array)

    def jacobian(self, z: ArrayLike) -> np.ndarray:
        """The Jacobian (M, M) at z."""
        return jacobian(_state(z, self.dim), self.param_array)

    def pattern(self, z: ArrayLike) -> np.ndarray:
        """Region pattern (uint8 bits) of one state (M,) or of states (T, M)."""
        z = np.ascontiguousarray(z, dtype=np.float64)
        if z.ndim == 2 and z.shape[1] == self.dim:
            return patterns(z, self.param_array)
        return pattern(_state(z, self.dim), self.param_array)

    def affine(self, bits: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(matrix (M, M), offset (M,)) of the region with pattern ``bits``."""
        bits = np.ascontiguousarray(bits, dtype=np.uint8)
        if bits.shape != (self.pattern_size,):
            raise ValueError(f"a region pattern has {self.pattern_size} bits, got shape {bits.shape}")
        return affine(bits, self.param_array)

    def trajectory(self, steps: int, z0: ArrayLike, transient: int = 0) -> np.ndarray:
        """Free run (steps, M) from z0; row 0 is the state after ``transient`` steps."""
        if steps < 1 or transient < 0:
            raise ValueError(f"need steps >= 1 and transient >= 0, got steps={steps}, transient={transient}")
        return trajectory(_state(z0, self.dim), int(steps), int(transient), self.param_array)

    def ahead(self, starts: ArrayLike, k: int) -> np.ndarray:
        """The states k ≥ 0 steps after each row of ``starts`` (B, M): k-step predictions, (B, M)."""
        starts = np.ascontiguousarray(starts, dtype=np.float64)
        if starts.ndim != 2 or starts.shape[1] != self.dim or k < 0:
            raise ValueError(f"need starts of shape (B, {self.dim}) and k >= 0, got {starts.shape} and k={k}")
        return ahead(starts, int(k), self.param_array)

    def unit_options(self) -> list[list[np.ndarray]]:
        """Per pre-activation unit, the bit settings it can take, as lists of bit indices that are on.

        A unit with thresholds t_(1) < ... < t_(n) lies in one of n + 1 intervals; in the i-th the
        bits of its i smallest thresholds are on. Units without bits have the single option "none".
        """
        _, l, nb, _, _, _, _, _, _, unit, thr, _ = self.parts()
        options = []
        for k in range(l):
            bits = np.flatnonzero(unit.astype(np.int64) == k)
            order = bits[np.argsort(thr[bits], kind="stable")]
            options.append([order[:i] for i in range(len(order) + 1)])
        return options

    def candidate_count(self) -> int:
        """Number of patterns `candidate_patterns` enumerates: Π_k (thresholds on unit k + 1)."""
        return int(np.prod([len(o) for o in self.unit_options()], dtype=object))

    def candidate_patterns(self) -> np.ndarray:
        """Every pattern that the thresholds of each unit allow, (n, n_bits) uint8.

        With U = I these are exactly the model's regions; otherwise (shPLRNN, mean-centred PLRNN)
        a superset: a pattern whose hyperplanes do not meet is never visited and never solves the
        cycle equation consistently, so exhaustive searches stay exact.
        """
        options = [o for o in self.unit_options() if len(o) > 1]
        out = np.zeros((self.candidate_count(), self.pattern_size), dtype=np.uint8)
        for row, choice in enumerate(product(*options)):
            for on in choice:
                out[row, on] = 1
        return out

    def possible_regions(self) -> int:
        """Number of linear regions: exact for U = I, else the arrangement bound.

        n_b hyperplanes in general position cut R^r (r = rank U) into at most Σ_{i≤r} C(n_b, i)
        regions (Buck 1943, 'Partition of space', Amer. Math. Monthly 50, 541); parallel
        thresholds on one unit lower this to at most the candidate count, the smaller is returned.
        """
        candidates = self.candidate_count()
        if self.identity_preactivation:
            return candidates
        _, _, nb, _, _, _, u, *_ = self.parts()
        rank = int(np.linalg.matrix_rank(u))
        return min(candidates, sum(comb(nb, i) for i in range(min(rank, nb) + 1)))


def _state(z: ArrayLike, dim: int) -> np.ndarray:
    arr = np.array(z, dtype=np.float64, order="C")
    if arr.shape != (dim,):
        raise ValueError(f"expected a state of shape ({dim},), got shape {arr.shape}")
    return arr


def pack(
    a: ArrayLike,
    v: ArrayLike,
    u: ArrayLike | None,
    h: ArrayLike,
    linear: ArrayLike,
    bits: tuple[ArrayLike, ArrayLike, ArrayLike],
) -> np.ndarray:
    """The packed vector of a normal form: A (M), V (M, L), U (L, M) or None for I, h, ℓ (L),
    and the bits' (units, thresholds, weights)."""
    a, v, h, linear = (np.asarray(x, dtype=np.float64) for x in (a, v, h, linear))
    m, l = v.shape
    identity = u is None
    u = np.eye(m) if identity else np.asarray(u, dtype=np.float64)
    units, thresholds, weights = (np.asarray(x, dtype=np.float64).ravel() for x in bits)
    header = [m, l, units.size, 1.0 if identity else 0.0]
    parts = (header, a, v.ravel(), u.ravel(), h, linear, units, thresholds, weights)
    return np.ascontiguousarray(np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in parts]))


def from_params(
    kind: str, params: Mapping[str, ArrayLike], *, relus: int = 0, mean_centering: bool = False
) -> PWLModel:
    """The Numba face of one member of a PLRNN-family kind from its parameter arrays.

    ``params`` maps the run store's names (A, W, h; W1, W2, h1, h2; alpha, H) to arrays without the
    member dim; ``relus`` is P of the AL-RNN, ``mean_centering`` the mcPLRNN flag. The kind's normal
    form comes from its one definition in ``dsr.kinds`` (torch-free; the only thing this room takes
    from the core), evaluated on numpy arrays, and is packed by :func:`from_normal_form`.
    Raises ValueError for an unknown kind, missing parameters or inconsistent shapes.
    """
    from dsr.kinds import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of: {', '.join(KINDS)}")
    dims = KINDS[kind].dynamics_dims
    missing = [n for n in dims if n not in params]
    if missing:
        raise ValueError(f"{kind} parameters lack {', '.join(missing)}")
    p = {n: np.asarray(params[n], dtype=np.float64) for n in dims}
    sizes = _sizes(kind, p, dims)
    if "relus" in KINDS[kind].size_fields and not 0 <= relus <= sizes["latent"]:
        raise ValueError(f"{kind}: relus must be in 0..{sizes['latent']}, got {relus}")
    members = {n: value[None] for n, value in p.items()}  # the normal form takes a member dim
    return PWLModel(kind, from_normal_form(KINDS[kind].normal_form(members, relus, mean_centering)))


def _sizes(kind: str, p: dict[str, np.ndarray], dims: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """The named sizes of the parameters (vectors first, then matrices); ValueError naming every expected
    shape when one does not fit."""
    sizes: dict[str, int] = {}
    for name in sorted(dims, key=lambda n: len(dims[n])):
        for dim, length in zip(dims[name], p[name].shape):
            sizes.setdefault("latent" if dim == "latent_in" else dim, length)
    expected = {n: tuple(sizes.get("latent" if d == "latent_in" else d, -1) for d in names) for n, names in dims.items()}
    wrong = [n for n in dims if p[n].shape != expected[n]]
    if wrong:
        shapes = ", ".join(f"{n} must be {expected[n]}" for n in dims)
        raise ValueError(f"{kind}: {shapes}; got {', '.join(f'{n} {p[n].shape}' for n in wrong)}")
    return sizes


def from_normal_form(nf) -> np.ndarray:  # noqa: ANN001 - a dsr.kinds.NormalForm of numpy arrays, one member
    """The packed vector (``pack``) of a one-member normal form (``dsr.kinds.normal_form``).

    Its P pre-activations are this face's units: U = the normal form's U (None: I), ℓ_k = Σ_j lin_j w_j
    over unit k's columns, one bit per ramp column (threshold −θ_j, weight ramp_j w_j) and then one per
    clip column (threshold 0, weight −clip_j w_j), each on its column's unit k(j) = ⌊j/r⌋.
    """
    r, columns = nf.group, nf.columns
    weights = np.ones(columns) if nf.weights is None else np.asarray(nf.weights[0], dtype=np.float64).reshape(-1)
    theta = np.zeros(columns) if nf.theta is None else -np.asarray(nf.theta[0], dtype=np.float64)
    unit = np.arange(columns) // r
    linear = np.zeros(columns // r)
    np.add.at(linear, unit, nf.lin * weights)
    ramps, clips = nf.ramp_columns, nf.clip_columns
    bits = (
        np.r_[unit[ramps], unit[clips]],
        np.r_[theta[ramps], np.zeros(len(clips))],
        np.r_[nf.ramp[ramps] * weights[ramps], -nf.clip[clips] * weights[clips]],
    )
    u = None if nf.U is None else np.asarray(nf.U[0])
    return pack(nf.A[0], nf.V[0], u, nf.h[0], linear, bits)
