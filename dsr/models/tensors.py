"""Tensor helpers for ensemble parameters (leading member dim E) acting on states (E, *batch, ...)."""

from __future__ import annotations

from torch import Tensor, einsum


def require_members(param: Tensor, like: Tensor) -> None:
    """Raise ValueError unless ``like`` has the member axis of ``param`` (both lead with E).

    A state with a size-1 member axis would otherwise broadcast against every member's
    parameters and silently give E different results for one member's states.
    """
    if like.shape[0] != param.shape[0]:
        raise ValueError(
            f"states have {like.shape[0]} member(s) on their leading axis but the model has {param.shape[0]}; "
            "pass states of shape (E, *batch, last), e.g. broadcast one state to every member"
        )


def per_member(param: Tensor, like: Tensor) -> Tensor:
    """View ``param`` (E, *shape) as (E, 1, ..., 1, *shape) so it broadcasts over the batch dims of ``like``.

    ``like`` is a state-shaped tensor (E, *batch, last); its batch dims are those between E and the last.
    A different member count raises ValueError (:func:`require_members`).
    """
    require_members(param, like)
    n_batch = like.ndim - 2
    return param.reshape(param.shape[0], *([1] * n_batch), *param.shape[1:])


def matvec(matrix: Tensor, v: Tensor) -> Tensor:
    """Per-member matrix-vector product: (E, R, C) x (E, *batch, C) -> (E, *batch, R).

    A different member count raises ValueError (:func:`require_members`).
    """
    require_members(matrix, v)
    return einsum("erc,e...c->e...r", matrix, v)
