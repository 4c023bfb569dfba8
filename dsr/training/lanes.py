"""Lane vectors for Numba kernels: a 512-bit vector of float64 or float32 values, one SIMD instruction per operation.

The training kernels advance many independent windows through the same tiny recursion (M of 3 to
100 units). Vectorising over a unit index gives short loops with horizontal sums and remainders;
vectorising over windows gives every operation the same full width. LLVM does not find that
vectorisation in Numba code by itself (its SLP pass gives up on the possible aliasing between the
arrays, and Numba tuples become aggregates, not vectors), so this module gives Numba a value type
whose LLVM type *is* a vector, ``<8 x double>`` or ``<16 x float>`` (``lanes(dtype)`` values: 64
bytes, one AVX-512 register or two AVX2 ones), and the few operations the kernels need as intrinsics:

- ``load(a, index)`` / ``store(a, index, v)``: the contiguous last axis of ``a`` (of length
  ``lanes(a.dtype)``) at ``index`` (an integer or a tuple of ``a.ndim − 1`` integers), as one vector
  load or store;
- ``splat(a, x)``: x in every lane of a vector of ``a``'s dtype;
- ``add``, ``sub``, ``mul``, ``div``, ``fma(acc, a, b) = acc + a b``: lane by lane; any argument but one may
  be a scalar (broadcast, cast to the vectors' dtype);
- ``relu(v) = [v]_+`` and ``step(v) = 1[v > 0]`` (both 0 for NaN; the linear parts of the recursion
  still carry a NaN to the loss);
- ``dot(acc, w, x) = acc + Σ_j w_j x_j``, scalar weights w and rows x_j of a (n, L) array, in four
  interleaved chains (see its doc: a single chain waits on each FMA's latency).

Products and sums may be contracted into fused multiply-adds (the kernels' ``fastmath`` contract
flag), which changes the last bit of some results, as in the rest of the kernels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

_VECTOR_BYTES = 64
_FLAGS = ("contract",)
_I32 = ir.IntType(32)


def lanes(dtype: np.dtype | type | types.Type) -> int:
    """Values per lane vector: 8 float64 or 16 float32."""
    itemsize = dtype.bitwidth // 8 if isinstance(dtype, types.Float) else np.dtype(dtype).itemsize
    return _VECTOR_BYTES // itemsize


class LaneVector(types.Type):
    """Numba type of ``lanes(dtype)`` values of ``dtype`` held as one LLVM vector."""

    def __init__(self, dtype: types.Float) -> None:
        self.dtype, self.count = dtype, lanes(dtype)
        super().__init__(name=f"LaneVector({dtype}, {self.count})")


@register_model(LaneVector)
class _LaneVectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type: LaneVector) -> None:
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.count))


def _as_vector(context, builder, value, ty: types.Type, vector: LaneVector) -> ir.Value:
    """The LLVM vector of a lane vector, or a scalar cast to the vector's dtype and broadcast to all lanes."""
    if isinstance(ty, LaneVector):
        return value
    vector_type = context.get_value_type(vector)
    scalar = context.cast(builder, value, ty, vector.dtype)
    first = builder.insert_element(ir.Constant(vector_type, ir.Undefined), scalar, _I32(0))
    mask = ir.Constant(ir.VectorType(_I32, vector.count), [0] * vector.count)
    return builder.shuffle_vector(first, ir.Constant(vector_type, ir.Undefined), mask)


def _lanewise(build: Callable[..., ir.Value]) -> Callable:
    """Typing and code generation of an intrinsic applying ``build(builder, *vectors)`` lane by lane.

    The vector arguments must share one dtype; scalars are broadcast to it.
    """

    def typer(typingctx, *argument_types):
        vector_types = {t for t in argument_types if isinstance(t, LaneVector)}
        scalars_ok = all(isinstance(t, (LaneVector, types.Float, types.Integer)) for t in argument_types)
        if len(vector_types) != 1 or not scalars_ok:
            return None
        (result,) = vector_types

        def codegen(context, builder, signature, args):
            vectors = [_as_vector(context, builder, v, t, result) for v, t in zip(args, signature.args, strict=True)]
            return build(builder, *vectors)

        return result(*argument_types), codegen

    return typer


@intrinsic
def splat(typingctx, array, x):
    """x in every lane of a vector of ``array``'s dtype."""
    if not (isinstance(array, types.Array) and isinstance(array.dtype, types.Float)):
        return None
    result = LaneVector(array.dtype)

    def codegen(context, builder, signature, args):
        return _as_vector(context, builder, args[1], signature.args[1], result)

    return result(array, x), codegen


@intrinsic
def add(typingctx, a, b):
    return _lanewise(lambda builder, x, y: builder.fadd(x, y, flags=_FLAGS))(typingctx, a, b)


@intrinsic
def sub(typingctx, a, b):
    return _lanewise(lambda builder, x, y: builder.fsub(x, y, flags=_FLAGS))(typingctx, a, b)


@intrinsic
def mul(typingctx, a, b):
    return _lanewise(lambda builder, x, y: builder.fmul(x, y, flags=_FLAGS))(typingctx, a, b)


@intrinsic
def div(typingctx, a, b):
    return _lanewise(lambda builder, x, y: builder.fdiv(x, y, flags=_FLAGS))(typingctx, a, b)


@intrinsic
def fma(typingctx, acc, a, b):
    """acc + a b."""
    return _lanewise(lambda builder, s, x, y: builder.fadd(s, builder.fmul(x, y, flags=_FLAGS), flags=_FLAGS))(
        typingctx, acc, a, b
    )


def _positive(builder, x: ir.Value) -> ir.Value:
    return builder.fcmp_ordered(">", x, ir.Constant(x.type, None))


@intrinsic
def relu(typingctx, a):
    """[a]_+."""
    return _lanewise(lambda builder, x: builder.select(_positive(builder, x), x, ir.Constant(x.type, None)))(typingctx, a)


@intrinsic
def step(typingctx, a):
    """1[a > 0]."""

    def build(builder, x):
        one = ir.Constant(x.type, [ir.Constant(x.type.element, 1.0)] * x.type.count)
        return builder.select(_positive(builder, x), one, ir.Constant(x.type, None))

    return _lanewise(build)(typingctx, a)


def _lane_pointer(context, builder, array_type, array, index, index_type) -> ir.Value:
    """Pointer to a[index, 0] as a pointer to a lane vector."""
    indices = [builder.extract_value(index, i) for i in range(len(index_type))] if isinstance(index_type, types.BaseTuple) else [index]
    index_types = list(index_type) if isinstance(index_type, types.BaseTuple) else [index_type]
    positions = [context.cast(builder, i, t, types.intp) for i, t in zip(indices, index_types, strict=True)]
    positions.append(ir.Constant(context.get_value_type(types.intp), 0))
    view = context.make_array(array_type)(context, builder, array)
    pointer = cgutils.get_item_pointer(context, builder, array_type, view, positions, wraparound=False)
    return builder.bitcast(pointer, context.get_value_type(LaneVector(array_type.dtype)).as_pointer())


def _check_array(array, index) -> bool:
    """A C-contiguous float array whose last axis holds the lanes, indexed by ndim − 1 integers."""
    if not (isinstance(array, types.Array) and isinstance(array.dtype, types.Float) and array.layout == "C"):
        return False
    count = len(index) if isinstance(index, types.BaseTuple) else 1
    return count == array.ndim - 1


@intrinsic
def load(typingctx, array, index):
    """array[index, :] (the last axis, of length ``lanes(array.dtype)``) as a lane vector."""
    if not _check_array(array, index):
        return None

    def codegen(context, builder, signature, args):
        pointer = _lane_pointer(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        return builder.load(pointer, align=signature.args[0].dtype.bitwidth // 8)

    return LaneVector(array.dtype)(array, index), codegen


@intrinsic
def store(typingctx, array, index, value):
    """array[index, :] = value (a lane vector of the array's dtype, or a scalar for every lane)."""
    if not _check_array(array, index) or (isinstance(value, LaneVector) and value.dtype != array.dtype):
        return None

    def codegen(context, builder, signature, args):
        pointer = _lane_pointer(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        vector = _as_vector(context, builder, args[2], signature.args[2], LaneVector(signature.args[0].dtype))
        builder.store(vector, pointer, align=signature.args[0].dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(array, index, value), codegen


@njit(inline="always")
def dot(acc, weights: np.ndarray, rows: np.ndarray):
    """acc + Σ_j weights[j] rows[j] per lane, weights (n,) scalars and rows (n, L) lane vectors.

    A sum written as one chain acc = fma(acc, w_j, x_j) waits for every fused multiply-add's result
    (4 cycles of latency on current x86 cores) before issuing the next, so it runs at a quarter of one
    FMA unit's throughput; four interleaved partial sums keep the pipeline full. The additions then
    happen in another order than in a single chain (relative differences at the dtype's rounding).
    """
    n = weights.shape[0]
    s1, s2, s3 = splat(rows, 0.0), splat(rows, 0.0), splat(rows, 0.0)
    j = 0
    while j + 4 <= n:
        acc = fma(acc, weights[j], load(rows, j))
        s1 = fma(s1, weights[j + 1], load(rows, j + 1))
        s2 = fma(s2, weights[j + 2], load(rows, j + 2))
        s3 = fma(s3, weights[j + 3], load(rows, j + 3))
        j += 4
    while j < n:
        acc = fma(acc, weights[j], load(rows, j))
        j += 1
    return add(add(acc, s1), add(s2, s3))


@njit(inline="always")
def columns(weights: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[j] = Σ_i weights[i, j] rows[i] per lane, weights (m, n) scalars, rows (m, L) and out (n, L) lane vectors.

    Each out[j] is the single chain weights[0, j] rows[0], then fma over i = 1..m−1 (so the same
    additions in the same order as that loop written per j), but four columns advance together: four
    independent chains keep the FMA pipeline full (see ``dot``) and share each load of rows[i], where
    one column at a time waits on every FMA's latency, m of them in a row per column.
    """
    m, n = weights.shape[0], weights.shape[1]
    j = 0
    while j + 4 <= n:
        r = load(rows, 0)
        a0, a1, a2, a3 = mul(weights[0, j], r), mul(weights[0, j + 1], r), mul(weights[0, j + 2], r), mul(weights[0, j + 3], r)
        for i in range(1, m):
            r = load(rows, i)
            a0, a1 = fma(a0, weights[i, j], r), fma(a1, weights[i, j + 1], r)
            a2, a3 = fma(a2, weights[i, j + 2], r), fma(a3, weights[i, j + 3], r)
        store(out, j, a0)
        store(out, j + 1, a1)
        store(out, j + 2, a2)
        store(out, j + 3, a3)
        j += 4
    while j < n:
        acc = mul(weights[0, j], load(rows, 0))
        for i in range(1, m):
            acc = fma(acc, weights[i, j], load(rows, i))
        store(out, j, acc)
        j += 1
