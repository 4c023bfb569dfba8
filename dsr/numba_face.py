"""The Numba face of a trained model: one member's parameters as a `dsr.analysis.pwl.PWLModel` (no torch).

A model kind has two faces (design.md): the torch module for training and the Numba face (step,
Jacobian, region pattern, region affine map) that analysis, fast free runs and the app use on
parameters read from a run store. Both are built from the parameter Dataset of
``dsr.models.to_dataset``; ``tests/test_analyze.py`` checks that they agree for every kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from dsr.errors import DsrError


def member_arrays(ds: xr.Dataset, member: int) -> dict[str, np.ndarray]:
    """The float64 parameter arrays of one ensemble member, by their dataset names."""
    return {name: np.asarray(ds[name].isel(member=member).values, dtype=np.float64) for name in ds.data_vars}


def numba_face(ds: xr.Dataset, member: int = 0) -> Any:
    """The Numba face (`dsr.analysis.pwl.PWLModel`) of one member of a parameter Dataset.

    ``ds`` is a checkpoint as written by ``dsr.models.to_dataset`` (a run's ``params/<name>``);
    the kind, P and the mean-centring flag come from its attrs. One-line DsrError for a kind
    that is not piecewise linear, a member out of range, or inconsistent parameters.
    """
    from dsr.analysis import pwl

    kind = str(ds.attrs.get("model_kind"))
    if kind not in pwl.KINDS:
        raise DsrError(
            f"model kind {kind!r} is not piecewise linear: fixed points, cycles and regions need one of {', '.join(pwl.KINDS)}"
        )
    members = int(ds.sizes.get("member", 1))
    if not 0 <= member < members:
        raise DsrError(f"--member {member} is out of range: the ensemble has members 0..{members - 1}")
    arrays = member_arrays(ds, member)
    try:
        return pwl.from_params(kind, arrays, relus=int(ds.attrs.get("relus", 0)), mean_centering=bool(ds.attrs.get("mean_centering", False)))
    except ValueError as err:
        raise DsrError(f"model parameters: {err}") from None


def normal_form_faces(nf: Any, kind: str) -> list[Any]:
    """The Numba face of every member of a normal form (``dsr.kinds.NormalForm``, numpy or torch arrays).

    Built from the model's own normal form (``LatentModel.normal_form``), so that a free run follows
    exactly the maths the model trains with (also where an experiment changed it), without the round
    trip through a parameter Dataset.
    """
    from dataclasses import fields, replace

    from dsr.analysis import pwl

    def member(value: Any, e: int) -> Any:
        if value is None or isinstance(value, np.ndarray) and value.ndim == 1:
            return value  # absent, or a column constant
        value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
        return np.asarray(value[e : e + 1], dtype=np.float64)

    arrays = [f.name for f in fields(nf) if f.name not in ("lin", "ramp", "clip", "group")]
    return [
        pwl.PWLModel(kind, pwl.from_normal_form(replace(nf, **{n: member(getattr(nf, n), e) for n in arrays})))
        for e in range(nf.A.shape[0])
    ]
