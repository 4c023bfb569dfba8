"""``sindy``: sparse identification of nonlinear dynamics (Brunton, Proctor & Kutz, PNAS 113, 3932, 2016) with a
polynomial library, fitted by pysindy (de Silva et al., JOSS 2020; Kaptanoglu et al., JOSS 2022):

    ẋ = Ξᵀ Θ(x),    Θ(x) = (1, x_1, …, x_N, x_1², x_1 x_2, …, x_N^d)  (every monomial of degree ≤ d),

Ξ by sequentially thresholded least squares (STLSQ: ridge regression of the finite-difference
derivatives on Θ, coefficients below ``threshold`` set to zero, repeated). The step is the flow over
the data's dt by fixed-step classical Runge–Kutta (``dsr.zoo.node``'s integrator). Ξ is fitted in
closed form on every member alike (members differ only in their seeds).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations_with_replacement

import numpy as np
import torch
from torch import Tensor

from dsr.zoo.base import Option, ZooConfig, ZooModel
from dsr.zoo.layers import rk4


def monomials(n: int, degree: int) -> list[tuple[int, ...]]:
    """The library's monomials as tuples of variable indices, in pysindy's (scikit-learn's) order:
    degree 0, then each degree's combinations with replacement."""
    return [c for d in range(degree + 1) for c in combinations_with_replacement(range(n), d)]


class SINDy(ZooModel):
    kind = "sindy"
    fitted_by = "closed_form"
    defaults = {"degree": 2, "threshold": 0.05, "ridge": 0.05, "dt": 0.01, "substeps": 1}
    fixed = ("Xi",)

    @classmethod
    def state_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        if options["degree"] < 1 or options["threshold"] < 0 or options["dt"] <= 0 or options["substeps"] < 1:
            raise ValueError("sindy needs degree >= 1, threshold >= 0, dt > 0 and substeps >= 1; check the options")
        return n_obs

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        return {"feature": len(monomials(config.n_obs, int(config.options["degree"])))}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        return {"Xi": ("feature", "obs")}

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        return {"Xi": torch.zeros(cls.sizes(config)["feature"], config.n_obs, dtype=torch.float64)}

    def library(self, z: Tensor) -> Tensor:
        """Θ(z), (E, *batch, features): products of the padded columns [1, z] (no powers: differentiable at 0)."""
        degree = int(self.options["degree"])
        index = torch.tensor([(0,) * (degree - len(c)) + tuple(i + 1 for i in c) for c in monomials(self.n_obs, degree)])
        padded = torch.cat((torch.ones_like(z[..., :1]), z), dim=-1)
        features = padded[..., index[:, 0]]
        for k in range(1, degree):
            features = features * padded[..., index[:, k]]
        return features

    def field(self, z: Tensor) -> Tensor:
        """Ξᵀ Θ(z), (E, *batch, N)."""
        return torch.einsum("e...f,efn->e...n", self.library(z), self.Xi)

    def _step(self, z: Tensor) -> Tensor:
        return rk4(self.field, z, float(self.options["dt"]), int(self.options["substeps"]))

    def fit_closed_form(self, trials: Tensor) -> None:
        """Ξ from the trials (K, T, N) by pysindy's STLSQ on its finite-difference derivatives."""
        import pysindy as ps

        o = self.options
        model = ps.SINDy(
            optimizer=ps.STLSQ(threshold=float(o["threshold"]), alpha=float(o["ridge"])),
            feature_library=ps.PolynomialLibrary(degree=int(o["degree"])),
        )
        model.fit([np.asarray(trial, dtype=np.float64) for trial in trials.cpu().numpy()], t=float(o["dt"]))
        powers = model.feature_library.powers_
        expected = np.array([np.bincount(c, minlength=self.n_obs) for c in monomials(self.n_obs, int(o["degree"]))])
        if not np.array_equal(powers, expected):
            raise RuntimeError("pysindy's polynomial library orders its monomials differently from dsr.zoo.sindy.monomials")
        xi = torch.as_tensor(model.coefficients().T)
        self._assign(Xi=xi.expand(self.ensemble, *xi.shape))
