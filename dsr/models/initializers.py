"""Parameter initialisations of the Durstewitz-lab code, and the seeds of ensemble members.

Every draw comes from one member's own ``torch.Generator`` and is made in float64 on the CPU, so a
member depends only on its seed (not on the ensemble around it, the dtype or the device).
Sources: the code of Hess et al., ICML 2023, GTF-shPLRNN ``src/models/initialization.jl``, ``src/models/affine.jl``;
ALRNN-DSR ``initialization.jl``; Flux's ``glorot_uniform`` / ``kaiming_normal``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import torch
from torch import Tensor

_F64 = torch.float64
_SEED_LIMIT = 2**63  # seeds are stored as an int64 coordinate


def normalized_positive_definite(m: int, gen: torch.Generator) -> Tensor:
    """Talathi & Vartak (2016): R ~ N(0,1)^{M×M}, K = RᵀR/M + I, K / max|eig(K)| (so 0 < K_ii ≤ 1)."""
    r = torch.randn(m, m, generator=gen, dtype=_F64)
    k = r.T @ r / m + torch.eye(m, dtype=_F64)
    # K is symmetric positive definite: its largest |eigenvalue| is the largest eigenvalue.
    return k / torch.linalg.eigvalsh(k)[-1]


def uniform(shape: tuple[int, ...], low: float, high: float, gen: torch.Generator) -> Tensor:
    """U(low, high) entrywise."""
    return low + (high - low) * torch.rand(shape, generator=gen, dtype=_F64)


def uniform_fan_in(shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """The lab's ``uniform_init``: U(±1/√shape[-1])."""
    bound = 1 / math.sqrt(shape[-1])
    return uniform(shape, -bound, bound, gen)


def glorot_uniform(shape: tuple[int, int], gen: torch.Generator) -> Tensor:
    """Flux ``glorot_uniform(out, in)``: U(±√(6 / (out + in)))."""
    bound = math.sqrt(6 / (shape[0] + shape[1]))
    return uniform(shape, -bound, bound, gen)


def kaiming_normal(shape: tuple[int, int], gen: torch.Generator) -> Tensor:
    """Flux ``kaiming_normal(out, in)``: N(0, 2 / in)."""
    return normal(shape, math.sqrt(2 / shape[1]), gen)


def normal(shape: tuple[int, ...], std: float, gen: torch.Generator) -> Tensor:
    """N(0, std²) entrywise."""
    return std * torch.randn(shape, generator=gen, dtype=_F64)


def member_seeds(
    ensemble: int | None,
    seeds: int | Sequence[int] | None,
    generator: torch.Generator | None,
) -> list[int]:
    """The seed of each ensemble member.

    - ``seeds`` a sequence: one seed per member (``ensemble``, if given, must equal its length);
    - ``seeds`` an int s: members get s, s+1, ..., s+E−1;
    - ``generator``: E seeds drawn from it; neither: E seeds drawn from torch's global generator.
    Member e built from seed s_e equals the single model built with ``seeds=[s_e]``.
    """
    if ensemble is not None and (not isinstance(ensemble, Integral) or isinstance(ensemble, bool) or ensemble < 1):
        raise ValueError(
            f"ensemble must be a positive integer (the number E of members), got {ensemble!r}; pass ensemble >= 1"
        )
    if seeds is not None and generator is not None:
        raise ValueError("both seeds and generator given; pass only one of them")
    if isinstance(seeds, Integral) and not isinstance(seeds, bool):
        result = [int(seeds) + e for e in range(ensemble or 1)]
    elif seeds is not None:
        result = list(seeds)
        if ensemble is not None and len(result) != ensemble:
            raise ValueError(f"got {len(result)} seeds for ensemble={ensemble}; pass one seed per member")
        if not result:
            raise ValueError("seeds is empty; pass one seed per member")
    else:
        result = torch.randint(0, 2**31 - 1, (ensemble or 1,), generator=generator).tolist()
    for s in result:
        if not isinstance(s, Integral) or isinstance(s, bool) or not 0 <= s < _SEED_LIMIT:
            raise ValueError(f"seed {s!r} is not an integer in [0, 2**63); pass non-negative integer seeds")
    return [int(s) for s in result]


def generator_for(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)
