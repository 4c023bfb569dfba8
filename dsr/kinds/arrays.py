"""The few array operations the kinds' normal forms use, for numpy arrays and torch tensors alike.

A kind's normal form is written once (``dsr.kinds``) and evaluated on torch parameters for training
(differentiably) and on numpy arrays for the Numba analysis face, which must not import torch. Both
array types share elementwise arithmetic, indexing, ``reshape`` and ``swapaxes``; what they do not
share (new constants in the array's dtype and device, broadcast views) is here, without importing torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any
"""A numpy array or a torch tensor (the kinds never import torch)."""

_constants: dict[tuple, Array] = {}


def is_numpy(x: Array) -> bool:
    return isinstance(x, np.ndarray)


def constant(name: str, values: np.ndarray, like: Array) -> Array:
    """``values`` in ``like``'s dtype and device; a tensor is made once per (name, shape, dtype, device),
    since a step of the torch model asks for its constants at every call."""
    if is_numpy(like):
        return values.astype(like.dtype)
    key = (name, values.shape, like.dtype, like.device)
    if key not in _constants:
        _constants[key] = like.new_tensor(values)
    return _constants[key]


def broadcast(x: Array, shape: tuple[int, ...]) -> Array:
    """``x`` broadcast to ``shape`` (a view)."""
    return np.broadcast_to(x, shape) if is_numpy(x) else x.expand(*shape)
