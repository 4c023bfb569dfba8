"""Lossless conversion of a zoo model to and from a plain ``xarray.Dataset``, in the layout of ``dsr.models.io``.

One data variable per parameter with dims ("member", ...) named by the family; coords ``member`` and
``seed``; attrs ``model_schema_version``, ``model_kind`` (the family), ``n_obs``, ``latent`` and
``options`` (the family's options, a mapping). No pickle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from dsr.models.io import SCHEMA_VERSION

if TYPE_CHECKING:
    from dsr.zoo.base import ZooModel


def to_dataset(model: ZooModel) -> xr.Dataset:
    """The model's parameters (copied), seeds and configuration."""
    dims = model.all_param_dims(model.config)
    tensors = model.parameter_tensors()
    data_vars = {
        name: (("member", *names), tensors[name].detach().cpu().clone().numpy()) for name, names in dims.items()
    }
    coords = {"member": np.arange(model.ensemble), "seed": ("member", np.asarray(model.seeds, dtype=np.int64))}
    attrs = {
        "model_schema_version": SCHEMA_VERSION, "model_kind": model.kind, "n_obs": model.n_obs,
        "latent": model.latent, "options": dict(model.options),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def from_dataset(ds: xr.Dataset, device: torch.device | str | None = None) -> ZooModel:
    """Rebuild the model written by ``to_dataset``: identical parameters, dtype, seeds and steps."""
    from dsr.zoo.registry import family, zoo_config

    version = ds.attrs.get("model_schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"dataset has model_schema_version {version!r}, this dsr reads {SCHEMA_VERSION}; write it with to_dataset")
    missing = [name for name in ("model_kind", "n_obs", "options") if name not in ds.attrs]
    if missing or "seed" not in ds.coords:
        raise ValueError(f"dataset lacks {missing or ['seed coordinate']}; write it with dsr.zoo.to_dataset")
    cls = family(ds.attrs["model_kind"])
    config = zoo_config(cls.kind, int(ds.attrs["n_obs"]), **ds.attrs["options"])
    dims = cls.all_param_dims(config)
    missing, extra = sorted(dims.keys() - ds.data_vars.keys()), sorted(ds.data_vars.keys() - dims.keys())
    if missing or extra:
        raise ValueError(f"dataset variables do not fit its config (missing {missing}, unexpected {extra})")
    params = {name: torch.tensor(ds[name].transpose("member", *names).values, device=device) for name, names in dims.items()}
    return cls(config, params, ds["seed"].values.tolist())
