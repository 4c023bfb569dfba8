"""The ensemble latent model: the one interface that training, analysis, parallel Newton and the app use.

Every kind is piecewise linear and written in one form (reference note §1, §4.4, §5.1):

    z_t = A ⊙ z_{t−1} + V φ(u(z_{t−1})) + h  (+ C s_t),

with pre-activation u = U z (U = I, the centring matrix I − 11ᵀ/M, or W₂), a piecewise-linear φ that
in the linear region π (the boolean activation pattern of u) equals φ(u) = g(π) ⊙ u + c(π), read-out V
and bias h. In region π the step is the affine map

    z ↦ (diag(A) + V diag(g(π)) U) z + V c(π) + h  (+ C s),

whose matrix is the Jacobian at every z in that region. A kind supplies u, φ, π, (g, c) and
V diag(g) U (see ``unitwise.py``, ``shallow.py``); this class does the rest once for all kinds.

Shapes: parameters carry a leading member dim E (E independent members of one kind); states are
(E, *batch, M), data (E, *batch, N), inputs (E, *batch, K).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
import xarray as xr
from torch import Tensor, nn

from .config import SIZE_MEANINGS, ModelConfig
from .forcing import interpolate
from .initializers import generator_for, glorot_uniform
from .io import to_dataset
from .observation import OBSERVATIONS, ObservationModel
from .tensors import matvec, per_member

_KIND_SIZES = ("hidden", "relus", "bases")
_KIND_OPTIONS = ("mean_centering",)


class LatentModel(nn.Module):
    """Ensemble of E latent models of one kind with an observation model (abstract; see module doc)."""

    kind: ClassVar[str]
    # Sizes (ModelConfig fields) this kind needs, and boolean options it accepts.
    size_fields: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[str, ...]] = ()
    # Named dims (without the member dim) of the dynamics parameters; C is added when inputs > 0.
    dynamics_dims: ClassVar[dict[str, tuple[str, ...]]]

    observation: ObservationModel

    def __init__(self, config: ModelConfig, params: Mapping[str, Tensor], seeds: Sequence[int]) -> None:
        """Build from parameters with a leading member dim (use ``make_model`` or ``from_dataset``)."""
        super().__init__()
        self.check_config(config)
        _check_parameters(config, len(seeds), params, self.all_param_dims(config))
        self.config = config
        self.seeds = tuple(int(s) for s in seeds)
        dynamics = self.param_dims(config)
        for name in dynamics:
            self.register_parameter(name, nn.Parameter(params[name]))
        self.observation = OBSERVATIONS[config.observation](
            config, {name: value for name, value in params.items() if name not in dynamics}
        )

    # ----- configuration and initialisation -------------------------------------------------------

    @classmethod
    def check_config(cls, config: ModelConfig) -> None:
        """Raise ValueError if ``config`` does not describe a model of this kind."""
        if config.kind != cls.kind:
            raise ValueError(
                f"config describes a {config.kind!r} model, not {cls.kind!r}; "
                f"build it with make_model({config.kind!r}, ...)"
            )
        for name in _KIND_SIZES:
            value = getattr(config, name)
            if name in cls.size_fields and value == 0:
                raise ValueError(f"{cls.kind} needs {name} ({SIZE_MEANINGS[name]}); pass {name} >= 1")
            if name not in cls.size_fields and value != 0:
                raise ValueError(f"{name} ({SIZE_MEANINGS[name]}) is not used by {cls.kind}; drop {name}")
        for name in _KIND_OPTIONS:
            if getattr(config, name) and name not in cls.options:
                raise ValueError(f"{name} is not available for {cls.kind}; drop {name}")

    @classmethod
    def param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        """Named dims (without the member dim) of the dynamics parameters, C included."""
        dims = dict(cls.dynamics_dims)
        if config.inputs:
            dims["C"] = ("latent", "input")
        return dims

    @classmethod
    def all_param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        """Named dims of every parameter: dynamics, then observation model."""
        return cls.param_dims(config) | OBSERVATIONS[config.observation].param_dims(config)

    @classmethod
    def initial_parameters(
        cls, config: ModelConfig, seed: int, data_range: tuple[float, float] | None = None
    ) -> dict[str, Tensor]:
        """One member's published initialisation (float64, no member dim), drawn from its own seed.

        Draw order: dynamics (as in the lab's constructors), then C (Glorot-uniform), then the
        observation model. ``data_range`` = (min, max) of the training data (dendPLRNN thresholds only).
        """
        gen = generator_for(seed)
        params = cls.init_dynamics(config, gen, data_range)
        if config.inputs:
            params["C"] = glorot_uniform((config.latent, config.inputs), gen)
        params.update(OBSERVATIONS[config.observation].init_member(config, gen))
        return params

    @classmethod
    def init_dynamics(
        cls, config: ModelConfig, gen: torch.Generator, data_range: tuple[float, float] | None
    ) -> dict[str, Tensor]:
        """The kind's dynamics parameters (without C) for one member, drawn from ``gen``."""
        raise NotImplementedError

    # ----- kind hooks (see module doc for the symbols) ----------------------------------------------

    def _preactivation(self, z: Tensor) -> Tensor:
        """u = U z."""
        raise NotImplementedError

    def _activation(self, u: Tensor) -> Tensor:
        """φ(u)."""
        raise NotImplementedError

    def _pattern(self, u: Tensor) -> Tensor:
        """π: the boolean pattern naming the linear region of φ at u, (E, *batch, pattern_size)."""
        raise NotImplementedError

    def _slope_offset(self, pattern: Tensor) -> tuple[Tensor, Tensor]:
        """(g, c) with φ(u) = g ⊙ u + c in region ``pattern``, each shaped like u."""
        raise NotImplementedError

    def _coupling(self, g: Tensor) -> Tensor:
        """V diag(g) U, (E, *batch, M, M)."""
        raise NotImplementedError

    def _readout(self) -> Tensor:
        """V, (E, M, dim u)."""
        raise NotImplementedError

    def _bias(self) -> Tensor:
        """h, (E, M)."""
        raise NotImplementedError

    @property
    def pattern_size(self) -> int:
        """Length of the activation pattern returned by ``pattern``."""
        raise NotImplementedError

    # ----- sizes ----------------------------------------------------------------------------------

    @property
    def ensemble(self) -> int:
        """Number E of members."""
        return len(self.seeds)

    @property
    def n_obs(self) -> int:
        return self.config.n_obs

    @property
    def latent(self) -> int:
        return self.config.latent

    # ----- dynamics -------------------------------------------------------------------------------

    def step(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """z_t = F(z_{t−1}) (+ C s_t): (E, *batch, M) -> (E, *batch, M)."""
        z_next = (
            per_member(self.A, z) * z
            + matvec(self._readout(), self._activation(self._preactivation(z)))
            + per_member(self._bias(), z)
        )
        return self._add_input(z_next, s)

    def pattern(self, z: Tensor) -> Tensor:
        """Boolean activation pattern naming the linear region of z: (E, *batch, pattern_size)."""
        return self._pattern(self._preactivation(z))

    def affine(self, pattern: Tensor, s: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The region's affine map (matrix (E, *batch, M, M), offset (E, *batch, M)).

        ``matrix @ z + offset == step(z, s)`` for every z with ``pattern(z) == pattern``.
        """
        g, c = self._slope_offset(pattern)
        offset = matvec(self._readout(), c) + per_member(self._bias(), c)
        return self._region_matrix(g), self._add_input(offset, s)

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """Analytic ∂F/∂z at z: (E, *batch, M, M) (the matrix of z's linear region).

        ``s`` is accepted so that every recurrent model's step and Jacobian take the same arguments
        (``dsr.parallel``); additive inputs do not change this Jacobian.
        """
        g, _ = self._slope_offset(self.pattern(z))
        return self._region_matrix(g)

    def generate(
        self,
        n: int,
        *,
        z0: Tensor | None = None,
        x0: Tensor | None = None,
        s: Tensor | None = None,
        method: str = "sequential",
    ) -> Tensor:
        """Free run of n latent states, (E, *batch, n, M); state 0 is z0 (or ``initial_state(x0)``).

        State t = F(state t−1) + C s[..., t, :]; ``s`` is (E, *batch, n, K), aligned with the states it
        produces, so s[..., 0, :] is unused (the lab's ``generate`` convention). ``method``:
        ``sequential`` (the loop below) or ``newton`` (all steps at once by :func:`dsr.parallel.generate`,
        which falls back to the loop, with a warning, where Newton does not converge).
        """
        if method not in ("sequential", "newton"):
            raise ValueError(f"unknown generation method {method!r}; choose sequential or newton")
        if (z0 is None) == (x0 is None):
            raise ValueError("pass exactly one initial condition: z0 (latent) or x0 (observed)")
        if n < 1:
            raise ValueError(f"n must be a positive number of states, got {n}; pass n >= 1")
        if s is not None and s.shape[-2] != n:
            raise ValueError(f"s covers {s.shape[-2]} time steps, but n = {n}; pass s of shape (E, ..., n, K)")
        z = self.initial_state(x0) if z0 is None else z0
        if method == "newton":
            from dsr.parallel import generate

            return generate(self, n, z, s=s).states
        states = z.new_empty(*z.shape[:-1], n, z.shape[-1])
        states[..., 0, :] = z
        for t in range(1, n):
            z = self.step(z, None if s is None else s[..., t, :])
            states[..., t, :] = z
        return states

    def _region_matrix(self, g: Tensor) -> Tensor:
        return self._coupling(g) + torch.diag_embed(per_member(self.A, g))

    def _add_input(self, value: Tensor, s: Tensor | None) -> Tensor:
        inputs = self.config.inputs
        if s is None and not inputs:
            return value
        if s is None:
            raise ValueError(f"this model has {inputs} external inputs; pass s of shape (E, ..., {inputs})")
        if not inputs:
            raise ValueError("this model has no external inputs; build it with inputs=K to pass s")
        return value + matvec(self.C, s)

    # ----- observation and forcing ----------------------------------------------------------------

    def observe(self, z: Tensor) -> Tensor:
        """x̂ = g(z): (E, *batch, M) -> (E, *batch, N)."""
        return self.observation.observe(z)

    def initial_state(self, x: Tensor) -> Tensor:
        """Latent state inferred from data x (E, *batch, N) to start a run.

        Identity: [x; L x]; affine: pinv(B)(x − b).
        """
        return self.observation.initial_state(x)

    def forcing_signal(self, x: Tensor, partial: bool = True) -> Tensor:
        """Data-inferred state ẑ (detached), (E, *batch, D); see ``ObservationModel.forcing_signal``."""
        return self.observation.forcing_signal(x, partial)

    def force(self, z: Tensor, x: Tensor, alpha: float | Tensor, partial: bool = True) -> Tensor:
        """GTF: z̃ = (1 − α) z + α ẑ(x) on the forced units (identity + ``partial``: the first N; affine: all)."""
        return interpolate(z, self.forcing_signal(x, partial), alpha)

    # ----- parameters -----------------------------------------------------------------------------

    def parameter_tensors(self) -> dict[str, Tensor]:
        """Every parameter by its dataset name (dynamics, then observation model), member dim first."""
        dynamics = {name: getattr(self, name) for name in self.param_dims(self.config)}
        return dynamics | dict(self.observation.named_parameters())

    def to_dataset(self) -> xr.Dataset:
        """Parameters as a plain ``xarray.Dataset`` (see ``dsr.models.io``)."""
        return to_dataset(self)

    def extra_repr(self) -> str:
        return f"{self.config}, ensemble={self.ensemble}"


def _check_parameters(
    config: ModelConfig, ensemble: int, params: Mapping[str, Tensor], dims: Mapping[str, tuple[str, ...]]
) -> None:
    """Raise ValueError unless ``params`` has exactly the named parameters with the configured shapes."""
    missing, extra = sorted(dims.keys() - params.keys()), sorted(params.keys() - dims.keys())
    if missing or extra:
        raise ValueError(
            f"parameters do not fit a {config.kind} model with this config (missing {missing}, unexpected {extra}); "
            "build models with make_model or from_dataset"
        )
    if ensemble < 1:
        raise ValueError("no member seeds given; pass one seed per member")
    sizes = config.dim_sizes(ensemble)
    for name, names in dims.items():
        expected = tuple(sizes[d] for d in ("member", *names))
        if tuple(params[name].shape) != expected:
            raise ValueError(
                f"parameter {name} has shape {tuple(params[name].shape)}, expected {expected} "
                f"for dims {('member', *names)}; check the sizes in the config"
            )
    dtypes = {p.dtype for p in params.values()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
        raise ValueError(
            f"parameters must share one floating dtype, got {sorted(map(str, dtypes))}; convert them first"
        )
