"""The ensemble latent model: the one interface that training, analysis, parallel Newton and the app use.

Every kind is piecewise linear and written in the family's normal form (``dsr.kinds.normal_form``):

    z_t = A ⊙ z_{t−1} + V φ̄(U z_{t−1}) + h  (+ C s_t),

with a piecewise-linear φ̄ that in the linear region π (the boolean activation pattern) equals
φ̄(u) = ḡ(π) ⊙ u + c̄(π). In region π the step is the affine map

    z ↦ (diag(A) + V diag(ḡ(π)) U) z + V c̄(π) + h  (+ C s),

whose matrix is the Jacobian at every z in that region. A kind is data (``dsr.kinds.Kind``: its
parameters, initialisation and normal form); this class runs every kind's step, pattern, region maps
and Jacobian from its normal form, and ``dsr.models.registry`` makes one class per kind.

Shapes: parameters carry a leading member dim E (E independent members of one kind); states are
(E, *batch, M), data (E, *batch, N), inputs (E, *batch, K).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from dsr.kinds import Kind, NormalForm

from .config import SIZE_MEANINGS, ModelConfig
from .interpolation import interpolate
from .initializers import generator_for, glorot_uniform
from .io import to_dataset
from .observation import OBSERVATIONS, ObservationModel
from .tensors import matvec, per_member

_KIND_SIZES = ("hidden", "relus", "bases")
_KIND_OPTIONS = ("mean_centering",)


class LatentModel(nn.Module):
    """Ensemble of E latent models of one kind with an observation model (abstract; see module doc)."""

    kind: ClassVar[str]
    spec: ClassVar[Kind]  # the kind's definition (``dsr.kinds``)

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
            if name in cls.spec.size_fields and value == 0:
                raise ValueError(f"{cls.kind} needs {name} ({SIZE_MEANINGS[name]}); pass {name} >= 1")
            if name not in cls.spec.size_fields and value != 0:
                raise ValueError(f"{name} ({SIZE_MEANINGS[name]}) is not used by {cls.kind}; drop {name}")
        for name in _KIND_OPTIONS:
            if getattr(config, name) and name not in cls.spec.options:
                raise ValueError(f"{name} is not available for {cls.kind}; drop {name}")

    @classmethod
    def param_dims(cls, config: ModelConfig) -> dict[str, tuple[str, ...]]:
        """Named dims (without the member dim) of the dynamics parameters, C included."""
        dims = dict(cls.spec.dynamics_dims)
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
        params = cls.spec.init_dynamics(config, gen, data_range)
        if config.inputs:
            params["C"] = glorot_uniform((config.latent, config.inputs), gen)
        params.update(OBSERVATIONS[config.observation].init_member(config, gen))
        return params

    # ----- the normal form -----------------------------------------------------------------------

    def normal_form(self) -> NormalForm:
        """The kind's normal form of the current parameters (differentiable; ``dsr.kinds``)."""
        parameters = self._parameters  # the registered parameters by name (nn.Module's __getattr__ is slow)
        dynamics = {name: parameters[name] for name in self.spec.dynamics_dims}
        return self.spec.normal_form(dynamics, self.config.relus, self.config.mean_centering)

    @property
    def pattern_size(self) -> int:
        """Length of the activation pattern returned by ``pattern``."""
        return self._columns(self.normal_form()).pattern_size

    def _columns(self, nf: NormalForm) -> _Columns:
        """The normal form's column constants as tensors, made once per kind definition, config, dtype
        and device (a step asks for them at every call; an experiment's callback may swap ``spec``)."""
        A = nf.A
        cached = self.__dict__.get("_columns_cache")
        if cached is None or cached[0] is not self.spec or cached[1] is not self.config or cached[2] != (A.dtype, A.device):
            cached = (self.spec, self.config, (A.dtype, A.device), _Columns(nf, A))
            self.__dict__["_columns_cache"] = cached
        return cached[3]

    @staticmethod
    def _preactivation(nf: NormalForm, z: Tensor) -> Tensor:
        """u = U z (P pre-activations)."""
        return z if nf.U is None else matvec(nf.U, z)

    def _theta(self, nf: NormalForm, u: Tensor) -> Tensor | None:
        """θ per column, shaped to broadcast against u (grouped as (P, r) when r > 1)."""
        if nf.theta is None:
            return None
        return per_member(nf.theta.reshape(u.shape[0], -1, nf.group) if nf.group > 1 else nf.theta, u)

    def _activation(self, nf: NormalForm, u: Tensor) -> Tensor:
        """φ̄(u): each column's lin u + ramp [u + θ]_+ − clip [u]_+, weighted and summed per group."""
        cols, r = self._columns(nf), nf.group
        theta = self._theta(nf, u)
        x = u.unsqueeze(-1) if r > 1 else u
        if cols.switch is not None:  # every column linear or a ReLU at 0 (the AL-RNN): one selection
            return torch.where(cols.switch, torch.relu(x), x)
        phi = None
        if cols.lin_on:
            phi = x if cols.lin is None else cols.lin * x
        if cols.ramp_on:
            ramp = torch.relu(x if theta is None else x + theta)
            ramp = ramp if cols.ramp is None else cols.ramp * ramp
            phi = ramp if phi is None else phi + ramp
        if cols.clip_on:
            clip = torch.relu(x) if cols.clip is None else cols.clip * torch.relu(x)
            phi = -clip if phi is None else phi - clip
        if phi is None:
            phi = torch.zeros_like(x)
        return (per_member(nf.weights, u) * phi).sum(dim=-1) if r > 1 else phi

    def _pattern(self, nf: NormalForm, u: Tensor) -> Tensor:
        cols, r = self._columns(nf), nf.group
        theta = self._theta(nf, u)
        x = u.unsqueeze(-1) if r > 1 else u
        bits = []
        if cols.ramp_on:
            shifted = (x if theta is None else x + theta) > 0
            shifted = shifted.flatten(start_dim=-2) if r > 1 else shifted
            bits.append(shifted if cols.ramp_everywhere else shifted[..., cols.ramp_columns])
        if cols.clip_on:
            positive = (u > 0).repeat_interleave(r, dim=-1) if r > 1 else u > 0
            bits.append(positive if cols.clip_everywhere else positive[..., cols.clip_columns])
        return bits[0] if len(bits) == 1 else torch.cat(bits, dim=-1)

    def _slope_offset(self, nf: NormalForm, pattern: Tensor) -> tuple[Tensor, Tensor]:
        """(ḡ, c̄) with φ̄(u) = ḡ ⊙ u + c̄ in region ``pattern``, each (E, *batch, P)."""
        cols, r, dtype = self._columns(nf), nf.group, self.A.dtype
        columns = (*pattern.shape[:-1], nf.columns)

        def spread(bits: Tensor, everywhere: bool, where: Tensor) -> Tensor:
            bits = bits.to(dtype)
            if everywhere:
                return bits
            full = bits.new_zeros(columns)
            full[..., where] = bits
            return full

        n_ramp = cols.ramp_columns.shape[0]
        ramp_on = spread(pattern[..., :n_ramp], cols.ramp_everywhere, cols.ramp_columns)
        g = ramp_on if cols.ramp is None else cols.ramp * ramp_on
        if cols.lin_on:
            g = g + (1.0 if cols.lin is None else cols.lin)
        if cols.clip_on:
            clip_on = spread(pattern[..., n_ramp:], cols.clip_everywhere, cols.clip_columns)
            g = g - (clip_on if cols.clip is None else cols.clip * clip_on)
        if nf.theta is None:
            c = torch.zeros_like(g)
        else:
            shifted = ramp_on if cols.ramp is None else cols.ramp * ramp_on
            c = shifted * per_member(nf.theta, shifted)
        if r > 1:
            weights = per_member(nf.weights, pattern)
            g, c = (weights * g.unflatten(-1, (-1, r))).sum(dim=-1), (weights * c.unflatten(-1, (-1, r))).sum(dim=-1)
        return g, c

    def _coupling(self, nf: NormalForm, g: Tensor) -> Tensor:
        """V diag(ḡ) U, (E, *batch, M, M)."""
        if nf.U is None:
            return per_member(nf.V, g) * g.unsqueeze(-2)
        return torch.einsum("eml,e...l,elk->e...mk", nf.V, g, nf.U)

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
        nf = self.normal_form()
        z_next = per_member(nf.A, z) * z + matvec(nf.V, self._activation(nf, self._preactivation(nf, z))) + per_member(nf.h, z)
        return self._add_input(z_next, s)

    def pattern(self, z: Tensor) -> Tensor:
        """Boolean activation pattern naming the linear region of z: (E, *batch, pattern_size)."""
        nf = self.normal_form()
        return self._pattern(nf, self._preactivation(nf, z))

    def affine(self, pattern: Tensor, s: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The region's affine map (matrix (E, *batch, M, M), offset (E, *batch, M)).

        ``matrix @ z + offset == step(z, s)`` for every z with ``pattern(z) == pattern``.
        """
        nf = self.normal_form()
        g, c = self._slope_offset(nf, pattern)
        offset = matvec(nf.V, c) + per_member(nf.h, c)
        return self._region_matrix(nf, g), self._add_input(offset, s)

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """Analytic ∂F/∂z at z: (E, *batch, M, M) (the matrix of z's linear region).

        ``s`` is accepted so that every recurrent model's step and Jacobian take the same arguments
        (``dsr.parallel``); additive inputs do not change this Jacobian.
        """
        nf = self.normal_form()
        g, _ = self._slope_offset(nf, self._pattern(nf, self._preactivation(nf, z)))
        return self._region_matrix(nf, g)

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

    def _region_matrix(self, nf: NormalForm, g: Tensor) -> Tensor:
        return self._coupling(nf, g) + torch.diag_embed(per_member(nf.A, g))

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


class _Columns:
    """A normal form's column constants (lin, ramp, clip) as tensors, and which terms and bits exist.

    Coefficients that are 1 on every column are None (no product); ``switch`` is set when every column
    is either linear (lin 1) or a ReLU at 0 (ramp 1, no θ, no clip), where φ is one selection.
    """

    def __init__(self, nf: NormalForm, like: Tensor) -> None:
        lin, ramp, clip, r = nf.lin, nf.ramp, nf.clip, nf.group

        def tensor(values: np.ndarray) -> Tensor | None:
            if (values == 1.0).all():
                return None
            return like.new_tensor(values.reshape(-1, r) if r > 1 else values)

        self.lin_on, self.ramp_on, self.clip_on = bool(lin.any()), bool(ramp.any()), bool(clip.any())
        self.lin, self.ramp, self.clip = tensor(lin), tensor(ramp), tensor(clip)
        self.ramp_everywhere, self.clip_everywhere = bool(ramp.all()), bool(clip.all())
        self.ramp_columns = torch.as_tensor(nf.ramp_columns, device=like.device)
        self.clip_columns = torch.as_tensor(nf.clip_columns, device=like.device)
        self.pattern_size = nf.pattern_size
        binary = np.isin(lin, (0.0, 1.0)).all() and np.isin(ramp, (0.0, 1.0)).all()
        selection = binary and r == 1 and nf.theta is None and not self.clip_on and (lin + ramp == 1.0).all()
        self.switch = torch.as_tensor(ramp == 1.0, device=like.device) if selection else None


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
