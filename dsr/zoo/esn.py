"""``esn``: an echo state network, reservoir computing with a leaky tanh reservoir and a ridge read-out (Jaeger,
GMD Report 148, 2001; for chaotic systems Pathak et al., Chaos 27, 121102, 2017 and PRL 120, 024102, 2018):

    r_t = (1 − a) r_{t−1} + a tanh(W r_{t−1} + W_in x̃_{t−1} + b),    x̂_t = W_out r_t + b_out,

state z = [x̂; r] (``dsr.zoo.base``). W is sparse (each entry nonzero with probability degree/R,
values U(−1, 1)) and scaled to spectral radius ρ; W_in, b are U(−σ, σ). W, W_in, b stay fixed; the
read-out is the closed-form ridge regression of the next observation on [r_t; 1] along the training data
fed in (teacher forcing, α = 1) after a washout, and the start-state map L of z_0 = [x_0; L x_0] the
ridge regression of r_t on x_t along the same run.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from dsr.models.tensors import matvec
from dsr.zoo.base import ObservedInputModel, Option, ZooConfig
from dsr.zoo.layers import affine, symmetric


def ridge(features: Tensor, targets: Tensor, beta: float) -> Tensor:
    """argmin_W ‖features Wᵀ − targets‖² + β ‖W‖²: (…, S, F), (…, S, O) -> W (…, O, F), by the normal equations
    (FᵀF + βI) Wᵀ = Fᵀ targets (Tikhonov; Lukoševičius, "A practical guide to applying echo state networks", 2012)."""
    gram = features.mT @ features + beta * torch.eye(features.shape[-1], dtype=features.dtype, device=features.device)
    return torch.linalg.solve(gram, features.mT @ targets).mT


class ESN(ObservedInputModel):
    kind = "esn"
    fitted_by = "closed_form"
    defaults = {"reservoir": 300, "spectral_radius": 0.9, "leak": 1.0, "degree": 6, "input_scale": 0.1,
                "ridge": 1e-6, "washout": 100}
    fixed = ("W", "Win", "b", "Wout", "bout")
    unfitted = ("W", "Win", "b")

    @classmethod
    def internal_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        return int(options["reservoir"])

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        size = int(config.options["reservoir"])
        return {"reservoir": size, "reservoir_in": size}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        return {"W": ("reservoir", "reservoir_in"), "Win": ("reservoir", "obs"), "b": ("reservoir",),
                "Wout": ("obs", "reservoir"), "bout": ("obs",)}

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        o, n = config.options, config.n_obs
        size = int(o["reservoir"])
        if not 0 < o["leak"] <= 1 or o["spectral_radius"] <= 0 or o["ridge"] < 0:
            raise ValueError("esn needs 0 < leak <= 1, spectral_radius > 0 and ridge >= 0; check the options")
        mask = torch.rand(size, size, generator=gen, dtype=torch.float64) < min(1.0, o["degree"] / size)
        w = symmetric((size, size), 1.0, gen) * mask
        radius = torch.linalg.eigvals(w).abs().max()
        if radius > 0:
            w = w * (o["spectral_radius"] / radius)
        return {"W": w, "Win": symmetric((size, n), o["input_scale"], gen), "b": symmetric((size,), o["input_scale"], gen),
                "Wout": torch.zeros(n, size, dtype=torch.float64), "bout": torch.zeros(n, dtype=torch.float64)}

    def _reservoir(self, x: Tensor, r: Tensor) -> Tensor:
        leak = float(self.options["leak"])
        return (1 - leak) * r + leak * torch.tanh(matvec(self.W, r) + affine(self.Win, self.b, x))

    def _advance(self, x: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        r = self._reservoir(x, q)
        return affine(self.Wout, self.bout, r), r

    @torch.no_grad()
    def fit_closed_form(self, trials: Tensor) -> None:
        """Drive every member's reservoir with the data (K, T, N) from r = 0; solve W_out, b_out and L by ridge."""
        washout = int(self.options["washout"])
        if trials.shape[1] <= washout + 1:
            raise ValueError(f"esn needs trials longer than its washout of {washout} steps; pass washout < {trials.shape[1] - 1}")
        x = trials.to(self.W).expand(self.ensemble, *trials.shape)  # (E, K, T, N)
        r = x.new_zeros(*x.shape[:2], self.W.shape[-1])
        before = []  # r_t: the state that meets x_t, before taking it in
        for t in range(x.shape[2]):
            before.append(r)
            r = self._reservoir(x[:, :, t], r)
        # The regressions in float64: their Gram matrices are ill-conditioned.
        states = torch.stack(before, dim=2)[:, :, washout:].double()  # (E, K, T − washout, R)
        data = x[:, :, washout:].double()
        after = states[:, :, 1:].flatten(1, 2)
        features = torch.cat((after, torch.ones_like(after[..., :1])), dim=-1)
        readout = ridge(features, data[:, :, 1:].flatten(1, 2), float(self.options["ridge"]))
        start = ridge(data.flatten(1, 2), states.flatten(1, 2), float(self.options["ridge"]))
        self._assign(Wout=readout[..., :-1], bout=readout[..., -1], L=start)
