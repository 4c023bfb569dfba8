"""What every zoo family shares: its configuration, the model interface, and the Jacobian through ``torch.func``.

A zoo model is an ensemble of E members of one family, batched over members (parameters carry a leading
member dim E, states are (E, *batch, M), as in :mod:`dsr.models`), and it offers the same interface as the
PLRNN family's :class:`dsr.models.LatentModel`: ``initial_state`` from data, ``step``, ``observe``,
``force``, ``generate``, ``jacobian`` and ``to_dataset``. It is not piecewise linear, so it has no
``pattern`` or ``affine``.

Observation space: the first N of the M state units are the model's prediction x̂ of the next
observation, and :class:`dsr.models.IdentityObservation` reads them out and infers a start state
z_0 = [x_0; L x_0] from data. Families that take observations as inputs (RNN, LSTM, GRU, LRU, S4D,
ESN, Aaren) read their input from those N units, so the forcing of GTF on them,
x̃ = α x_data + (1 − α) x̂, is teacher forcing in observation space, the way Hess et al. (ICML 2023)
trained their baselines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from dsr.models import IdentityObservation, LatentModel
from dsr.models.base import _check_parameters

Option = int | float


@dataclass(frozen=True)
class ZooConfig:
    """Family, sizes and the family's options; ``latent`` M is the state size the family derives from them.

    Duck-types the fields of :class:`dsr.models.ModelConfig` that the observation model reads
    (``n_obs``, ``latent``); zoo models take no external inputs.
    """

    kind: str
    n_obs: int
    latent: int
    options: Mapping[str, Option] = field(default_factory=dict)
    inputs: int = 0
    observation: str = "identity"

    def dim_sizes(self, ensemble: int) -> dict[str, int]:
        """Length of every named parameter dimension: the shared ones, then the family's own."""
        from dsr.zoo.registry import family

        shared = {"member": ensemble, "obs": self.n_obs, "latent": self.latent, "unobserved": self.latent - self.n_obs}
        return shared | family(self.kind).sizes(self)


def resolve_options(kind: str, defaults: Mapping[str, Option], given: Mapping[str, object]) -> dict[str, Option]:
    """``defaults`` updated by ``given``; ValueError naming an option the family does not take or a mistyped value."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        takes = ", ".join(defaults) or "no options"
        raise ValueError(f"model {kind} does not take option {unknown[0]!r}; it takes: {takes}")
    options = dict(defaults)
    for name, value in given.items():
        wanted = type(defaults[name])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (wanted is int and not float(value).is_integer()):
            raise ValueError(f"option {name} of {kind} must be {'an integer' if wanted is int else 'a number'}, got {value!r}")
        options[name] = wanted(value)
    return options


class ZooModel(nn.Module):
    """An ensemble of E members of one zoo family (module doc); subclasses define the family."""

    kind: ClassVar[str]
    # Options the family takes, with their defaults (the recipe table of the README gives the reasons).
    defaults: ClassVar[dict[str, Option]] = {}
    # FitConfig fields of the family's fits in ``dsr bench`` over dsr.bench.runner's ZOO_FORCING and ZOO_TRAINING:
    # chosen by benchmarks/zoo_recipes.py on the reference Lorenz-63 pair (docs/zoo-recipes.md).
    recipe: ClassVar[dict[str, float | int]] = {}
    # How the family is fitted ("training" is nn.Module's train/eval flag): "gradient" (teacher forcing), "closed_form" (ESN, SINDy) or "none" (parrot).
    fitted_by: ClassVar[str] = "gradient"
    # Parameters left out of gradient training (fixed at initialisation or solved in closed form).
    fixed: ClassVar[tuple[str, ...]] = ()
    # Of those, the ones not fitted to data at all (a random reservoir, a stored context): not counted as parameters.
    unfitted: ClassVar[tuple[str, ...]] = ()
    # Whether the step is torch operations alone, which evaluation's long free runs trace into TorchScript (dsr.zoo.scripted).
    scripted: ClassVar[bool] = True

    def __init__(self, config: ZooConfig, params: Mapping[str, Tensor], seeds: Sequence[int]) -> None:
        """Build from parameters with a leading member dim (use ``make_zoo_model`` or ``from_dataset``)."""
        super().__init__()
        if config.kind != self.kind:
            raise ValueError(f"config describes a {config.kind!r} model, not {self.kind!r}")
        _check_parameters(config, len(seeds), params, self.all_param_dims(config))  # type: ignore[arg-type]
        self.config = config
        self.seeds = tuple(int(s) for s in seeds)
        self.options = dict(config.options)
        for name in self.param_dims(config):
            self.register_parameter(name, nn.Parameter(params[name], requires_grad=name not in self.fixed))
        observed = {name: value for name, value in params.items() if name not in self.param_dims(config)}
        self.observation = IdentityObservation(config, observed)  # type: ignore[arg-type]

    # ----- the family's definition ----------------------------------------------------------------

    @classmethod
    def state_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        """M, the state size for N observed variables and these options."""
        raise NotImplementedError

    @classmethod
    def sizes(cls, config: ZooConfig) -> dict[str, int]:
        """Lengths of the family's own named dims (beyond ``ZooConfig.dim_sizes``)."""
        return {}

    @classmethod
    def param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        """Named dims (without the member dim) of the family's parameters."""
        raise NotImplementedError

    @classmethod
    def init_dynamics(cls, config: ZooConfig, gen: torch.Generator) -> dict[str, Tensor]:
        """One member's initial parameters (float64, no member dim), drawn from ``gen``."""
        raise NotImplementedError

    def _step(self, z: Tensor) -> Tensor:
        """F(z): (E, *batch, M) -> (E, *batch, M), free of in-place writes (``torch.func`` differentiates it)."""
        raise NotImplementedError

    @classmethod
    def data_options(cls, trials: Tensor, dt: float) -> dict[str, Option]:
        """Options the fit takes from the training data (K, T, N) and its sampling interval rather than the user."""
        return {"dt": dt} if "dt" in cls.defaults else {}

    def fit_closed_form(self, trials: Tensor) -> None:
        """Set the parameters from the training data (K trials, T steps, N), for families not trained by gradients."""
        raise NotImplementedError(f"{self.kind} is trained by gradients, not in closed form")

    def _assign(self, **values: Tensor) -> None:
        """Overwrite parameters in place with ``values`` (any dtype), e.g. after a closed-form fit."""
        with torch.no_grad():
            for name, value in values.items():
                target = self.observation.L if name == "L" else getattr(self, name)
                target.copy_(value.to(target))

    # ----- sizes and parameters -------------------------------------------------------------------

    @classmethod
    def all_param_dims(cls, config: ZooConfig) -> dict[str, tuple[str, ...]]:
        """Named dims of every parameter: the family's, then the observation model's L."""
        return cls.param_dims(config) | IdentityObservation.param_dims(config)  # type: ignore[arg-type]

    @classmethod
    def initial_parameters(cls, config: ZooConfig, seed: int) -> dict[str, Tensor]:
        """One member's initialisation drawn from its own seed: the family's parameters, then L."""
        gen = torch.Generator().manual_seed(seed)
        params = cls.init_dynamics(config, gen)
        params.update(IdentityObservation.init_member(config, gen))  # type: ignore[arg-type]
        return params

    def parameter_tensors(self) -> dict[str, Tensor]:
        """Every parameter by its dataset name (family, then observation model), member dim first."""
        return {name: getattr(self, name) for name in self.param_dims(self.config)} | dict(
            self.observation.named_parameters()
        )

    def to_dataset(self):  # noqa: ANN201 (xarray is imported lazily by the io module)
        """Parameters, seeds and configuration as an ``xarray.Dataset`` (see ``dsr.zoo.io``)."""
        from dsr.zoo.io import to_dataset

        return to_dataset(self)

    # ----- dynamics -------------------------------------------------------------------------------

    def step(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """z_t = F(z_{t−1}): (E, *batch, M) -> (E, *batch, M)."""
        if s is not None:
            raise ValueError(f"model {self.kind} takes no external inputs; fit it on data without --inputs")
        return self._step(z)

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """∂F/∂z at z, (E, *batch, M, M): column j is the forward-mode derivative of F along unit vector e_j
        (``torch.func.jvp``, all M columns at once under ``torch.func.vmap``)."""
        if s is not None:
            raise ValueError(f"model {self.kind} takes no external inputs; fit it on data without --inputs")
        basis = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)

        def column(direction: Tensor) -> Tensor:
            return torch.func.jvp(self._step, (z,), (direction.expand_as(z),))[1]

        return torch.func.vmap(column)(basis).movedim(0, -1)

    # The PLRNN family's code for the rest of the interface is not piecewise-linear specific: one definition serves both.
    ensemble = LatentModel.ensemble
    n_obs = LatentModel.n_obs
    latent = LatentModel.latent
    observe = LatentModel.observe
    initial_state = LatentModel.initial_state
    forcing_signal = LatentModel.forcing_signal
    force = LatentModel.force
    generate = LatentModel.generate

    def extra_repr(self) -> str:
        return f"{self.kind}, n_obs={self.n_obs}, latent={self.latent}, {self.options}, ensemble={self.ensemble}"


class ObservedInputModel(ZooModel):
    """A family whose input is the observation: z = [x̂; q], x̂ the prediction, q the internal state (module doc).

    F([x; q]) = [x̂'; q'] with (x̂', q') = advance(x, q): the input x is the (forced) observation.
    """

    @classmethod
    def state_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        return n_obs + cls.internal_size(n_obs, options)

    @classmethod
    def internal_size(cls, n_obs: int, options: Mapping[str, Option]) -> int:
        """Length of the internal state q."""
        raise NotImplementedError

    def _advance(self, x: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """(x̂', q') from the input observation x (E, *batch, N) and internal state q (E, *batch, M − N)."""
        raise NotImplementedError

    def _step(self, z: Tensor) -> Tensor:
        x_next, q_next = self._advance(z[..., : self.n_obs], z[..., self.n_obs :])
        return torch.cat((x_next, q_next), dim=-1)
