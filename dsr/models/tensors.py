"""Tensor helpers for ensemble parameters (leading member dim E) acting on states (E, *batch, ...)."""

from __future__ import annotations

from torch import Tensor, einsum


def per_member(param: Tensor, like: Tensor) -> Tensor:
    """View ``param`` (E, *shape) as (E, 1, ..., 1, *shape) so it broadcasts over the batch dims of ``like``.

    ``like`` is a state-shaped tensor (E, *batch, last); its batch dims are those between E and the last.
    """
    n_batch = like.ndim - 2
    return param.reshape(param.shape[0], *([1] * n_batch), *param.shape[1:])


def matvec(matrix: Tensor, v: Tensor) -> Tensor:
    """Per-member matrix-vector product: (E, R, C) x (E, *batch, C) -> (E, *batch, R)."""
    return einsum("erc,e...c->e...r", matrix, v)
