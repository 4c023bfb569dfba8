"""The registry of model kinds and ``make_model``, the one way to build a freshly initialised ensemble."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import LatentModel
from .config import ModelConfig
from .initializers import member_seeds
from .shallow import ClippedShallowPLRNN, ShallowPLRNN
from .unitwise import ALRNN, PLRNN, DendPLRNN

MODELS: dict[str, type[LatentModel]] = {
    cls.kind: cls for cls in (PLRNN, ShallowPLRNN, ClippedShallowPLRNN, ALRNN, DendPLRNN)
}


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
    """An ensemble of E freshly initialised models of one kind (published initialisations, note §1.5).

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
