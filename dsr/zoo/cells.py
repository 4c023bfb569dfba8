"""The gated-cell families' shared form: G gate blocks of H units fed by the observation and the hidden state.

Pre-activations a = W_i x̃ + b_i and r = W_h h + b_h (G·H rows each: torch.nn.RNNCell, GRUCell and
LSTMCell's parameters, in their gate order), read-out x̂ = W_o h + b_o; each family's ``_cell`` turns
(a, r, q) into the next internal state q' whose first H units are h'. Initialisation: torch's cells'
U(±1/√H) for W_i, W_h, b_i, b_h; torch.nn.Linear's for W_o, b_o.

An ensemble of members with their own weights cannot call torch's cells (they hold one set of weights,
and ``torch.func.vmap`` has no batching rule for ``aten::lstm_cell``), so the gate equations are written
here with per-member products; ``dsr.parallel.cells`` wraps torch's cells for one model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from dsr.zoo.base import ObservedInputModel, Option, ZooConfig
from dsr.zoo.layers import affine, dense, symmetric


class GatedCell(ObservedInputModel):
    """Base of ``rnn``, ``gru`` and ``lstm`` (module doc)."""

    defaults = {"hidden": 32}
    gates: ClassVar[int]
    # Length of q in units of H: h only (1) or h and the cell state c (2).
    blocks: ClassVar[int] = 1

    @classmethod
    def internal_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        return cls.blocks * int(options["hidden"])

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        h = int(config.options["hidden"])
        return {"gate": cls.gates * h, "hidden": h}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        return {
            "Wi": ("gate", "obs"), "Wh": ("gate", "hidden"), "bi": ("gate",), "bh": ("gate",),
            "Wo": ("obs", "hidden"), "bo": ("obs",),
        }

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        h, n = int(config.options["hidden"]), config.n_obs
        bound, g = 1 / math.sqrt(h), cls.gates * h
        params = {
            "Wi": symmetric((g, n), bound, gen), "Wh": symmetric((g, h), bound, gen),
            "bi": symmetric((g,), bound, gen), "bh": symmetric((g,), bound, gen),
        }
        params["Wo"], params["bo"] = dense(n, h, gen)
        return params

    def _cell(self, a: Tensor, r: Tensor, q: Tensor) -> Tensor:
        """q' from the input pre-activations a, the hidden ones r (each (E, *batch, G·H)) and q."""
        raise NotImplementedError

    def _advance(self, x: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        h_size = self.Wh.shape[-1]
        q_next = self._cell(affine(self.Wi, self.bi, x), affine(self.Wh, self.bh, q[..., :h_size]), q)
        return affine(self.Wo, self.bo, q_next[..., :h_size]), q_next


