"""Linear recurrences z_t = A_t z_{t−1} + b_t over all t at once, by a parallel associative scan.

The affine maps f_t(z) = A_t z + b_t compose associatively,

    (f_j ∘ f_i)(z) = A_j A_i z + (A_j b_i + b_j),

so every prefix f_t ∘ ⋯ ∘ f_1 follows from a parallel prefix scan of depth O(log T) (Blelloch,
"Prefix sums and their applications", 1990; the combine of DEER, Lim et al., ICLR 2024,
``deer/maths.py::matmul_recursive``). The scan here is the odd–even recursion of
``jax.lax.associative_scan``: combine neighbouring pairs, scan the half-length sequence of pairs,
then fill in the even positions — O(T) combines in 2·log₂T rounds of batched torch operations, so it
runs on the CPU and on a GPU alike.

Two forms of A_t, told apart by shape: dense (…, T, M, M), for the full Newton step of the PLRNN
family (dense Jacobians), and diagonal (…, T, M), for quasi-Newton. The reverse recurrence
z_t = A_t z_{t+1} + b_t (t = T..1, z_{T+1} = 0 after folding) is the forward one on flipped time;
the adjoint pass of training uses it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _is_dense(A: Tensor, b: Tensor) -> bool:
    if A.ndim == b.ndim + 1 and A.shape[-1] == A.shape[-2] == b.shape[-1]:
        return True
    if A.shape[-1] == b.shape[-1] and A.ndim == b.ndim:
        return False
    raise ValueError(
        f"A {tuple(A.shape)} fits neither b {tuple(b.shape)} as dense (…, T, M, M) nor as diagonal (…, T, M); "
        "pass matrices or diagonals with b's time and state dims"
    )


def _apply(A: Tensor, b: Tensor, dense: bool) -> Tensor:
    return (A @ b.unsqueeze(-1)).squeeze(-1) if dense else A * b


def _combine(A_later: Tensor, b_later: Tensor, A_earlier: Tensor, b_earlier: Tensor, dense: bool) -> tuple[Tensor, Tensor]:
    """f_later ∘ f_earlier, elementwise over the leading dims."""
    A = A_later @ A_earlier if dense else A_later * A_earlier
    return A, _apply(A_later, b_earlier, dense) + b_later


def _times(A: Tensor, start: int, stop: int, dense: bool) -> Tensor:
    """A at every other time step in [start, stop)."""
    return A[..., start:stop:2, :, :] if dense else A[..., start:stop:2, :]


def _offsets(A: Tensor, b: Tensor, dense: bool, need_matrices: bool) -> tuple[Tensor | None, Tensor]:
    """Prefix compositions along the time dim (A: dim −3 dense, −2 diagonal; b: dim −2).

    Returns (A_{t..1} or None, offsets) with f_t ∘ ⋯ ∘ f_1 (z) = A_{t..1} z + offset_t. The offsets
    need the matrices only on the way up, so ``need_matrices=False`` skips them on the way down.
    """
    n = b.shape[-2]
    if n == 1:
        return A, b
    half, rest = n // 2, (n - 1) // 2
    # Pairs f_{2i+1} ∘ f_{2i} (0-based); their prefixes are the prefixes at the odd positions.
    pair_A, pair_b = _combine(
        _times(A, 1, 2 * half, dense), b[..., 1 : 2 * half : 2, :], _times(A, 0, 2 * half, dense), b[..., 0 : 2 * half : 2, :], dense
    )
    odd_A, odd_b = _offsets(pair_A, pair_b, dense, need_matrices)
    # Even positions 2, 4, … are f_{2i} ∘ prefix_{2i−1}; position 0 is f_0 itself.
    A_next, b_next = _times(A, 2, 2 + 2 * rest, dense), b[..., 2 : 2 + 2 * rest : 2, :]
    even_b = torch.cat((b[..., :1, :], _apply(A_next, odd_b[..., :rest, :], dense) + b_next), dim=-2)
    out_b = _interleave(even_b, odd_b, n, -2)
    if not need_matrices:
        return None, out_b
    t_dim = -3 if dense else -2
    assert odd_A is not None
    head = odd_A.narrow(t_dim, 0, rest)
    even_A = torch.cat((A.narrow(t_dim, 0, 1), A_next @ head if dense else A_next * head), dim=t_dim)
    return _interleave(even_A, odd_A, n, t_dim), out_b


def _interleave(even: Tensor, odd: Tensor, n: int, dim: int) -> Tensor:
    """Positions 0, 2, 4, … from ``even`` and 1, 3, … from ``odd`` along ``dim`` (length n)."""
    dim = dim % even.ndim
    n_odd = odd.shape[dim]
    pairs = torch.stack((even.narrow(dim, 0, n_odd), odd), dim=dim + 1).flatten(dim, dim + 1)
    return torch.cat((pairs, even.narrow(dim, n_odd, even.shape[dim] - n_odd)), dim=dim) if n % 2 else pairs


def compose(A: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Every prefix f_t ∘ ⋯ ∘ f_1 of the affine maps f_t(z) = A_t z + b_t: (A_{t..1}, offsets), shapes of (A, b).

    A: (…, T, M, M) dense or (…, T, M) diagonal; b: (…, T, M).
    """
    dense = _is_dense(A, b)
    A, b = torch.broadcast_tensors(A, b.unsqueeze(-1) if dense else b)
    b = b[..., 0] if dense else b
    prefix_A, prefix_b = _offsets(A, b, dense, need_matrices=True)
    assert prefix_A is not None
    return prefix_A, prefix_b


def solve_linear(A: Tensor, b: Tensor, z0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """The states of a linear recurrence, (…, T, M), by the parallel scan.

    Forward: z_t = A_t z_{t−1} + b_t for t = 1..T from z_0 = ``z0`` (zeros if None); index t−1 of the
    time dim holds step t. Reverse: z_t = A_t z_{t+1} + b_t for t = T..1 from z_{T+1} = ``z0``.
    """
    dense = _is_dense(A, b)
    if reverse:
        t_dim = -3 if dense else -2
        return solve_linear(A.flip(t_dim), b.flip(-2), z0).flip(-2)
    lead = torch.broadcast_shapes(A.shape[: -3 if dense else -2], b.shape[:-2])
    A = A.expand(*lead, *A.shape[-3 if dense else -2 :])
    b = b.expand(*lead, *b.shape[-2:])
    if z0 is not None:
        # Fold z_0 into the first offset: then the offsets alone are the states.
        first = _apply(A[..., 0, :, :] if dense else A[..., 0, :], z0.expand(*lead, b.shape[-1]), dense) + b[..., 0, :]
        b = torch.cat((first.unsqueeze(-2), b[..., 1:, :]), dim=-2)
    _, states = _offsets(A, b, dense, need_matrices=False)
    return states


def solve_sequential(A: Tensor, b: Tensor, z0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """The same states as :func:`solve_linear` by a plain loop over t (the reference for tests)."""
    dense = _is_dense(A, b)
    t_dim = -3 if dense else -2
    if reverse:
        return solve_sequential(A.flip(t_dim), b.flip(-2), z0).flip(-2)
    z = torch.zeros_like(b[..., 0, :]) if z0 is None else z0.expand_as(b[..., 0, :])
    out = []
    for t in range(b.shape[-2]):
        z = _apply(A.select(t_dim, t), z, dense) + b[..., t, :]
        out.append(z)
    return torch.stack(out, dim=-2)
