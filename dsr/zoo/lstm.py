"""``lstm``: long short-term memory with a forget gate (Hochreiter & Schmidhuber, Neural Comput. 1997; Gers et
al., 2000), in torch.nn.LSTMCell's form and gate order (i, f, g, o):

    c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),    h_t = σ(o) ⊙ tanh(c_t),

with the gates' pre-activations W_i x̃_{t−1} + b_i + W_h h_{t−1} + b_h; x̂_t = W_o h_t + b_o;
state z = [x̂; h; c] (``dsr.zoo.cells``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dsr.zoo.cells import GatedCell


class LSTM(GatedCell):
    kind = "lstm"
    gates = 4
    blocks = 2
    recipe = {"eval_every": 5}  # docs/zoo-recipes.md

    def _cell(self, a: Tensor, r: Tensor, q: Tensor) -> Tensor:
        i, f, g, o = (a + r).chunk(4, dim=-1)
        c = torch.sigmoid(f) * q[..., q.shape[-1] // 2 :] + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat((torch.sigmoid(o) * torch.tanh(c), c), dim=-1)
