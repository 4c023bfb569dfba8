"""``lru``: the linear recurrent unit (Orvieto et al., "Resurrecting recurrent neural networks for long sequences",
ICML 2023), stacked with nonlinear mixing (``dsr.zoo.stacked``). One layer with P complex states:

    s_t = λ ⊙ s_{t−1} + γ ⊙ (B u_t),    y_t = Re(C s_t) + D ⊙ u_t,
    λ = exp(−exp(ν) + i exp(θ)) (stable: |λ| < 1 for every ν),    γ = exp(log γ), initially √(1 − |λ|²),

B ∈ C^{P×H}, C ∈ C^{H×P}, D ∈ R^H. Initialisation (paper, §3.2–3.3): |λ| uniform on the ring
[r_min, r_max], arg λ uniform on [0, max_phase], B, C complex normal with variances 1/(2H) and 1/P
per part, D standard normal. The state holds the real then the imaginary parts of s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from dsr.models.tensors import matvec
from dsr.zoo.base import Option, ZooConfig
from dsr.zoo.layers import members, normal
from dsr.zoo.stacked import Stacked


class LRU(Stacked):
    kind = "lru"
    recipe = {"eval_every": 2}  # docs/zoo-recipes.md
    defaults = Stacked.defaults | {"state": 16, "r_min": 0.4, "r_max": 0.99, "max_phase": math.pi}
    core_dims = {
        "nu": ("state",), "theta": ("state",), "log_gamma": ("state",),
        "B_re": ("state", "width_in"), "B_im": ("state", "width_in"),
        "C_re": ("width", "state"), "C_im": ("width", "state"), "D": ("width",),
    }

    @classmethod
    def layer_state(cls, options: Mapping[str, Option]) -> int:
        return 2 * int(options["state"])

    @classmethod
    def init_core(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        o = config.options
        p, width = int(o["state"]), int(o["width"])
        if not 0 <= o["r_min"] < o["r_max"] < 1:
            raise ValueError(f"lru needs 0 <= r_min < r_max < 1, got r_min {o['r_min']}, r_max {o['r_max']}")
        u1, u2 = torch.rand(p, generator=gen, dtype=torch.float64), torch.rand(p, generator=gen, dtype=torch.float64)
        nu = torch.log(-0.5 * torch.log(u1 * (o["r_max"] ** 2 - o["r_min"] ** 2) + o["r_min"] ** 2))
        theta = torch.log(o["max_phase"] * u2 + 1e-12)
        log_gamma = 0.5 * torch.log(1 - torch.exp(-2 * torch.exp(nu)))
        return {
            "nu": nu, "theta": theta, "log_gamma": log_gamma,
            "B_re": normal((p, width), math.sqrt(1 / (2 * width)), gen), "B_im": normal((p, width), math.sqrt(1 / (2 * width)), gen),
            "C_re": normal((width, p), math.sqrt(1 / p), gen), "C_im": normal((width, p), math.sqrt(1 / p), gen),
            "D": normal((width,), 1.0, gen),
        }

    def _core(self, layer: int, u: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        c = self.layer_params(layer)
        n_batch, p = u.ndim - 2, c["nu"].shape[-1]
        modulus, phase = torch.exp(-torch.exp(c["nu"])), torch.exp(c["theta"])
        lam_re, lam_im = (members(v, n_batch) for v in (modulus * torch.cos(phase), modulus * torch.sin(phase)))
        gamma = members(torch.exp(c["log_gamma"]), n_batch)
        s_re, s_im = q[..., :p], q[..., p:]
        new_re = lam_re * s_re - lam_im * s_im + gamma * matvec(c["B_re"], u)
        new_im = lam_re * s_im + lam_im * s_re + gamma * matvec(c["B_im"], u)
        y = matvec(c["C_re"], new_re) - matvec(c["C_im"], new_im) + members(c["D"], n_batch) * u
        return y, torch.cat((new_re, new_im), dim=-1)
