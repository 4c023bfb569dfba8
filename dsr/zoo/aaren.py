"""``aaren``: attention as a recurrent network (Feng et al., "Attention as an RNN", arXiv 2405.13956, 2024),
stacked with nonlinear mixing (``dsr.zoo.stacked``). Each layer attends with learned, input-independent
queries q_h (one per head h) over all tokens so far, o_t = Σ_{i≤t} softmax_i(s_{h,i}) v_{h,i} with
scores s_{h,i} = q_h · k_{h,i} / √d, keys k = W_k u_i and values v = W_v u_i. The paper computes it as
an RNN with the running maximum a, normaliser m and weighted sum c; here the state holds
b = a + log m, the log-sum-exp of the scores so far, and o = c / m, the same recurrence in a form
that stays finite for any state:

    b_t = logaddexp(b_{t−1}, s_t),    o_t = e^{b_{t−1} − b_t} o_{t−1} + e^{s_t − b_t} v_t,    y_t = o_t.

Initialisation: queries standard normal, W_k and W_v as torch.nn.Linear. Layer state [b (heads); o (width)].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from dsr.models.tensors import matvec
from dsr.zoo.base import Option, ZooConfig
from dsr.zoo.layers import members, normal, symmetric
from dsr.zoo.stacked import Stacked


class Aaren(Stacked):
    kind = "aaren"
    recipe = {"eval_every": 2}  # docs/zoo-recipes.md
    defaults = Stacked.defaults | {"heads": 2}
    core_dims = {"query": ("width",), "Wk": ("width", "width_in"), "Wv": ("width", "width_in")}

    @classmethod
    def layer_state(cls, options: Mapping[str, Option]) -> int:
        width, heads = int(options["width"]), int(options["heads"])
        if heads < 1 or width % heads:
            raise ValueError(f"aaren needs heads >= 1 dividing width, got heads {heads}, width {width}")
        return heads + width

    @classmethod
    def init_core(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        width = int(config.options["width"])
        bound = 1 / math.sqrt(width)
        return {
            "query": normal((width,), 1.0, gen),
            "Wk": symmetric((width, width), bound, gen), "Wv": symmetric((width, width), bound, gen),
        }

    def _core(self, layer: int, u: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        c = self.layer_params(layer)
        heads = int(self.options["heads"])
        per_head = (heads, u.shape[-1] // heads)
        keys, values = matvec(c["Wk"], u).unflatten(-1, per_head), matvec(c["Wv"], u).unflatten(-1, per_head)
        query = members(c["query"], u.ndim - 2).unflatten(-1, per_head)
        score = (query * keys).sum(-1) / math.sqrt(per_head[1])
        b, o = q[..., :heads], q[..., heads:].unflatten(-1, per_head)
        b_next = torch.logaddexp(b, score)
        o_next = torch.exp(b - b_next).unsqueeze(-1) * o + torch.exp(score - b_next).unsqueeze(-1) * values
        y = o_next.flatten(-2)
        return y, torch.cat((b_next, y), dim=-1)
