"""``s4d``: diagonal linear state-space layers (the LSSL family; Gu et al., NeurIPS 2021), in the S4D form of Gu
et al., "On the parameterization and initialization of diagonal state space models" (NeurIPS 2022), run in
recurrent mode and stacked with nonlinear mixing (``dsr.zoo.stacked``). Each of the H channels is a
single-input single-output system with P complex states,

    ṡ = A s + B u,  y = 2 Re(C s) + D u  (conjugate pairs: the factor 2),  A = −exp(a) + i b,

discretised by zero-order hold over the channel's learned step Δ = exp(log Δ):

    s_t = Ā s_{t−1} + B̄ u_t,    Ā = exp(Δ A),    B̄ = (Ā − 1) A⁻¹ B.

B = 1: with one input per channel, C absorbs B (paper, §3). Initialisation S4D-Lin: A_n = −1/2 + iπn,
log Δ uniform on [log dt_min, log dt_max], C complex normal (variance 1/2 per part), D standard normal.
The layer state holds the real then the imaginary parts of s, channel-major.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from dsr.zoo.base import Option, ZooConfig
from dsr.zoo.layers import members, normal
from dsr.zoo.stacked import Stacked


class S4D(Stacked):
    kind = "s4d"
    recipe = {"eval_every": 2}  # docs/zoo-recipes.md
    defaults = {"layers": 2, "width": 8, "state": 4, "dt_min": 0.001, "dt_max": 0.1}
    core_dims = {
        "log_dt": ("width",), "log_a": ("width", "state"), "a_im": ("width", "state"),
        "C_re": ("width", "state"), "C_im": ("width", "state"), "D": ("width",),
    }

    @classmethod
    def layer_state(cls, options: Mapping[str, Option]) -> int:
        return 2 * int(options["width"]) * int(options["state"])

    @classmethod
    def init_core(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        o = config.options
        width, p = int(o["width"]), int(o["state"])
        if not 0 < o["dt_min"] <= o["dt_max"]:
            raise ValueError(f"s4d needs 0 < dt_min <= dt_max, got dt_min {o['dt_min']}, dt_max {o['dt_max']}")
        low, high = math.log(o["dt_min"]), math.log(o["dt_max"])
        return {
            "log_dt": low + (high - low) * torch.rand(width, generator=gen, dtype=torch.float64),
            "log_a": torch.full((width, p), math.log(0.5), dtype=torch.float64),
            "a_im": (math.pi * torch.arange(p, dtype=torch.float64)).expand(width, p).clone(),
            "C_re": normal((width, p), math.sqrt(0.5), gen), "C_im": normal((width, p), math.sqrt(0.5), gen),
            "D": normal((width,), 1.0, gen),
        }

    def _core(self, layer: int, u: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        c = {name: members(value, u.ndim - 2) for name, value in self.layer_params(layer).items()}
        a_re, a_im = -torch.exp(c["log_a"]), c["a_im"]
        dt = torch.exp(c["log_dt"]).unsqueeze(-1)
        decay = torch.exp(dt * a_re)
        bar_re, bar_im = decay * torch.cos(dt * a_im), decay * torch.sin(dt * a_im)
        norm = a_re**2 + a_im**2
        in_re = ((bar_re - 1) * a_re + bar_im * a_im) / norm
        in_im = (bar_im * a_re - (bar_re - 1) * a_im) / norm
        s = q.unflatten(-1, (2, *a_re.shape[-2:]))
        s_re, s_im, drive = s[..., 0, :, :], s[..., 1, :, :], u.unsqueeze(-1)
        new_re = bar_re * s_re - bar_im * s_im + in_re * drive
        new_im = bar_re * s_im + bar_im * s_re + in_im * drive
        y = 2 * (c["C_re"] * new_re - c["C_im"] * new_im).sum(-1) + c["D"] * u
        return y, torch.stack((new_re, new_im), dim=-3).flatten(-3)
