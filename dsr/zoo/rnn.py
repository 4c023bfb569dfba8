"""``rnn``: the Elman network with tanh units (Elman, 1990; reviewed by Lipton et al., arXiv 1506.00019, 2015).

    h_t = tanh(W_i x̃_{t−1} + b_i + W_h h_{t−1} + b_h),    x̂_t = W_o h_t + b_o,

x̃ the (forced) observation, x̂ the prediction; state z = [x̂; h] (``dsr.zoo.base``, ``dsr.zoo.cells``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dsr.zoo.cells import GatedCell


class RNN(GatedCell):
    kind = "rnn"
    gates = 1
    recipe = {"eval_every": 6, "lr_start": 5e-3}  # docs/zoo-recipes.md

    def _cell(self, a: Tensor, r: Tensor, q: Tensor) -> Tensor:
        return torch.tanh(a + r)
