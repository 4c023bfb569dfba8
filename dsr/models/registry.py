"""The registry of model kinds and ``make_model``, the one way to build a freshly initialised ensemble.

One torch class per kind of ``dsr.kinds``: ``LatentModel`` runs every kind from its normal form, so a
class only names its kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import xarray as xr

from dsr.kinds import KINDS

from .base import LatentModel
from .config import ModelConfig
from .initializers import member_seeds
from .io import CONFIG_ATTRS, FLAG_ATTRS, SCHEMA_VERSION

_CLASS_NAMES = {
    "plrnn": "PLRNN", "shplrnn": "ShallowPLRNN", "clipped-shplrnn": "ClippedShallowPLRNN", "alrnn": "ALRNN",
    "dendplrnn": "DendPLRNN",
}

MODELS: dict[str, type[LatentModel]] = {
    name: type(_CLASS_NAMES.get(name, name), (LatentModel,), {"kind": name, "spec": spec, "__doc__": spec.__doc__})
    for name, spec in KINDS.items()
}
PLRNN, ShallowPLRNN, ClippedShallowPLRNN, ALRNN, DendPLRNN = (MODELS[name] for name in _CLASS_NAMES)


def model_class(kind: str) -> type[LatentModel]:
    """The class implementing ``kind``; ValueError listing the choices for an unknown name."""
    try:
        return MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; choose one of: {', '.join(MODELS)}") from None


def make_model(
    kind: str,
    n_obs: int,
    latent: int,
    *,
    hidden: int | None = None,
    relus: int | None = None,
    bases: int | None = None,
    inputs: int = 0,
    observation: str = "identity",
    obs_bias: bool = False,
    mean_centering: bool = False,
    ensemble: int | None = None,
    seeds: int | Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    data_range: tuple[float, float] | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> LatentModel:
    """An ensemble of E freshly initialised models of one kind (the published initialisations of each kind's module in ``dsr.kinds``).

    Sizes: ``hidden`` L (shplrnn, clipped-shplrnn), ``relus`` P (alrnn), ``bases`` B (dendplrnn),
    ``inputs`` K (any kind). Members: see ``initializers.member_seeds`` (``seeds`` list/int or
    ``generator``); member e equals ``make_model(..., seeds=[seeds[e]])``. ``data_range`` = (min, max)
    of the training data places dendPLRNN thresholds (ignored by other kinds).
    """
    cls = model_class(kind)
    config = ModelConfig(
        kind=kind,
        n_obs=n_obs,
        latent=latent,
        hidden=0 if hidden is None else hidden,
        relus=0 if relus is None else relus,
        bases=0 if bases is None else bases,
        inputs=inputs,
        observation=observation,
        obs_bias=obs_bias,
        mean_centering=mean_centering,
    )
    # Checked before drawing (the constructor checks again for models built from parameters).
    cls.check_config(config)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}; pass torch.float32 or torch.float64")
    seed_list = member_seeds(ensemble, seeds, generator)
    members = [cls.initial_parameters(config, seed, data_range) for seed in seed_list]
    params = {
        name: torch.stack([member[name] for member in members]).to(dtype=dtype, device=device)
        for name in members[0]
    }
    return cls(config, params, seed_list)


def from_dataset(ds: xr.Dataset, device: torch.device | str | None = None) -> LatentModel:
    """Rebuild the model written by ``to_dataset``: identical parameters, dtype, seeds and step outputs.

    A zoo family's parameters (``dsr.zoo``, stored in the same layout) come back as its model."""
    from dsr.zoo import ZOO
    from dsr.zoo import from_dataset as zoo_from_dataset

    if ds.attrs.get("model_kind") in ZOO:
        return zoo_from_dataset(ds, device)
    version = ds.attrs.get("model_schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"dataset has model_schema_version {version!r}, this dsr reads {SCHEMA_VERSION}; "
            "write it with dsr.models.to_dataset"
        )
    missing = [name for name in ("model_kind", *CONFIG_ATTRS) if name not in ds.attrs]
    if missing or "seed" not in ds.coords:
        raise ValueError(f"dataset lacks {missing or ['seed coordinate']}; write it with dsr.models.to_dataset")
    cls = model_class(ds.attrs["model_kind"])
    values = {name: ds.attrs[name] for name in CONFIG_ATTRS}
    # Flags may come back as numpy bools from some stores.
    values |= {name: bool(values[name]) for name in FLAG_ATTRS}
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
