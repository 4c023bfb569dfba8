"""Lossless conversion of a model's parameters to and from a plain ``xarray.Dataset`` (no pickle).

Layout (schema version 1):
- one data variable per parameter, dims ("member", ...) with the names of ``LatentModel.all_param_dims``:
  latent / latent_in (M, as rows / columns), hidden (L), basis (B), input (K), obs (N), unobserved (M − N);
  values in the model's dtype;
- coords: ``member`` (0..E−1) and ``seed`` (on member: the seed each member was initialised from);
- attrs: ``model_schema_version``, ``model_kind`` and every other ``ModelConfig`` field by name
  (n_obs, latent, hidden, relus, bases, inputs, observation, obs_bias, mean_centering).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .config import ModelConfig

if TYPE_CHECKING:
    from .base import LatentModel

SCHEMA_VERSION = 1
CONFIG_ATTRS = tuple(f.name for f in fields(ModelConfig) if f.name != "kind")
FLAG_ATTRS = ("obs_bias", "mean_centering")


def to_dataset(model: LatentModel) -> xr.Dataset:
    """The model's parameters (copied), seeds and configuration as an ``xarray.Dataset``."""
    config = model.config
    dims = model.all_param_dims(config)
    tensors = model.parameter_tensors()
    data_vars = {
        # clone: the dataset must not alias parameters that training keeps updating in place.
        name: (("member", *names), tensors[name].detach().cpu().clone().numpy())
        for name, names in dims.items()
    }
    coords = {
        "member": np.arange(model.ensemble),
        "seed": ("member", np.asarray(model.seeds, dtype=np.int64)),
    }
    attrs = {"model_schema_version": SCHEMA_VERSION, "model_kind": config.kind}
    attrs |= {name: getattr(config, name) for name in CONFIG_ATTRS}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
