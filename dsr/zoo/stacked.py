"""The stacked sequence models' shared form (LRU, S4D, Aaren): encoder, L residual layers, decoder.

    u_0 = W_e x̃ + b_e,
    (y_l, q_l') = core_l(u_{l−1}, q_l),   v = GELU(y_l),   u_l = u_{l−1} + (W_a v + b_a) ⊙ σ(W_b v + b_b),
    x̂ = W_d u_L + b_d,

the residual block with GELU and a gated linear unit (GLU) as the position-wise nonlinear mixing of
Orvieto et al. (ICML 2023, §2 and App. D), which S4 and S4D use likewise (Gu et al., ICLR 2022;
NeurIPS 2022). The internal state q = [q_1; …; q_L] holds each layer's recurrent state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from dsr.zoo.base import ObservedInputModel, Option, ZooConfig
from dsr.zoo.layers import affine, dense


class Stacked(ObservedInputModel):
    """Base of the stacked families; each defines its layer's core, its state size and parameters."""

    defaults: ClassVar[dict[str, Option]] = {"layers": 2, "width": 16}
    # The core's parameters: name -> dims after "layer".
    core_dims: ClassVar[dict[str, tuple[str, ...]]]

    @classmethod
    def layer_state(cls, options: Mapping[str, Option]) -> int:
        """Length of one layer's recurrent state q_l."""
        raise NotImplementedError

    @classmethod
    def internal_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        return int(options["layers"]) * cls.layer_state(options)

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        o = config.options
        sizes = {"layer": int(o["layers"]), "width": int(o["width"]), "width_in": int(o["width"])}
        return sizes | ({"state": int(o["state"])} if "state" in o else {})

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        mixing = {name: ("layer", "width", "width_in") for name in ("Wa", "Wb")} | {
            name: ("layer", "width") for name in ("ba", "bb")
        }
        core = {name: ("layer", *dims) for name, dims in cls.core_dims.items()}
        coders = {"We": ("width", "obs"), "be": ("width",), "Wd": ("obs", "width"), "bd": ("obs",)}
        return coders | mixing | core

    @classmethod
    def init_core(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        """One layer's core parameters (no layer dim)."""
        raise NotImplementedError

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        width, n = int(config.options["width"]), config.n_obs
        params: dict[str, Tensor] = {}
        params["We"], params["be"] = dense(width, n, gen)
        params["Wd"], params["bd"] = dense(n, width, gen)
        layers = []
        for _ in range(int(config.options["layers"])):
            layer: dict[str, Tensor] = {}
            layer["Wa"], layer["ba"] = dense(width, width, gen)
            layer["Wb"], layer["bb"] = dense(width, width, gen)
            layers.append(layer | cls.init_core(config, gen))
        return params | {name: torch.stack([layer[name] for layer in layers]) for name in layers[0]}

    def _core(self, layer: int, u: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """(y_l, q_l') of layer ``layer`` from its input u (E, *batch, width) and state q (E, *batch, layer_state)."""
        raise NotImplementedError

    def layer_params(self, layer: int) -> dict[str, Tensor]:
        """The core parameters of one layer, (E, ...) each."""
        return {name: getattr(self, name)[:, layer] for name in self.core_dims}

    def _advance(self, x: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        u = affine(self.We, self.be, x)
        size = self.layer_state(self.options)
        states = []
        for layer in range(int(self.options["layers"])):
            y, q_layer = self._core(layer, u, q[..., layer * size : (layer + 1) * size])
            v = torch.nn.functional.gelu(y)
            u = u + affine(self.Wa[:, layer], self.ba[:, layer], v) * torch.sigmoid(affine(self.Wb[:, layer], self.bb[:, layer], v))
            states.append(q_layer)
        return affine(self.Wd, self.bd, u), torch.cat(states, dim=-1)
