"""Small dense linear algebra inside Numba kernels, without BLAS/LAPACK's per-call overhead.

For the matrices of the analysis (tens of rows) explicit loops beat a library call per product;
the products are written as dot products over contiguous rows, and ``reassoc`` lets LLVM
vectorise them (unlike full fastmath it keeps NaN and inf semantics, which callers rely on).
"""

from __future__ import annotations

import numpy as np
from numba import njit

FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=FAST)
def matvec_into(a, x, out):
    """out = a @ x."""
    for i in range(a.shape[0]):
        s = 0.0
        for k in range(a.shape[1]):
            s += a[i, k] * x[k]
        out[i] = s


@njit(cache=True, fastmath=FAST)
def matmul_t_into(a, b, out):
    """out = a @ bᵀ, i.e. out[i, j] = a_i · b_j (rows of both contiguous)."""
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            s = 0.0
            for m in range(a.shape[1]):
                s += a[i, m] * b[j, m]
            out[i, j] = s


@njit(cache=True)
def solve(a, b):
    """x with a x = b by Gaussian elimination with partial pivoting; (x, False) if a is singular."""
    n = b.shape[0]
    m = a.copy()
    x = b.copy()
    scale = max(np.max(np.abs(a)), 1e-300)
    for col in range(n):
        piv = col + np.argmax(np.abs(m[col:, col]))
        if abs(m[piv, col]) <= 1e-13 * scale:
            return x, False
        if piv != col:
            for j in range(n):
                m[col, j], m[piv, j] = m[piv, j], m[col, j]
            x[col], x[piv] = x[piv], x[col]
        for r in range(col + 1, n):
            f = m[r, col] / m[col, col]
            if f != 0.0:
                for j in range(col, n):
                    m[r, j] -= f * m[col, j]
                x[r] -= f * x[col]
    for r in range(n - 1, -1, -1):
        s = x[r]
        for j in range(r + 1, n):
            s -= m[r, j] * x[j]
        x[r] = s / m[r, r]
    return x, True
