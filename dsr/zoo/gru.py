"""``gru``: the gated recurrent unit (Cho et al., EMNLP 2014), in torch.nn.GRUCell's form and gate order (r, u, n):

    r = σ(a_r + r_r),  u = σ(a_u + r_u),  n = tanh(a_n + r ⊙ r_n),  h_t = (1 − u) ⊙ n + u ⊙ h_{t−1},

with a = W_i x̃_{t−1} + b_i, r_· = W_h h_{t−1} + b_h split into the three gates; x̂_t = W_o h_t + b_o;
state z = [x̂; h] (``dsr.zoo.cells``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dsr.zoo.cells import GatedCell


class GRU(GatedCell):
    kind = "gru"
    gates = 3
    recipe = {"eval_every": 6}  # docs/zoo-recipes.md

    def _cell(self, a: Tensor, r: Tensor, q: Tensor) -> Tensor:
        a_r, a_u, a_n = a.chunk(3, dim=-1)
        r_r, r_u, r_n = r.chunk(3, dim=-1)
        reset, update = torch.sigmoid(a_r + r_r), torch.sigmoid(a_u + r_u)
        candidate = torch.tanh(a_n + reset * r_n)
        return (1 - update) * candidate + update * q
