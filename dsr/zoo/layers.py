"""Batched building blocks of the zoo families: per-member affine maps and their initialisation."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dsr.models.initializers import uniform
from dsr.models.tensors import matvec, per_member


def affine(weight: Tensor, bias: Tensor, x: Tensor) -> Tensor:
    """W x + b per member: weight (E, R, C), bias (E, R), x (E, *batch, C) -> (E, *batch, R)."""
    return matvec(weight, x) + per_member(bias, x)


def symmetric(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> Tensor:
    """U(−bound, bound) entrywise (float64)."""
    return uniform(shape, -bound, bound, gen)


def dense(rows: int, cols: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Weight (rows, cols) and bias (rows,) drawn U(±1/√cols), torch.nn.Linear's default initialisation."""
    bound = 1 / math.sqrt(cols)
    return symmetric((rows, cols), bound, gen), symmetric((rows,), bound, gen)


def members(param: Tensor, n_batch: int) -> Tensor:
    """View ``param`` (E, *shape) as (E, 1 × n_batch, *shape), to broadcast over n_batch batch dims."""
    return param.reshape(param.shape[0], *([1] * n_batch), *param.shape[1:])


def normal(shape: tuple[int, ...], std: float, gen: torch.Generator) -> Tensor:
    """N(0, std²) entrywise (float64)."""
    return std * torch.randn(shape, generator=gen, dtype=torch.float64)


def rk4(field, z: Tensor, dt: float, substeps: int) -> Tensor:  # noqa: ANN001 (a vector field z -> dz/dt)
    """z(t + dt) by ``substeps`` classical Runge–Kutta steps of dt/substeps (Hairer et al., Solving ODEs I, §II.1)."""
    h = dt / substeps
    for _ in range(substeps):
        k1 = field(z)
        k2 = field(z + 0.5 * h * k1)
        k3 = field(z + 0.5 * h * k2)
        k4 = field(z + h * k3)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z
