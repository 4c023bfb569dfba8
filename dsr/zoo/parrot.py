"""``parrot``: context parroting (Zhang & Gilpin, "Context parroting: a simple but tough-to-beat baseline for
foundation models in scientific machine learning", arXiv 2505.11349, 2025). No parameters are learned: the
model keeps the training series as its context and continues it from the nearest match,

    x_t = c_{i+1},    i = argmin_j ‖c_j − x_{t−1}‖  over context points c_j that have a successor c_{j+1},

so a free run started on the context copies the context onward. The state is the observation (M = N;
an embedding of one point, as the model interface starts from one observation). The map is piecewise
constant: its Jacobian is zero wherever the nearest match is unique. Matches are found exactly by a k-d tree
(scipy's cKDTree) over the context.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from dsr.zoo.base import Option, ZooConfig, ZooModel

class Parrot(ZooModel):
    kind = "parrot"
    fitted_by = "none"
    defaults = {"context": 1}
    fixed = ("keys", "values")
    unfitted = ("keys", "values")
    scripted = False  # the step queries a scipy k-d tree

    @classmethod
    def state_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        if options["context"] < 1:
            raise ValueError(f"parrot needs a context of at least 1 point, got {options['context']}")
        return n_obs

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        return {"context": int(config.options["context"])}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        return {"keys": ("context", "obs"), "values": ("context", "obs")}

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        shape = (int(config.options["context"]), config.n_obs)
        return {"keys": torch.zeros(shape, dtype=torch.float64), "values": torch.zeros(shape, dtype=torch.float64)}

    @classmethod
    def data_options(cls, trials: Tensor, dt: float) -> dict[str, Option]:
        return {"context": trials.shape[0] * (trials.shape[1] - 1)}

    def fit_closed_form(self, trials: Tensor) -> None:
        """Keep the trials (K, T, N) as context: each point with its successor in the same trial."""
        keys, values = trials[:, :-1].flatten(0, 1), trials[:, 1:].flatten(0, 1)
        self._assign(keys=keys.expand(self.ensemble, *keys.shape), values=values.expand(self.ensemble, *values.shape))

    def _trees(self) -> list:
        """One k-d tree per member over its context keys (scipy's cKDTree: exact nearest neighbours in
        O(log C) per query), rebuilt when the keys change."""
        from scipy.spatial import cKDTree

        version = (self.keys._version, self.keys.data_ptr())
        if getattr(self, "_tree_version", None) != version:
            keys = self.keys.detach().cpu().double().numpy()
            self._tree_cache, self._tree_version = [cKDTree(k) for k in keys], version
        return self._tree_cache

    def _step(self, z: Tensor) -> Tensor:
        flat = z.detach().cpu().double().numpy().reshape(z.shape[0], -1, z.shape[-1])
        index = np.stack([tree.query(states)[1] for tree, states in zip(self._trees(), flat)])
        index = torch.as_tensor(index, device=z.device).unsqueeze(-1).expand(-1, -1, z.shape[-1])
        return torch.gather(self.values, 1, index).reshape(z.shape).to(z.dtype)

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """Zero: the map is constant around every state with a unique nearest match (module doc)."""
        self.step(z, s)  # the same checks as the step
        return z.new_zeros(*z.shape, z.shape[-1])
