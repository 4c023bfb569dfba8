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
import torch
import xarray as xr

from .config import ModelConfig

if TYPE_CHECKING:
    from .base import LatentModel

SCHEMA_VERSION = 1
_CONFIG_ATTRS = tuple(f.name for f in fields(ModelConfig) if f.name != "kind")
_FLAG_ATTRS = ("obs_bias", "mean_centering")


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
    attrs |= {name: getattr(config, name) for name in _CONFIG_ATTRS}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def from_dataset(ds: xr.Dataset, device: torch.device | str | None = None) -> LatentModel:
    """Rebuild the model written by ``to_dataset``: identical parameters, dtype, seeds and step outputs."""
    # Deferred: the registry imports the model classes, which import this module for to_dataset.
    from .registry import model_class

    version = ds.attrs.get("model_schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"dataset has model_schema_version {version!r}, this dsr reads {SCHEMA_VERSION}; "
            "write it with dsr.models.to_dataset"
        )
    missing = [name for name in ("model_kind", *_CONFIG_ATTRS) if name not in ds.attrs]
    if missing or "seed" not in ds.coords:
        raise ValueError(f"dataset lacks {missing or ['seed coordinate']}; write it with dsr.models.to_dataset")
    cls = model_class(ds.attrs["model_kind"])
    values = {name: ds.attrs[name] for name in _CONFIG_ATTRS}
    # Flags may come back as numpy bools from some stores.
    values |= {name: bool(values[name]) for name in _FLAG_ATTRS}
    config = ModelConfig(kind=ds.attrs["model_kind"], **values)
    dims = cls.all_param_dims(config)
    missing, extra = sorted(dims.keys() - ds.data_vars.keys()), sorted(ds.data_vars.keys() - dims.keys())
    if missing or extra:
        raise ValueError(f"dataset variables do not fit its config (missing {missing}, unexpected {extra})")
    params = {}
    for name, names in dims.items():
        if set(ds[name].dims) != {"member", *names}:
            raise ValueError(f"variable {name} has dims {ds[name].dims}, expected {('member', *names)}")
        params[name] = torch.tensor(ds[name].transpose("member", *names).values, device=device)
    return cls(config, params, ds["seed"].values.tolist())
