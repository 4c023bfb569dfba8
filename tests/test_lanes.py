"""Lane vectors (dsr.training.lanes): every operation equals numpy's, lane by lane, in both dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from dsr.training.lanes import add, div, dot, fma, lanes, load, mul, relu, splat, step, store, sub


@njit
def _all_operations(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Rows of ``out``: a+b, a−b, a·b, a + 2.5 b, [a]_+, 1[a>0], 3 (splat), a·b + a (scalar-free fma), −1.5, a/b."""
    x, y = load(a, 0), load(b, (0,))
    store(out, 0, add(x, y))
    store(out, 1, sub(x, y))
    store(out, 2, mul(x, y))
    store(out, 3, fma(x, 2.5, y))
    store(out, 4, relu(x))
    store(out, 5, step(x))
    store(out, 6, splat(out, 3))
    store(out, (7,), fma(x, x, y))
    store(out, 8, -1.5)
    store(out, 9, div(x, y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lane_operations_equal_numpy(dtype: type) -> None:
    width = lanes(dtype)
    assert width * np.dtype(dtype).itemsize == 64
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, width)).astype(dtype), rng.normal(size=(1, width)).astype(dtype)
    a[0, :2] = 0.0, np.nan  # relu and step at 0 and for NaN (both 0)
    out = np.zeros((10, width), dtype)
    _all_operations(a, b, out)
    x, y = a[0], b[0]
    expected = [x + y, x - y, x * y, x + 2.5 * y, np.where(x > 0, x, 0), (x > 0).astype(dtype),
                np.full(width, 3), x + x * y, np.full(width, -1.5), x / y]
    assert out.dtype == dtype
    for row, value in enumerate(expected):
        np.testing.assert_allclose(out[row], value.astype(dtype), rtol=4 * np.finfo(dtype).eps, err_msg=f"row {row}")


def test_lane_loads_address_the_indexed_row() -> None:
    @njit
    def copy_row(src: np.ndarray, i: int, j: int, dst: np.ndarray) -> None:
        store(dst, (j, i), load(src, (i, j)))

    src = np.arange(3 * 4 * 8, dtype=np.float64).reshape(3, 4, 8)
    dst = np.zeros((4, 3, 8))
    copy_row(src, 2, 1, dst)
    np.testing.assert_array_equal(dst[1, 2], src[2, 1])
    assert np.count_nonzero(dst) == 8


@pytest.mark.parametrize("n", [0, 1, 4, 7, 100])
def test_dot_sums_weighted_rows_in_every_lane(n: int) -> None:
    @njit
    def weighted(weights: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        store(out, 0, dot(splat(out, 0.5), weights, rows))

    rng = np.random.default_rng(n)
    weights, rows, out = rng.normal(size=n), rng.normal(size=(n, 8)), np.zeros((1, 8))
    weighted(weights, rows, out)
    np.testing.assert_allclose(out[0], 0.5 + weights @ rows, rtol=1e-13, atol=1e-13)
