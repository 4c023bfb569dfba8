"""``pararnn-gru`` and ``pararnn-lstm``: gated cells whose recurrent weights are diagonal, after ParaRNN
(Danieli, Rodríguez, Sarabia, Suau, Zappella, "ParaRNN: Unlocking parallel training of nonlinear RNNs for
large language models", arXiv 2510.21450, ICLR 2026; its ParaGRU and ParaLSTM-CIFG cells).

The input x̃ (the forced observation) is mixed by dense matrices B, the previous internal state only by
vectors A (elementwise), so the cell's own Jacobian ∂q'/∂q is diagonal: ParaRNN's design, which makes the
Newton step of a parallel-in-time solve an elementwise scan. ``pararnn-gru`` (state z = [x̂; h], ParaGRU):

    u = σ(A_u ⊙ h + B_u x̃ + b_u),    r = σ(A_r ⊙ h + B_r x̃ + b_r),
    ĥ = tanh(A_h ⊙ r ⊙ h + B_h x̃ + b_h),    h' = (1 − u) ⊙ h + u ⊙ ĥ,    x̂' = W_o h' + b_o.

``pararnn-lstm`` (state z = [x̂; c]): ParaLSTM's coupled input and forget gate (Greff et al., "LSTM: a
search space odyssey", 2017) with an output-gate peephole on the new cell state (Gers & Schmidhuber, 2000),

    f = σ(A_f ⊙ c + B_f x̃ + b_f),    ĉ = tanh(A_c ⊙ c + B_c x̃ + b_c),    c' = f ⊙ c + (1 − f) ⊙ ĉ,
    o = σ(A_o ⊙ c + B_o x̃ + C ⊙ c' + b_o),    h' = o ⊙ tanh(c'),    x̂' = W_o h' + b_o.

One deviation from ParaLSTM: its diagonal recurrent weights act on h_{t−1}, which makes the state [c; h]
with 2×2 blocks per unit (their block-diagonal solver); here they act on c_{t−1}, so h is a read-out of
(c', x̃), the state is c alone and ∂c'/∂c is diagonal. ParaRNN mixes the input per head (block-diagonal
B); with N of a few observed variables one dense B is used.

Initialisation: U(±1/√H) for A, B and the gate biases b (torch.nn.GRUCell's, restricted to diagonal
recurrent weights, as the zoo's ``gru``), C likewise, torch.nn.Linear's for W_o, b_o.

What the diagonal buys under this zoo's training. The step feeds the read-out back as the next input
(``dsr.zoo.base``), so the full ∂F/∂z is the diagonal cell block plus the dense columns of the N observed
units; GTF scales the observed rows by 1 − α. The ``quasi`` Newton solver (``dsr fit --time-parallel
newton --newton-solver quasi``) keeps the diagonal: it is exact Newton where the observed units are fully
forced (α = 1, ParaRNN's teacher-forced setting), and a quasi-Newton step, which converges to the same
trajectory in more steps, under GTF with α < 1.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from dsr.zoo.base import ZooConfig
from dsr.zoo.cells import GatedCell
from dsr.zoo.layers import affine, dense, members, symmetric


class DiagonalCell(GatedCell):
    """Base of ``pararnn-gru`` and ``pararnn-lstm`` (module doc): G gate blocks of H units, pre-activations
    B x̃ + b (dense in the input) plus A ⊙ q (elementwise in the internal state q of H units); the sizes and
    the option ``hidden`` are the gated cells' (``dsr.zoo.cells``)."""

    # The Newton solver of ``--time-parallel newton``'s ``auto`` (dsr.parallel.newton.resolve_solver): the diagonal one.
    newton_solver: ClassVar[str] = "quasi"
    # Peephole weights C (H,) on the new cell state (the LSTM's output gate).
    peephole: ClassVar[bool] = False

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        dims = {"A": ("gate",), "B": ("gate", "obs"), "b": ("gate",), "Wo": ("obs", "hidden"), "bo": ("obs",)}
        return dims | ({"C": ("hidden",)} if cls.peephole else {})

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        h, n = int(config.options["hidden"]), config.n_obs
        if h < 1:
            raise ValueError(f"{cls.kind} needs hidden >= 1 units, got {h}")
        bound, g = 1 / math.sqrt(h), cls.gates * h
        params = {"A": symmetric((g,), bound, gen), "B": symmetric((g, n), bound, gen), "b": symmetric((g,), bound, gen)}
        if cls.peephole:
            params["C"] = symmetric((h,), bound, gen)
        params["Wo"], params["bo"] = dense(n, h, gen)
        return params

    def _diagonal_cell(self, a: tuple[Tensor, ...], r: tuple[Tensor, ...], q: Tensor) -> tuple[Tensor, Tensor]:
        """(q', h') from the gates' input pre-activations a (B x̃ + b) and recurrent ones r (A ⊙ q), each
        G tensors (E, *batch, H), and q; h' is the read-out's input."""
        raise NotImplementedError

    def _advance(self, x: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        a = affine(self.B, self.b, x).chunk(self.gates, dim=-1)
        r = tuple(members(weight, q.ndim - 2) * q for weight in self.A.chunk(self.gates, dim=-1))
        q_next, h_next = self._diagonal_cell(a, r, q)
        return affine(self.Wo, self.bo, h_next), q_next


class ParaGRU(DiagonalCell):
    kind = "pararnn-gru"
    gates = 3

    def _diagonal_cell(self, a: tuple[Tensor, ...], r: tuple[Tensor, ...], q: Tensor) -> tuple[Tensor, Tensor]:
        (a_u, a_r, a_h), (r_u, r_r, r_h) = a, r
        update, reset = torch.sigmoid(r_u + a_u), torch.sigmoid(r_r + a_r)
        h = (1 - update) * q + update * torch.tanh(reset * r_h + a_h)
        return h, h


class ParaLSTM(DiagonalCell):
    kind = "pararnn-lstm"
    gates = 3
    peephole = True

    def _diagonal_cell(self, a: tuple[Tensor, ...], r: tuple[Tensor, ...], q: Tensor) -> tuple[Tensor, Tensor]:
        (a_f, a_c, a_o), (r_f, r_c, r_o) = a, r
        forget = torch.sigmoid(r_f + a_f)
        c = forget * q + (1 - forget) * torch.tanh(r_c + a_c)
        out = torch.sigmoid(r_o + a_o + members(self.C, q.ndim - 2) * c)
        return c, out * torch.tanh(c)
