"""The normal form every PLRNN-family kind is written in, and what defines a kind.

Normal form (Hess et al., ICML 2023, §3 and Brenner et al., NeurIPS 2024, §3 write every member of
the family this way; Durstewitz 2017 for the PLRNN):

    z_t = A ⊙ z_{t−1} + V φ̄(u) + h  (+ C s_t),      u = U z_{t−1}  (P pre-activations; U = I: P = M),

with H = r·P *columns* in groups of r per pre-activation, column j reading u_k, k = ⌊j/r⌋:

    φ_j(u_k) = lin_j u_k + ramp_j [u_k + θ_j]_+ − clip_j [u_k]_+,        φ̄_k = Σ_{j in group k} w_j φ_j

(w_j = 1 when r = 1). lin, ramp and clip are constants of the kind; A, V, U, θ, h and w are (functions
of) its parameters. The region pattern of z is the sign of every ramp (u_k + θ_j > 0, columns with
ramp_j ≠ 0, in column order) followed by every clip (u_k > 0, columns with clip_j ≠ 0); in a region
φ_j = g_j u_k + c_j with g_j = lin_j + ramp_j π_j − clip_j π'_j and c_j = ramp_j θ_j π_j, so the step
is affine there with matrix diag(A) + V diag(ḡ) U, ḡ_k = Σ_j w_j g_j, which is also its Jacobian.

Every engine consumes this form: the torch model (``dsr.models.LatentModel``), the fused CPU and
CUDA training kernels and aGTF's norm kernel (``dsr.training.fused``: the columns become the kernel's
units), and the Numba analysis face (``dsr.analysis.pwl``: P units with one bit per ramp or clip).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import Array


@dataclass(slots=True)  # not frozen: a torch step builds one per call, and frozen fields cost time to set
class NormalForm:
    """One ensemble's normal form (module doc); arrays lead with the member dim E."""

    A: Array  # (E, M)
    V: Array  # (E, M, P)
    U: Array | None  # (E, P, M); None: U = I
    theta: Array | None  # (E, H): θ; None: 0
    h: Array  # (E, M)
    lin: np.ndarray  # (H,) constants
    ramp: np.ndarray  # (H,)
    clip: np.ndarray  # (H,)
    group: int = 1  # r: columns per pre-activation
    weights: Array | None = None  # (E, P, r): w; None: 1

    @property
    def columns(self) -> int:
        """H, the number of columns."""
        return self.lin.shape[0]

    @property
    def ramp_columns(self) -> np.ndarray:
        """Columns with a ramp, in the order of their pattern bits."""
        return np.flatnonzero(self.ramp)

    @property
    def clip_columns(self) -> np.ndarray:
        """Columns with a clip, in the order of their pattern bits (after the ramps')."""
        return np.flatnonzero(self.clip)

    @property
    def pattern_size(self) -> int:
        return int(np.count_nonzero(self.ramp) + np.count_nonzero(self.clip))


Trained = tuple[tuple[str | None, str], ...]
"""For the compiled epochs (``dsr.training.fused_epoch``): the parameter behind each of the normal form's
A, V, Uᵀ, θ, h and w (None where the entry is not a parameter) and how the entry holds it: ``""`` as it
is, ``"T"`` transposed (Uᵀ = W₂ᵀ), ``"-"`` negated and flattened to the entry's shape (θ = −H), or
``"shared"``: one row of weights for every pre-activation (w_k = α)."""


@dataclass(frozen=True)
class Kind:
    """A PLRNN-family kind as data: its parameters, their initialisation and its normal form.

    ``normal_form(params, relus, mean_centering)`` maps the parameter arrays (numpy or torch, member
    dim first, by their run-store names) to the :class:`NormalForm`, differentiably for torch;
    ``init_dynamics(config, gen, data_range)`` draws one member's dynamics parameters (float64 torch
    tensors, no member dim) from a torch generator. ``trained`` maps the normal form's entries to the
    parameters (None: whole epochs do not run compiled). ``offdiagonal``: W's diagonal is masked out of
    the maths (it gets no gradient and stays at its initial 0).
    """

    name: str
    dynamics_dims: Mapping[str, tuple[str, ...]]
    normal_form: Callable[[Mapping[str, Array], int, bool], NormalForm]
    init_dynamics: Callable[[Any, Any, tuple[float, float] | None], dict]
    size_fields: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    trained: Trained | None = None
    offdiagonal: bool = False
