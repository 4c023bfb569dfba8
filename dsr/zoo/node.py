"""``node``: a neural ODE (Chen et al., NeurIPS 2018), the vector field an MLP with two tanh hidden layers,

    ż = f(z) = W_3 tanh(W_2 tanh(W_1 z + b_1) + b_2) + b_3,    z_t = Φ_dt(z_{t−1}),

Φ_dt the flow over the data's sampling interval dt by fixed-step classical Runge–Kutta (``substeps``
steps of dt/substeps; a step per observation is what teacher forcing needs, and adaptive solvers
(torchdiffeq) cost more per step for the same accuracy at this step size, ``benchmarks/zoo_speed.py``).
State z = [x̂; augmented units] (``augment`` extra units: Dupont et al., NeurIPS 2019), started at
[x_0; L x_0]. Initialisation: torch.nn.Linear's.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from dsr.zoo.base import Option, ZooConfig, ZooModel
from dsr.zoo.layers import affine, dense, rk4


class NeuralODE(ZooModel):
    kind = "node"
    recipe = {"eval_every": 2}  # docs/zoo-recipes.md
    defaults = {"hidden": 64, "augment": 0, "dt": 0.01, "substeps": 1}

    @classmethod
    def state_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        if options["dt"] <= 0 or options["substeps"] < 1 or options["augment"] < 0:
            raise ValueError("node needs dt > 0, substeps >= 1 and augment >= 0; check the options")
        return n_obs + int(options["augment"])

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        hidden = int(config.options["hidden"])
        return {"hidden": hidden, "hidden_in": hidden, "latent_in": config.latent}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        return {"W1": ("hidden", "latent_in"), "b1": ("hidden",), "W2": ("hidden", "hidden_in"), "b2": ("hidden",),
                "W3": ("latent", "hidden"), "b3": ("latent",)}

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        hidden, m = int(config.options["hidden"]), config.latent
        params: dict[str, Tensor] = {}
        params["W1"], params["b1"] = dense(hidden, m, gen)
        params["W2"], params["b2"] = dense(hidden, hidden, gen)
        params["W3"], params["b3"] = dense(m, hidden, gen)
        return params

    def field(self, z: Tensor) -> Tensor:
        """f(z), (E, *batch, M)."""
        hidden = torch.tanh(affine(self.W2, self.b2, torch.tanh(affine(self.W1, self.b1, z))))
        return affine(self.W3, self.b3, hidden)

    def _step(self, z: Tensor) -> Tensor:
        return rk4(self.field, z, float(self.options["dt"]), int(self.options["substeps"]))
