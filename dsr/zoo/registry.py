"""The zoo's families by ``--model`` name, and ``make_zoo_model``, the one way to build a fresh ensemble."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dsr.models.initializers import member_seeds
from dsr.zoo.aaren import Aaren
from dsr.zoo.base import ZooConfig, ZooModel, resolve_options
from dsr.zoo.esn import ESN
from dsr.zoo.gru import GRU
from dsr.zoo.lru import LRU
from dsr.zoo.lstm import LSTM
from dsr.zoo.node import NeuralODE
from dsr.zoo.pararnn import ParaGRU, ParaLSTM
from dsr.zoo.parrot import Parrot
from dsr.zoo.rnn import RNN
from dsr.zoo.s4d import S4D
from dsr.zoo.sindy import SINDy

ZOO: dict[str, type[ZooModel]] = {
    cls.kind: cls for cls in (RNN, LSTM, GRU, ParaGRU, ParaLSTM, LRU, S4D, ESN, NeuralODE, Aaren, SINDy, Parrot)
}


def family(kind: str) -> type[ZooModel]:
    """The class of zoo family ``kind``; ValueError listing the families for an unknown name."""
    try:
        return ZOO[kind]
    except KeyError:
        raise ValueError(f"unknown model family {kind!r}; choose one of: {', '.join(ZOO)}") from None


def zoo_config(kind: str, n_obs: int, **options: object) -> ZooConfig:
    """The configuration of family ``kind`` on N observed variables with ``options`` over its defaults."""
    cls = family(kind)
    if isinstance(n_obs, bool) or not isinstance(n_obs, int) or n_obs < 1:
        raise ValueError(f"n_obs must be a positive integer (the number N of observed variables), got {n_obs!r}")
    resolved = resolve_options(kind, cls.defaults, options)
    return ZooConfig(kind=kind, n_obs=n_obs, latent=cls.state_size(n_obs, resolved), options=resolved)


def make_zoo_model(
    kind: str,
    n_obs: int,
    *,
    ensemble: int | None = None,
    seeds: int | Sequence[int] | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    **options: object,
) -> ZooModel:
    """An ensemble of E freshly initialised members of family ``kind``; member e equals the model built with seeds=[seeds[e]]."""
    config = zoo_config(kind, n_obs, **options)
    cls = family(kind)
    seed_list = member_seeds(ensemble, seeds, None)
    members = [cls.initial_parameters(config, seed) for seed in seed_list]
    params = {name: torch.stack([m[name] for m in members]).to(dtype=dtype, device=device) for name in members[0]}
    return cls(config, params, seed_list)
