"""Model configuration: the sizes and options that, together with the parameters, define a model.

Checks here are those that hold for every kind; checks that depend on the kind (which sizes it needs)
live with the kind (:meth:`dsr.models.base.LatentModel.check_config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from .observation import OBSERVATIONS

# Least valid value of each size; 0 marks a size the kind does not use (whether it must be set is
# checked by the kind), so a negative value is the only mistake caught here for those.
_LEAST_SIZES = {"n_obs": 1, "latent": 1, "hidden": 0, "relus": 0, "bases": 0, "inputs": 0}

# What each size means, for error messages and docs.
SIZE_MEANINGS = {
    "n_obs": "the number N of observed variables",
    "latent": "the latent dimension M",
    "hidden": "the hidden-layer width L of the shPLRNN",
    "relus": "the number P of ReLU units of the AL-RNN",
    "bases": "the number B of spline bases per unit of the dendPLRNN",
    "inputs": "the number K of external inputs",
}


@dataclass(frozen=True)
class ModelConfig:
    """Everything but the parameter values: kind, sizes and options.

    Sizes a kind does not use are 0. ``mean_centering`` (PLRNN only) applies the ReLU to z − mean(z);
    ``obs_bias`` (affine observation only) adds b in x = B z + b.
    """

    kind: str
    n_obs: int
    latent: int
    hidden: int = 0
    relus: int = 0
    bases: int = 0
    inputs: int = 0
    observation: str = "identity"
    obs_bias: bool = False
    mean_centering: bool = False

    def __post_init__(self) -> None:
        for name, least in _LEAST_SIZES.items():
            value = getattr(self, name)
            if not _is_int(value) or value < least:
                wanted, shown = ("a non-negative integer", 0) if name == "inputs" else ("a positive integer", 1)
                raise ValueError(
                    f"{name} must be {wanted} ({SIZE_MEANINGS[name]}), got {value!r}; pass {name} >= {shown}"
                )
        if self.observation not in OBSERVATIONS:
            raise ValueError(
                f"unknown observation model {self.observation!r}; choose one of: {', '.join(OBSERVATIONS)}"
            )
        if self.observation == "identity" and self.latent < self.n_obs:
            raise ValueError(
                f"latent ({self.latent}) is smaller than n_obs ({self.n_obs}), but the identity observation "
                f"model reads the first n_obs latent units; raise latent to >= {self.n_obs} or use observation='affine'"
            )
        if self.obs_bias and self.observation != "affine":
            raise ValueError(
                "obs_bias applies only to the affine observation model; drop obs_bias or use observation='affine'"
            )
        if self.relus > self.latent:
            raise ValueError(
                f"relus ({self.relus}) exceeds latent ({self.latent}); pass relus <= {self.latent} or raise latent"
            )

    def dim_sizes(self, ensemble: int) -> dict[str, int]:
        """Length of every named parameter dimension (the names used by ``to_dataset``)."""
        return {
            "member": ensemble,
            "latent": self.latent,
            "latent_in": self.latent,
            "hidden": self.hidden,
            "basis": self.bases,
            "input": self.inputs,
            "obs": self.n_obs,
            "unobserved": self.latent - self.n_obs,
        }



def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)
